"""End-to-end cycles against the local org: what a rep sees in Salesforce after each run."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sfsync.sandbox.server import OrgServer
from sfsync.sources.base import SourceBatch, Watermark
from sfsync.sources.demo import DEMO_LAYOUT
from sfsync.sources.sql import SqlSource
from sfsync.store.repositories import get_watermark
from sfsync.sync import run_cycle
from tests.sync.conftest import (
    SyncHarness,
    case_rows,
    invoice_rows,
    make_harness,
    task_rows,
)

pytestmark = pytest.mark.org


def _acme(world: SyncHarness) -> str:
    """Acme owes 1,200 (10 days past due) and 300 (3 days past due) on 2026-03-16."""
    account_id = world.account("C1", "Acme Ltd")
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1200.00", due=date(2026, 3, 6))
    world.ledger.invoice("I2", "C1", "300.00", due=date(2026, 3, 13))
    return account_id


def _assert_first_sync(world: SyncHarness, account_id: str) -> None:
    [case] = case_rows(world)
    assert case["Collections_Key__c"] == "erp:C1:USD:1"
    assert case["AccountId"] == account_id
    assert case["Status"] == "New"
    assert case["Subject"] == "Collections: Acme Ltd (USD)"
    assert case["Past_Due_Amount__c"] == Decimal(1500)
    assert case["Aging_1_30__c"] == Decimal(1500)
    assert case["Open_Invoice_Count__c"] == 2
    assert case["Oldest_Days_Past_Due__c"] == 10
    assert case["Next_Action_Date__c"] == "2026-03-20"  # day_14_call of the 03-06 invoice
    [task] = task_rows(world)
    assert task["Collections_Key__c"] == "erp:C1:USD:1:day_7_call"
    assert task["Subject"] == "Call: 10 days past due, USD 1,500.00"
    assert task["WhatId"] == case["Id"]
    assert task["ActivityDate"] == "2026-03-16"
    assert task["Status"] == "Not Started"
    invoices = invoice_rows(world)
    assert [(i["Invoice_Key__c"], i["Balance__c"], i["Days_Past_Due__c"]) for i in invoices] == [
        ("erp:I1", Decimal(1200), 10),
        ("erp:I2", Decimal(300), 3),
    ]
    assert {(i["Case__c"], i["Account__c"], i["Status__c"]) for i in invoices} == {
        (case["Id"], account_id, "Open")
    }


def test_new_delinquency_opens_a_case_with_its_task_and_invoices(harness: SyncHarness) -> None:
    account_id = _acme(harness)

    report = harness.run()

    assert report.status == "succeeded"
    assert report.watermark_advanced
    assert (report.counts["cases_opened"], report.counts["tasks_created"]) == (1, 1)
    assert report.counts["invoices_upserted"] == 2
    # One collections call per object (the floor), one query matching the Account and one
    # resolving the Collections queue that owns new Cases (once per run).
    assert (report.calls.write, report.calls.read) == (3, 2)
    _assert_first_sync(harness, account_id)


def test_a_rerun_with_no_change_writes_nothing(harness: SyncHarness) -> None:
    _acme(harness)
    harness.run()
    harness.advance(hours=1)

    again = harness.run(harness.gateway())

    assert again.calls.write == 0
    assert again.calls.total <= 2
    assert again.counts["accounts_planned"] == 0
    assert len(case_rows(harness)) == 1
    assert len(task_rows(harness)) == 1


def test_payments_move_the_case_then_close_it_and_a_new_delinquency_opens_episode_two(
    harness: SyncHarness,
) -> None:
    _acme(harness)
    harness.run()

    # A partial payment clears the oldest invoice: the account is 4 days past due now.
    harness.advance(days=1)
    assert harness.ledger.pay("C1", "1200.00") == ["I1"]
    partial = harness.run()
    [case] = case_rows(harness)
    assert case["Past_Due_Amount__c"] == Decimal(300)
    assert case["Oldest_Days_Past_Due__c"] == 4
    assert case["Open_Invoice_Count__c"] == 1
    assert case["Next_Action_Date__c"] == "2026-03-27"  # day_14_call of the 03-13 invoice
    assert partial.counts["tasks_created"] == 0  # the ladder never goes back down
    paid = {i["Invoice_Key__c"]: i for i in invoice_rows(harness)}["erp:I1"]
    assert (paid["Status__c"], paid["Balance__c"], paid["Days_Past_Due__c"]) == ("Paid", 0, 0)

    # Fifteen days past due: the escalation review step.
    harness.advance(days=11)
    harness.run()
    subjects = [task["Subject"] for task in task_rows(harness)]
    assert subjects == [
        "Escalation review: Acme Ltd, 15 days past due",
        "Call: 10 days past due, USD 1,500.00",
    ]

    # Paid in full: the Case closes with the org's closed status, its Tasks close.
    harness.ledger.pay("C1", "300.00")
    closing = harness.run()
    assert closing.counts["cases_closed"] == 1
    assert closing.counts["tasks_closed"] == 2
    [case] = case_rows(harness)
    assert (case["Status"], case["IsClosed"]) == ("Closed", True)
    assert {(t["Status"], t["IsClosed"]) for t in task_rows(harness)} == {("Completed", True)}

    # A later delinquency is a new episode: a new Case, the closed one stays closed.
    harness.ledger.invoice("I3", "C1", "800.00", due=date(2026, 4, 1))
    harness.advance(days=6)
    harness.run()
    cases = case_rows(harness)
    assert [(c["Collections_Key__c"], c["IsClosed"]) for c in cases] == [
        ("erp:C1:USD:1", True),
        ("erp:C1:USD:2", False),
    ]
    assert cases[1]["Past_Due_Amount__c"] == Decimal(800)
    new_task = [t for t in task_rows(harness) if not t["IsClosed"]]
    assert [t["Collections_Key__c"] for t in new_task] == ["erp:C1:USD:2:day_1_email"]
    assert new_task[0]["WhatId"] == cases[1]["Id"]


class _PaidDuringRun(SqlSource):
    """The SQL source, with a payment arriving right after the cycle's first read."""

    def __init__(self, world: SyncHarness, customer: str, amount: str) -> None:
        super().__init__("erp", world.ledger.engine, DEMO_LAYOUT, world.clock)
        self._world, self._customer, self._amount = world, customer, amount
        self._reads = 0

    def read_changes(
        self,
        since: Watermark | None,
        as_of: date,
        overlap: timedelta,
        *,
        lookahead: timedelta = timedelta(0),
    ) -> SourceBatch:
        batch = super().read_changes(since, as_of, overlap, lookahead=lookahead)
        self._reads += 1
        if self._reads > 1:
            return batch
        customers = list(batch.customers)
        self._world.ledger.pay(self._customer, self._amount)
        return SourceBatch(iter(customers), batch.watermark, batch.orphans)


def test_balance_is_rechecked_before_a_task_is_created(harness: SyncHarness) -> None:
    _acme(harness)
    deps = replace(harness.deps(), source=_PaidDuringRun(harness, "C1", "1500.00"))

    report = run_cycle(deps)

    assert report.counts["accounts_rechecked"] == 1
    assert task_rows(harness) == []
    assert case_rows(harness) == []


@pytest.mark.postgres
def test_first_sync_and_rerun_on_postgresql(
    local_org: OrgServer, tmp_path: Path, postgres_store: str
) -> None:
    world = make_harness(local_org, tmp_path, store_url=postgres_store)
    try:
        account_id = _acme(world)
        first = world.run()
        again = world.run()
    finally:
        world.close()
    assert first.calls.write == 3
    _assert_first_sync(world, account_id)
    assert again.calls.write == 0


@dataclass(frozen=True)
class _OnlyCustomer:
    """A part of the customers (as a shard is): one customer, its own watermark stream."""

    customer: str

    @property
    def stream(self) -> str:
        return f"invoices@{self.customer}"

    def includes(self, customer_id: str) -> bool:
        return customer_id == self.customer


def test_a_part_syncs_only_its_customers_on_its_own_watermark(harness: SyncHarness) -> None:
    _acme(harness)
    harness.account("C2", "Globex")
    harness.ledger.customer("C2", "Globex")
    harness.ledger.invoice("G1", "C2", "500.00", due=date(2026, 3, 1))

    report = run_cycle(harness.deps(), part=_OnlyCustomer("C2"))

    assert report.watermark_advanced
    assert [row["Collections_Key__c"] for row in case_rows(harness)] == ["erp:C2:USD:1"]
    with harness.sessions() as session:
        assert get_watermark(session, "erp", "invoices@C2") is not None
        assert get_watermark(session, "erp", "invoices") is None
    rest = run_cycle(harness.deps(), part=_OnlyCustomer("C1"))
    assert rest.counts["cases_opened"] == 1
    assert len(case_rows(harness)) == 2


def test_the_first_cycle_of_a_day_moves_untouched_accounts_along_the_ladder(
    harness: SyncHarness,
) -> None:
    _acme(harness)
    harness.run()
    harness.advance(hours=2)
    same_day = harness.run(full=True)
    assert same_day.calls.write == 0  # a full re-plan of unchanged accounts writes nothing

    harness.advance(days=4)  # nobody touched the ledger; I1 is 14 days past due now
    report = harness.run()

    assert report.counts["full_read"] == 1
    [case] = case_rows(harness)
    assert case["Oldest_Days_Past_Due__c"] == 14
    assert [t["Collections_Key__c"] for t in task_rows(harness)] == [
        "erp:C1:USD:1:day_14_call",
        "erp:C1:USD:1:day_7_call",
    ]
    harness.advance(hours=1)
    assert harness.run().calls.write == 0


def test_a_reminder_hangs_from_the_account_until_the_case_takes_over(
    harness: SyncHarness,
) -> None:
    account_id = harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "500.00", due=date(2026, 3, 18))

    harness.run()

    assert case_rows(harness) == []
    [reminder] = task_rows(harness)
    assert reminder["Collections_Key__c"] == "erp:C1:USD:due-I1:pre_due_reminder"
    assert reminder["Subject"] == "Reminder: USD 500.00 coming due on 1 invoice(s)"
    assert reminder["WhatId"] == account_id
    [record] = invoice_rows(harness)
    assert (record["Account__c"], record["Case__c"]) == (account_id, None)

    harness.advance(days=3)  # one day past due: a Case opens, the reminder closes
    harness.run()
    [case] = case_rows(harness)
    tasks = {t["Collections_Key__c"]: t for t in task_rows(harness)}
    assert tasks["erp:C1:USD:due-I1:pre_due_reminder"]["IsClosed"] is True
    assert tasks["erp:C1:USD:1:day_1_email"]["WhatId"] == case["Id"]
    assert invoice_rows(harness)[0]["Case__c"] == case["Id"]
