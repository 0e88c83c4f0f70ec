"""Mapping test helpers: the repository's mappings.yaml, a writer for broken variants, and the
describe replies of the local org fetched over HTTPS with simple-salesforce."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce

from sfsync.logs import clear_registered_secrets, reset_logging
from sfsync.mappers.spec import LoadedMappings, load_mappings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
SHIPPED_MAPPINGS = REPO_CONFIG / "mappings.yaml"
ORG_OBJECTS = ("Account", "Case", "Task", "AR_Invoice__c", "FeedItem")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees only the SFSYNC_ variables it sets; logging is restored afterwards."""
    for name in list(os.environ):
        if name.upper().startswith("SFSYNC_"):
            monkeypatch.delenv(name)
    yield
    reset_logging()
    clear_registered_secrets()


@pytest.fixture
def shipped() -> LoadedMappings:
    """config/mappings.yaml as shipped."""
    return load_mappings(SHIPPED_MAPPINGS)


WriteMappings = Callable[[str], Path]


@pytest.fixture
def write_mappings(tmp_path: Path) -> WriteMappings:
    """Write a mappings.yaml (dedented) into a fresh directory and return its path."""

    def write(text: str) -> Path:
        path = tmp_path / "mappings.yaml"
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def describes(sf: Salesforce) -> dict[str, dict[str, Any]]:
    """The local org's describe of every object sfsync uses, as simple-salesforce returns it."""
    return {name: dict(getattr(sf, name).describe()) for name in ORG_OBJECTS}


@pytest.fixture
def visible(sf: Salesforce) -> list[str]:
    """Object names the integration user sees (describe global)."""
    return [str(entry["name"]) for entry in sf.describe()["sobjects"]]
