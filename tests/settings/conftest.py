"""Isolation for settings and logging tests: no stray SFSYNC_ variables, logging restored."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfsync.logs import clear_registered_secrets, reset_logging

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO_CONFIG = REPO_ROOT / "config"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the SFSYNC_ variables it sets itself."""
    for name in list(os.environ):
        if name.upper().startswith("SFSYNC_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Undo configure_logging and forget registered secrets after each test."""
    yield
    reset_logging()
    clear_registered_secrets()


@pytest.fixture
def repo_config() -> Path:
    """The repository's own config/ directory (read only)."""
    return REPO_CONFIG


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the repository's config/ that a test may edit."""
    target = tmp_path / "config"
    target.mkdir()
    shutil.copy(REPO_CONFIG / "sfsync.yaml", target / "sfsync.yaml")
    shutil.copy(REPO_CONFIG / "policy.yaml", target / "policy.yaml")
    return target
