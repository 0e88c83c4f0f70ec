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


def test_url_comes_from_the_secret_file_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'secret.db'}"
    secret = tmp_path / "store_url"
    secret.write_text(url + "\n", encoding="utf-8")  # as Docker secrets are often written
    monkeypatch.delenv("SFSYNC_STORE__URL", raising=False)
    monkeypatch.setenv("SFSYNC_STORE__URL_FILE", str(secret))

    result = runner.invoke(app, ["upgrade"])

    assert result.exit_code == 0, result.output
    assert current_revision(url) == head_revision()


def test_a_missing_secret_file_exits_naming_the_variable_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SFSYNC_STORE__URL", raising=False)
    monkeypatch.setenv("SFSYNC_STORE__URL_FILE", str(tmp_path / "absent"))

    result = runner.invoke(app, ["upgrade"])

    assert result.exit_code == 2
    assert "SFSYNC_STORE__URL_FILE" in result.output
    assert "does not exist" in result.output
    assert list(tmp_path.iterdir()) == []  # no default SQLite store was made instead


def test_both_the_url_and_its_file_set_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "store_url"
    secret.write_text(f"sqlite:///{tmp_path / 'a.db'}", encoding="utf-8")
    monkeypatch.setenv("SFSYNC_STORE__URL", f"sqlite:///{tmp_path / 'b.db'}")
    monkeypatch.setenv("SFSYNC_STORE__URL_FILE", str(secret))

    result = runner.invoke(app, ["upgrade"])

    assert result.exit_code == 2
    assert "both SFSYNC_STORE__URL and SFSYNC_STORE__URL_FILE are set" in result.output
