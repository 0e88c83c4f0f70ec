"""The cycle and escalation are wired alike: a policy that cannot be read stops either job
before the store is created or the org is called."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from sfsync.clock import FixedClock
from sfsync.errors import ConfigError
from sfsync.escalate import open_escalation
from sfsync.runner import open_cycle
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.settings import Settings, StoreSettings
from tests.escalate.conftest import T0

Opener = Callable[..., AbstractContextManager[Any]]


@pytest.mark.parametrize("open_job", [open_cycle, open_escalation], ids=["cycle", "escalation"])
def test_an_unreadable_policy_stops_the_job_before_the_store_or_the_org(
    tmp_path: Path, open_job: Opener
) -> None:
    (tmp_path / "sfsync.yaml").write_text("{}\n", encoding="utf-8")
    (tmp_path / "policy.yaml").write_text("cadence: [unclosed\n", encoding="utf-8")
    store = tmp_path / "store.db"
    settings = Settings(store=StoreSettings(url=f"sqlite:///{store}"))
    opened: list[str] = []

    @contextmanager
    def opener() -> Iterator[SalesforceGateway]:
        opened.append("org")
        raise AssertionError("the org must not be called")
        yield  # pragma: no cover - never reached

    with (
        pytest.raises(ConfigError, match=r"policy\.yaml cannot be used.*sfsync config check"),
        open_job(settings, tmp_path / "sfsync.yaml", FixedClock(T0), opener),
    ):
        pass

    assert not store.exists()
    assert opened == []
