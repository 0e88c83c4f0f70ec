"""Closure uses the org's own closed Case status (from CaseStatus), proven on an org whose only
closed status is "Resolved": a hard-coded "Closed" would not close the Case there."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sfsync.sandbox.server import OrgServer, start_local_org
from tests.sync.conftest import START, SyncHarness, case_rows, make_harness, task_rows

pytestmark = pytest.mark.org


@pytest.fixture
def resolved_org(tmp_path: Path) -> Iterator[OrgServer]:
    """A fresh local org whose Case statuses are New, Working and Resolved (closed)."""
    server = start_local_org(
        tmp_path / "org",
        config_overrides={
            "case_statuses": [
                {"label": "New", "default": True},
                {"label": "Working"},
                {"label": "Resolved", "closed": True},
            ]
        },
    )
    yield server
    server.stop()


@pytest.fixture
def world(resolved_org: OrgServer, tmp_path: Path) -> Iterator[SyncHarness]:
    harness = make_harness(resolved_org, tmp_path)
    yield harness
    harness.close()


def test_a_paid_off_case_closes_with_the_orgs_resolved_status(world: SyncHarness) -> None:
    world.account("C1", "Acme Ltd")
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "900.00", due=START.date() - timedelta(days=10))
    assert world.run().counts["cases_opened"] == 1

    world.advance(hours=2)
    world.ledger.pay("C1", "900.00")
    closing = world.run()

    assert closing.counts["cases_closed"] == 1
    [case] = case_rows(world)
    assert (case["Status"], case["IsClosed"]) == ("Resolved", True)
    assert all(task["IsClosed"] for task in task_rows(world))
