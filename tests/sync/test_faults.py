"""Crashes and ambiguous commits: a replay creates no duplicate Case, Task or invoice record."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import select

from sfsync.store.models import RunStatus, SyncRun, TaskState
from sfsync.store.repositories import get_task, get_watermark
from sfsync.sync import STOPPED_BUDGET, run_cycle
from tests.sync.conftest import (
    CrashError,
    FaultingGateway,
    SyncHarness,
    case_rows,
    invoice_rows,
    org_gateway,
    task_rows,
)

pytestmark = pytest.mark.org


def _two_customers(world: SyncHarness) -> None:
    for customer, name in (("C1", "Acme Ltd"), ("C2", "Globex")):
        world.account(customer, name)
        world.ledger.customer(customer, name)
        world.ledger.invoice(f"{customer}-1", customer, "900.00", due=date(2026, 3, 1))
        world.ledger.invoice(f"{customer}-2", customer, "100.00", due=date(2026, 3, 10))


def _assert_exactly_once(world: SyncHarness) -> None:
    """One Case per account, one Task per key, one record per invoice: nothing duplicated."""
    cases = Counter(row["Collections_Key__c"] for row in case_rows(world))
    tasks = Counter(row["Collections_Key__c"] for row in task_rows(world))
    invoices = Counter(row["Invoice_Key__c"] for row in invoice_rows(world))
    assert cases == {"erp:C1:USD:1": 1, "erp:C2:USD:1": 1}
    assert tasks == {"erp:C1:USD:1:day_15_review": 1, "erp:C2:USD:1:day_15_review": 1}
    assert invoices == {"erp:C1-1": 1, "erp:C1-2": 1, "erp:C2-1": 1, "erp:C2-2": 1}


@pytest.mark.parametrize(
    ("operation", "sobject"),
    [("upsert", "Case"), ("upsert", "AR_Invoice__c"), ("create", "Task")],
)
def test_a_dropped_connection_after_the_org_committed_creates_no_duplicate(
    harness: SyncHarness, operation: str, sobject: str
) -> None:
    _two_customers(harness)
    gateway = FaultingGateway(harness, operation, sobject)

    first = run_cycle(replace(harness.deps(), gateway=gateway))
    harness.advance(hours=1)
    second = harness.run()

    assert gateway.fired
    assert first.status == "succeeded"
    _assert_exactly_once(harness)
    if sobject == "Task":
        # The create's outcome was unknown: its customers were listed to be read again by
        # key (the watermark moved for everyone else), and the rerun found the Tasks.
        assert first.watermark_advanced
        assert first.held == ("C1", "C2")
        assert second.settled
        assert second.calls.write == 0
        with harness.sessions() as session:
            entry = get_task(session, "erp:C1:USD:1:day_15_review")
            assert entry is not None
            assert entry.state is TaskState.CREATED


@pytest.mark.parametrize(
    ("operation", "sobject"),
    [("upsert", "Case"), ("upsert", "AR_Invoice__c"), ("create", "Task")],
)
def test_a_crash_after_a_write_leaves_a_rerun_with_nothing_duplicated(
    harness: SyncHarness, operation: str, sobject: str
) -> None:
    _two_customers(harness)
    gateway = FaultingGateway(harness, operation, sobject, fault="crash")

    with pytest.raises(CrashError):
        run_cycle(replace(harness.deps(), gateway=gateway))
    with harness.sessions() as session:
        assert get_watermark(session, "erp", "invoices") is None
    harness.advance(hours=1)
    rerun = harness.run()

    assert rerun.status == "succeeded"
    _assert_exactly_once(harness)
    again = harness.run()
    assert again.calls.write == 0


def test_a_spent_api_budget_stops_writes_and_lists_who_waits(harness: SyncHarness) -> None:
    _two_customers(harness)
    stingy = org_gateway(
        harness.server, harness.clock, api_reserve_fraction=0.9999
    )  # nothing may be spent
    harness.gateways.append(stingy)

    stopped = harness.run(stingy)

    assert stopped.status == STOPPED_BUDGET
    assert stopped.calls.write == 0
    # The watermark moves; the customers the budget kept it from writing are read by key.
    assert stopped.watermark_advanced
    assert stopped.held == ("C1", "C2")
    with harness.sessions() as session:
        [run] = session.scalars(select(SyncRun).where(SyncRun.id == stopped.run_id))
        assert run.status is RunStatus.STOPPED_BUDGET
    assert case_rows(harness) == []
    harness.advance(hours=1)
    resumed = harness.run()
    assert resumed.status == "succeeded"
    assert resumed.settled
    _assert_exactly_once(harness)
