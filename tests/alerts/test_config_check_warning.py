"""``sfsync config check`` warns (exit 0) when escalations would run with no alert channel."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync.logs import clear_registered_secrets
from sfsync.settings import run_config_check

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def sfsync_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the repository's config/ (no alert channel), with no stray SFSYNC_ variables."""
    for name in list(os.environ):
        if name.upper().startswith("SFSYNC_"):
            monkeypatch.delenv(name)
    for name in ("sfsync.yaml", "policy.yaml"):
        shutil.copy(REPO_CONFIG / name, tmp_path / name)
    return tmp_path / "sfsync.yaml"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The webhook URL registered as a secret must not leak into other tests' redaction."""
    yield
    clear_registered_secrets()


def test_no_alert_channel_is_a_warning_not_a_failure(
    sfsync_yaml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_config_check(sfsync_yaml)

    captured = capsys.readouterr()
    assert status == 0
    assert captured.out.startswith("config OK (")
    assert "warning: escalation levels (manager, legal)" in captured.err
    assert "no manager alerted; configure alerts.smtp/slack/teams" in captured.err


def test_a_configured_channel_silences_the_warning(
    sfsync_yaml: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SFSYNC_ALERTS__SLACK__WEBHOOK_URL", "https://hooks.example.com/T0/B0/x")

    status = run_config_check(sfsync_yaml)

    captured = capsys.readouterr()
    assert (status, captured.err) == (0, "")
