"""``sfsync config check``: sfsync.yaml, policy.yaml and mappings.yaml, every problem at once."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from sfsync.settings import collect_config_problems, print_problems, run_config_check


def replace_line(path: Path, old: str, new: str) -> None:
    """Edit one line of a copied config file (failing if ``old`` is not there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_number(path: Path, fragment: str) -> int:
    """The 1-based line of ``path`` that contains ``fragment``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in {path}")


def test_repository_config_is_ok(repo_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_config_check(repo_config / "sfsync.yaml")

    assert status == 0
    out = capsys.readouterr().out
    assert out.startswith("config OK (")
    assert "policy.yaml" in out


def test_problems_in_all_files_are_reported_together(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    policy_yaml = config_dir / "policy.yaml"
    replace_line(sfsync_yaml, "  batch_size: 200", "  batch_sise: 200")
    replace_line(policy_yaml, "min_balance:", "min_balanse:")
    (config_dir / "mappings.yaml").write_text("case:\n  sobject: [unclosed\n", encoding="utf-8")

    status = run_config_check(sfsync_yaml)

    assert status == 1
    out = capsys.readouterr().out
    assert out.startswith("3 configuration problems:")
    batch_line = line_number(sfsync_yaml, "batch_sise")
    assert f"{sfsync_yaml}:{batch_line}  salesforce.batch_sise" in out
    assert "fix: rename it to salesforce.batch_size" in out
    balance_line = line_number(policy_yaml, "min_balanse")
    assert f"{policy_yaml}:{balance_line}  cadence.min_balanse" in out
    assert "did you mean cadence.min_balance?" in out
    assert re.search(rf"{config_dir / 'mappings.yaml'}:\d+  \(syntax\)", out)


def test_policy_errors_use_the_policy_models_own_fixes(config_dir: Path) -> None:
    policy_yaml = config_dir / "policy.yaml"
    text = policy_yaml.read_text(encoding="utf-8")
    policy_yaml.write_text(text.replace("offset_days: 7", "offset_days: 1", 1), encoding="utf-8")

    problems = collect_config_problems(config_dir / "sfsync.yaml")

    assert problems, "a repeated offset must be reported"
    assert all(problem.file == str(policy_yaml) for problem in problems)
    assert all(problem.line is not None and problem.fix for problem in problems)
    assert any("strictly increasing offset_days" in problem.message for problem in problems)
    assert not any(problem.message.startswith("Value error") for problem in problems)


def test_missing_policy_file_is_a_problem(config_dir: Path) -> None:
    (config_dir / "policy.yaml").unlink()

    (problem,) = collect_config_problems(config_dir / "sfsync.yaml")

    assert problem.file == str(config_dir / "policy.yaml")
    assert problem.message == "file not found"


def test_printed_list_is_plain_text_without_markup(config_dir: Path) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    replace_line(sfsync_yaml, "  level: INFO", "  level: '[bold]loud'")
    stream = io.StringIO()

    print_problems(collect_config_problems(sfsync_yaml), stream)

    text = stream.getvalue()
    assert "logging.level" in text
    assert "\x1b[" not in text
    assert "fix: set logging.level to one of 'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in text


def test_policy_typo_inside_a_list_item_gets_a_suggestion(config_dir: Path) -> None:
    policy_yaml = config_dir / "policy.yaml"
    replace_line(policy_yaml, "      channel: email", "      chanel: email")
    typo_line = line_number(policy_yaml, "chanel")

    found = collect_config_problems(config_dir / "sfsync.yaml")
    problems = {problem.key: problem for problem in found}

    typo = problems["cadence.steps.0.chanel"]
    assert (typo.line, typo.fix) == (typo_line, "rename it to cadence.steps.0.channel")
    assert problems["cadence.steps.0.channel"].fix == "add cadence.steps.0.channel to policy.yaml"
    assert len(found) == 2


def test_a_scalar_where_a_list_belongs_says_so(config_dir: Path) -> None:
    (config_dir / "policy.yaml").write_text("cadence:\n  steps: 5\n", encoding="utf-8")

    problems = {p.key: p for p in collect_config_problems(config_dir / "sfsync.yaml")}

    steps = problems["cadence.steps"]
    assert (steps.line, steps.message) == (2, "expected a list")
    assert steps.fix == "write cadence.steps as a list, one '- ' line per item"


def test_mappings_are_checked_offline(config_dir: Path, repo_config: Path) -> None:
    mappings = config_dir / "mappings.yaml"
    shutil.copy(repo_config / "mappings.yaml", mappings)
    assert collect_config_problems(config_dir / "sfsync.yaml") == []
    replace_line(mappings, "transforms: [round_money]", "transforms: [round_mony]")

    problems = collect_config_problems(config_dir / "sfsync.yaml")

    assert problems
    assert all(problem.file == str(mappings) for problem in problems)
    assert any("round_mony" in problem.message for problem in problems)
    assert all(problem.line == line_number(mappings, "round_mony") for problem in problems)


def test_jobs_problems_are_reported_with_the_rest_each_with_its_key(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    replace_line(sfsync_yaml, "  batch_size: 200", "  batch_sise: 200")
    replace_line(sfsync_yaml, "  task_time_limit_seconds: 1800", "  task_time_limit_seconds: 4000")
    monkeypatch.setenv("SFSYNC_JOBS__LEASE_RETRY_MAX", "many")

    problems = {problem.key: problem for problem in collect_config_problems(sfsync_yaml)}

    assert "salesforce.batch_sise" in problems
    assert problems["SFSYNC_JOBS__LEASE_RETRY_MAX"].file == "environment"
    assert len(problems) == 2  # a bad value hides the cross-key rules until it is fixed

    monkeypatch.delenv("SFSYNC_JOBS__LEASE_RETRY_MAX")
    problems = {problem.key: problem for problem in collect_config_problems(sfsync_yaml)}

    limit = problems["jobs.task_time_limit_seconds"]
    assert limit.line == line_number(sfsync_yaml, "task_time_limit_seconds: 4000")
    assert limit.message == (
        "jobs.task_time_limit_seconds (4000s) must be below jobs.visibility_timeout_seconds "
        "(3600s), or Redis delivers the task twice"
    )
    assert "raise jobs.visibility_timeout_seconds" in limit.fix
    assert set(problems) == {"salesforce.batch_sise", "jobs.task_time_limit_seconds"}


def test_a_soft_limit_not_below_the_hard_one_is_a_problem(config_dir: Path) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    replace_line(
        sfsync_yaml, "  task_soft_time_limit_seconds: 1700", "  task_soft_time_limit_seconds: 1800"
    )

    [problem] = collect_config_problems(sfsync_yaml)

    assert problem.key == "jobs.task_soft_time_limit_seconds"
    assert "must be below jobs.task_time_limit_seconds" in problem.message
