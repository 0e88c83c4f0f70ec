"""``sfsync writeback --once`` on the embedded default (local org, demo ledger)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.cli import app
from tests.writeback.conftest import CONFIG

pytestmark = pytest.mark.org


def test_writeback_once_reads_back_then_syncs_and_prints_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    result = CliRunner().invoke(
        app, ["writeback", "--once", "--config", str(config / "sfsync.yaml")]
    )

    assert result.exit_code == 0, result.output
    assert "writeback run 1" in result.output
    assert "outcomes recorded" in result.output
    assert "sync run 2 (demo): succeeded" in result.output
    assert (tmp_path / "var" / "sfsync.db").exists()
