"""``sfsync db upgrade`` and ``sfsync db current``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.store.cli import app
from sfsync.store.db import current_revision, head_revision

runner = CliRunner()


def test_upgrade_migrates_the_database_given_by_url(store_url: str) -> None:
    result = runner.invoke(app, ["upgrade", "--url", store_url])

    assert result.exit_code == 0, result.output
    assert current_revision(store_url) == head_revision()
    assert f"revision {head_revision()}" in result.output


def test_url_falls_back_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("SFSYNC_STORE__URL", url)

    result = runner.invoke(app, ["upgrade"])

    assert result.exit_code == 0, result.output
    assert current_revision(url) == head_revision()


def test_current_reports_a_store_that_needs_upgrading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    behind = runner.invoke(app, ["current", "--url", url])
    assert not (tmp_path / "fresh.db").exists()  # asking did not create an empty store
    runner.invoke(app, ["upgrade", "--url", url])
    current = runner.invoke(app, ["current", "--url", url])

    assert behind.exit_code == 1
    assert "revision none" in behind.output
    assert "sfsync db upgrade" in behind.output
    assert current.exit_code == 0
    assert f"revision {head_revision()} (up to date)" in current.output


def test_bad_url_exits_with_the_reason_and_no_password_shown() -> None:
    result = runner.invoke(app, ["upgrade", "--url", "mysql://app:s3cret@db/x"])

    assert result.exit_code == 2
    assert "supports sqlite and postgresql" in result.output
    assert "s3cret" not in result.output
