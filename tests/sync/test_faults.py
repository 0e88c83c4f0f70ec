"""Crashes and ambiguous commits: a replay creates no duplicate Case, Task or invoice record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.salesforce.ports import ApiUsage, CallCounts, ItemResult, Record
from sfsync.store.models import TaskState
from sfsync.store.repositories import get_task, get_watermark
from sfsync.sync import STOPPED_BUDGET, run_cycle
from tests.sync.conftest import SyncHarness, case_rows, invoice_rows, org_gateway, task_rows

pytestmark = pytest.mark.org


class CrashError(Exception):
    """The process died right after Salesforce answered."""


class FaultingGateway:
    """The real gateway, with a fault injected around one write (a port double, not a mock).

    ``drop``: arm the local org's "drop the connection after the write commits" just before
    the first ``operation`` on ``sobject``. ``crash``: let that write happen, then raise as if
    the process died before recording it.
    """

    def __init__(
        self, world: SyncHarness, operation: str, sobject: str, *, crash: bool = False
    ) -> None:
        self._real: SimpleSalesforceGateway = world.gateway()
        self._org = world.org
        self._operation, self._sobject, self._crash = operation, sobject, crash
        self.fired = False

    def _around(self, operation: str, sobject: str) -> bool:
        hit = not self.fired and (operation, sobject) == (self._operation, self._sobject)
        if hit:
            self.fired = True
            if not self._crash:
                self._org.faults.drop_after_commit(1)
        return hit and self._crash

    def query(self, soql: str) -> Iterator[Record]:
        return self._real.query(soql)

    def query_in(
        self,
        object_name: str,
        fields: Sequence[str],
        field: str,
        values: Sequence[object],
        *,
        extra_where: str = "",
        extra_args: Sequence[object] = (),
    ) -> Iterator[Record]:
        return self._real.query_in(
            object_name, fields, field, values, extra_where=extra_where, extra_args=extra_args
        )

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        crash = self._around("create", object_name)
        results = self._real.create(object_name, records)
        if crash:
            raise CrashError(object_name)
        return results

    def update(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        return self._real.update(object_name, records)

    def upsert(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, external_id_field: str
    ) -> list[ItemResult]:
        crash = self._around("upsert", object_name)
        results = self._real.upsert(object_name, records, external_id_field=external_id_field)
        if crash:
            raise CrashError(object_name)
        return results

    def delete(self, ids: Sequence[str]) -> list[ItemResult]:
        return self._real.delete(ids)

    def describe(self, object_name: str) -> dict[str, Any]:
        return self._real.describe(object_name)

    def describe_global(self) -> dict[str, Any]:
        return self._real.describe_global()

    def limits(self) -> dict[str, Any]:
        return self._real.limits()

    @property
    def calls(self) -> CallCounts:
        return self._real.calls

    @property
    def usage(self) -> ApiUsage | None:
        return self._real.usage


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
        # The create's outcome was unknown: the watermark waited, the rerun found the Tasks.
        assert not first.watermark_advanced
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
    gateway = FaultingGateway(harness, operation, sobject, crash=True)

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


def test_a_spent_api_budget_stops_writes_and_keeps_the_watermark(harness: SyncHarness) -> None:
    _two_customers(harness)
    stingy = org_gateway(
        harness.server, harness.clock, api_reserve_fraction=0.9999
    )  # nothing may be spent
    harness.gateways.append(stingy)

    stopped = harness.run(stingy)

    assert stopped.status == STOPPED_BUDGET
    assert stopped.calls.write == 0
    assert not stopped.watermark_advanced
    assert case_rows(harness) == []
    resumed = harness.run()
    assert resumed.status == "succeeded"
    _assert_exactly_once(harness)
