"""``sfsync worker`` and ``sfsync beat`` refuse to start on a configuration that cannot work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.cli import app
from tests.fixtures.services import free_port

CONFIG = Path(__file__).resolve().parents[2] / "config" / "sfsync.yaml"


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_without_a_broker_nothing_starts(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SFSYNC_REDIS__URL", raising=False)

    result = CliRunner().invoke(app, [command, "--config", str(CONFIG)])

    assert result.exit_code == 2
    assert "redis.url is not set" in result.output


def test_a_bad_jobs_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFSYNC_REDIS__URL", "redis://127.0.0.1:6399/0")
    monkeypatch.setenv("SFSYNC_JOBS__SHARDS", "zero")

    result = CliRunner().invoke(app, ["worker", "--config", str(CONFIG)])

    assert result.exit_code == 2
    assert "SFSYNC_JOBS__SHARDS" in result.output


def test_a_time_limit_at_the_visibility_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SFSYNC_REDIS__URL", "redis://127.0.0.1:6399/0")
    monkeypatch.setenv("SFSYNC_JOBS__VISIBILITY_TIMEOUT_SECONDS", "900")

    result = CliRunner().invoke(app, ["beat", "--config", str(CONFIG)])

    assert result.exit_code == 2
    assert "jobs.task_time_limit_seconds (1800s) must be below" in result.output
    assert "Redis delivers the task twice" in result.output


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_a_sqlite_store_is_refused_with_its_fix(command: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SFSYNC_")}
    env["SFSYNC_REDIS__URL"] = f"redis://127.0.0.1:{free_port()}/0"
    env["SFSYNC_STORE__URL"] = f"sqlite:///{tmp_path / 'store.db'}"
    env["SFSYNC_CONFIG"] = str(CONFIG)
    sfsync = Path(sys.executable).with_name("sfsync")

    # A subprocess: a worker that wrongly starts keeps retrying its broker until the timeout.
    result = subprocess.run(
        [str(sfsync), command, "--config", str(CONFIG)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "distributed mode (sfsync worker / beat) needs PostgreSQL" in output
    assert "postgresql:// URL" in output


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_the_config_option_is_the_one_checked_from_any_directory(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config names the file every check reads, wherever the command is started."""
    monkeypatch.delenv("SFSYNC_CONFIG", raising=False)
    monkeypatch.setenv("SFSYNC_REDIS__URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setenv("SFSYNC_STORE__URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, [command, "--config", str(CONFIG)])

    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output
    assert "not found" not in result.output
