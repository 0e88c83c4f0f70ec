"""The ``sfsync`` command line: version, logging options, config commands, ConfigError → exit 2."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sfsync import __version__
from sfsync.cli import ConfigErrorReportingGroup, app
from sfsync.errors import ConfigError
from sfsync.logs import REDACTED, get_logger


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version_is_shown(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout.strip() == f"sfsync {__version__}"


def test_config_check_passes_on_the_repository_config(runner: CliRunner, repo_config: Path) -> None:
    result = runner.invoke(app, ["config", "check", "--config", str(repo_config / "sfsync.yaml")])

    assert result.exit_code == 0, result.output
    assert "config OK" in result.stdout


def test_config_check_lists_problems_and_exits_1(runner: CliRunner, config_dir: Path) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    sfsync_yaml.write_text(
        sfsync_yaml.read_text(encoding="utf-8") + "\nsalesforse:\n  auth: jwt\n", encoding="utf-8"
    )

    result = runner.invoke(app, ["config", "check", "-c", str(sfsync_yaml)])

    assert result.exit_code == 1
    assert "1 configuration problem:" in result.stdout
    assert "unknown key; did you mean salesforce?" in result.stdout


def test_config_check_uses_sfsync_config_variable(
    runner: CliRunner, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (config_dir / "policy.yaml").unlink()
    monkeypatch.setenv("SFSYNC_CONFIG", str(config_dir / "sfsync.yaml"))

    result = runner.invoke(app, ["config", "check"])

    assert result.exit_code == 1
    assert f"{config_dir / 'policy.yaml'}  (file)" in result.stdout


def test_config_show_prints_effective_settings_with_secrets_masked(
    runner: CliRunner, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFSYNC_SALESFORCE__CLIENT_SECRET", "cs-0123456789")
    monkeypatch.setenv("SFSYNC_STORE__URL", "postgresql+psycopg://ar:db-pass-42@127.0.0.1/ar")
    monkeypatch.setenv("SFSYNC_SYNC__OVERLAP_SECONDS", "900")

    result = runner.invoke(app, ["config", "show", "-c", str(config_dir / "sfsync.yaml")])

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["sync"]["overlap_seconds"] == 900
    assert shown["salesforce"]["client_secret"] == REDACTED
    assert shown["store"]["url"] == "postgresql+psycopg://ar:[REDACTED]@127.0.0.1/ar"
    assert "cs-0123456789" not in result.output
    assert "db-pass-42" not in result.output


def test_config_error_exits_2_with_the_problem_list(
    runner: CliRunner, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    sfsync_yaml.write_text("salesforce:\n  client_secret: in-yaml-secret\n", encoding="utf-8")
    monkeypatch.setenv("SFSYNC_SYNC__INTERVAL_SECONDS", "soon")

    result = runner.invoke(app, ["config", "show", "-c", str(sfsync_yaml)])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "2 configuration problems:" in result.stderr
    assert "SFSYNC_SALESFORCE__CLIENT_SECRET_FILE" in result.stderr
    assert "environment  SFSYNC_SYNC__INTERVAL_SECONDS" in result.stderr
    assert "in-yaml-secret" not in result.output
    assert "Traceback" not in result.output


def test_log_options_configure_logging_for_the_command(
    runner: CliRunner, repo_config: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "--log-level",
            "debug",
            "--log-format",
            "json",
            "config",
            "check",
            "-c",
            str(repo_config / "sfsync.yaml"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert logging.getLogger().getEffectiveLevel() == logging.DEBUG
    assert get_logger("sfsync.cli").is_enabled_for(logging.DEBUG)


def test_log_options_are_validated(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--log-format", "xml", "config", "check"])

    assert result.exit_code == 2
    assert "Invalid value for '--log-format'" in result.output
    assert "auto, json, console" in " ".join(result.output.replace("│", " ").split())


def test_log_level_comes_from_the_environment(
    runner: CliRunner, repo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFSYNC_LOGGING__LEVEL", "warning")

    result = runner.invoke(app, ["config", "check", "-c", str(repo_config / "sfsync.yaml")])

    assert result.exit_code == 0, result.output
    assert logging.getLogger().getEffectiveLevel() == logging.WARNING


def test_logging_section_of_sfsync_yaml_applies_unless_an_option_chose(
    runner: CliRunner, config_dir: Path
) -> None:
    sfsync_yaml = config_dir / "sfsync.yaml"
    text = sfsync_yaml.read_text(encoding="utf-8")
    sfsync_yaml.write_text(text.replace("  level: INFO", "  level: ERROR"), encoding="utf-8")

    from_file = runner.invoke(app, ["config", "show", "-c", str(sfsync_yaml)])
    assert from_file.exit_code == 0, from_file.output
    assert logging.getLogger().getEffectiveLevel() == logging.ERROR

    from_option = runner.invoke(
        app, ["--log-level", "info", "config", "show", "-c", str(sfsync_yaml)]
    )
    assert from_option.exit_code == 0, from_option.output
    assert logging.getLogger().getEffectiveLevel() == logging.INFO


def test_command_logs_reach_stderr_without_secrets(
    runner: CliRunner, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFSYNC_STORE__URL", "postgresql+psycopg://ar:db-pass-42@127.0.0.1/ar")

    options = ["--log-level", "debug", "--log-format", "json"]
    command = ["config", "show", "-c", str(config_dir / "sfsync.yaml")]

    result = runner.invoke(app, [*options, *command])

    assert result.exit_code == 0, result.output
    (line,) = (line for line in result.stderr.splitlines() if "settings_loaded" in line)
    event = json.loads(line)
    assert event["store_url"] == "postgresql+psycopg://ar:[REDACTED]@127.0.0.1/ar"
    assert event["level"] == "debug"
    assert "db-pass-42" not in result.output


def test_any_config_error_exits_2_with_its_message_secrets_masked(runner: CliRunner) -> None:
    other = typer.Typer(cls=ConfigErrorReportingGroup)

    @other.command()
    def connect() -> None:
        raise ConfigError("org refused https://sfsync:hunter2@acme.my.salesforce.com: no My Domain")

    @other.command()
    def noop() -> None:
        """A second command, so the group dispatches by name."""

    result = runner.invoke(other, ["connect"])

    assert result.exit_code == 2
    assert result.stderr == (
        "configuration error: org refused https://sfsync:[REDACTED]@acme.my.salesforce.com: "
        "no My Domain\n"
    )
