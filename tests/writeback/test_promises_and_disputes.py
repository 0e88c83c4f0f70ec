"""Promises judged and disputes handled across cycles, moving the org's clock and the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sfsync.disputes import apply_dispute_cases
from sfsync.errors import ConfigError
from sfsync.sources.demo import invoices_table
from sfsync.store import models
from sfsync.store.disputes import DisputeCase, InvoiceDispute
from sfsync.store.repositories import list_dead_letters
from sfsync.sync import run_cycle
from sfsync.writeback import run_writeback, with_read_back
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"
CHILD = f"{CASE}:dispute"


def _delinquent(world: World) -> None:
    """C1 owes 1,400.00: I1 1,000.00 due 10 days ago and I2 400.00 due 5 days ago."""
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.ledger.invoice("I2", "C1", "400.00", due=TODAY - timedelta(days=5))
    world.account("C1", "Acme Ltd")
    world.collect()
    world.advance(hours=2)


def _promise(world: World, amount: int, days: int) -> None:
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=days)).isoformat(),
        Promise_Amount__c=amount,
    )
    world.collect()


def _verdicts(world: World) -> list[str]:
    with world.sessions() as session:
        return [row.status.value for row in session.scalars(select(models.Promise))]


def test_a_kept_promise_resumes_the_cadence_only_for_what_is_still_past_due(
    world: World,
) -> None:
    _delinquent(world)
    _promise(world, 1000, days=5)
    world.advance(days=3)
    world.ledger.pay("C1", "1000.00")  # I1 paid in full before the promise date

    report = world.collect()

    assert [status.value for _, status in report.verdicts] == ["kept"]
    assert _verdicts(world) == ["kept"]
    case = world.case(CASE)
    assert case["Promise_Status__c"] == "Kept"
    assert case["Past_Due_Amount__c"] == 400
    assert not case["IsClosed"]
    # The ladder resumes from I2 (due 5 days before the start): day 14 is its next step.
    assert case["Next_Action_Date__c"] == (TODAY + timedelta(days=9)).isoformat()
    world.advance(days=6)
    world.collect()
    keys = [task["Collections_Key__c"] for task in world.tasks()]
    assert f"{CASE}:day_14_call" in keys


def test_a_promise_paid_in_full_closes_the_case(world: World) -> None:
    _delinquent(world)
    _promise(world, 1400, days=5)
    world.advance(days=2)
    world.ledger.pay("C1", "1400.00")

    world.collect()

    assert _verdicts(world) == ["kept"]
    case = world.case(CASE)
    assert case["IsClosed"]
    assert case["Promise_Status__c"] == "Kept"


def test_a_broken_promise_raises_priority_and_creates_one_follow_up_task(world: World) -> None:
    _delinquent(world)
    _promise(world, 1400, days=5)
    [promised_task] = [t for t in world.tasks() if t["Collections_Key__c"].endswith("day_7_call")]
    world.advance(days=9)  # date + 3 grace days have passed, nothing paid, nothing changed

    report = world.collect()

    assert [status.value for _, status in report.verdicts] == ["broken"]
    case = world.case(CASE)
    assert case["Promise_Status__c"] == "Broken"
    assert case["Priority"] == "High"
    follow_up = f"{CASE}:promise-{promised_task['Id']}"
    [task] = [t for t in world.tasks() if t["Collections_Key__c"] == follow_up]
    assert task["Priority"] == "High"
    assert task["WhatId"] == case["Id"]
    assert task["Subject"] == "Promise broken: call Acme Ltd about USD 1,400.00"
    world.advance(hours=3)
    again = world.collect()
    assert again.verdicts == []
    assert [t["Collections_Key__c"] for t in world.tasks()].count(follow_up) == 1


def test_a_partly_kept_promise_is_judged_after_the_grace_days(world: World) -> None:
    _delinquent(world)
    _promise(world, 1400, days=5)
    world.advance(days=1)
    world.ledger.pay("C1", "300.00")
    assert world.collect().verdicts == []  # still pending: some paid, date not reached
    world.advance(days=8)

    report = world.collect()

    assert [status.value for _, status in report.verdicts] == ["partially_kept"]
    assert world.case(CASE)["Promise_Status__c"] == "Partially Kept"


def _set_source_dispute(world: World, invoice_id: str, *, disputed: bool) -> None:
    with world.ledger.engine.begin() as connection:
        connection.execute(
            update(invoices_table)
            .where(invoices_table.c.id == invoice_id)
            .values(
                disputed=disputed,
                dispute_reason="pricing error" if disputed else None,
                updated_at=world.clock.now().replace(tzinfo=None),
            )
        )


def _queue(world: World, name: str) -> str:
    [row] = world.rows(f"SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = '{name}'")  # noqa: S608 - fixed test value
    return str(row["Id"])


def test_a_dispute_flagged_in_the_source_goes_to_the_dispute_queue_until_cleared(
    world: World,
) -> None:
    _delinquent(world)
    _set_source_dispute(world, "I2", disputed=True)

    report = world.collect()

    assert report.dispute_cases["opened"] == 1
    case = world.case(CASE)
    assert case["Past_Due_Amount__c"] == 1000  # I2 left the chased balance
    assert case["Disputed_Amount__c"] == 400
    child = world.case(CHILD)
    assert child["ParentId"] == case["Id"]
    assert child["OwnerId"] == _queue(world, "Disputes")
    assert child["Subject"] == "Dispute: Acme Ltd invoice INV-I2"
    assert "pricing error" in child["Description"]
    assert not child["IsClosed"]
    world.advance(hours=1)
    assert world.collect().dispute_cases["opened"] == 0  # unchanged: nothing rewritten

    world.advance(days=1)
    _set_source_dispute(world, "I2", disputed=False)
    cleared = world.collect()

    assert cleared.dispute_cases["closed"] == 1
    assert world.case(CHILD)["IsClosed"]
    assert world.case(CASE)["Past_Due_Amount__c"] == 1400


def test_a_dispute_reported_by_a_rep_names_the_invoice_and_leaves_the_chase(
    world: World,
) -> None:
    _delinquent(world)
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Disputed",
        Description="Customer says INV-I2 was never delivered",
    )
    world.advance(hours=1)

    report = world.collect()

    assert report.writeback.counts["disputes_recorded"] == 1
    case = world.case(CASE)
    assert case["Past_Due_Amount__c"] == 1000
    assert case["Disputed_Amount__c"] == 400
    child = world.case(CHILD)
    assert child["OwnerId"] == _queue(world, "Disputes")
    assert "never delivered" in child["Description"]
    [invoice] = world.rows(
        "SELECT Disputed__c, Dispute_Reason__c FROM AR_Invoice__c WHERE Invoice_Key__c = 'erp:I2'"
    )
    assert invoice["Disputed__c"] is True
    [note] = world.ledger.helper.notes("C1")
    assert "disputed" in note
    assert "INV-I2" in note

    world.advance(days=2)
    world.ledger.pay("C1", "1400.00")  # the customer pays everything after all
    world.collect()

    with world.sessions() as session:
        [dispute] = session.scalars(select(InvoiceDispute)).all()
    assert dispute.cleared_at is not None
    assert world.case(CHILD)["IsClosed"]
    assert world.case(CASE)["IsClosed"]


def test_a_dispute_outcome_naming_no_known_invoice_records_the_outcome_only(
    world: World,
) -> None:
    _delinquent(world)
    world.complete(
        f"{CASE}:day_7_call", Collections_Outcome__c="Disputed", Description="not our order"
    )
    world.advance(hours=1)

    report = world.collect()

    assert report.writeback.counts["outcomes_recorded"] == 1
    assert report.writeback.counts["disputes_without_invoice"] == 1
    assert report.dispute_cases["opened"] == 0
    assert world.case(CASE)["Past_Due_Amount__c"] == 1400


def test_a_rep_dispute_the_books_take_over_ends_when_the_books_clear_it(world: World) -> None:
    _delinquent(world)
    world.complete(
        f"{CASE}:day_7_call", Collections_Outcome__c="Disputed", Description="I2 is wrong"
    )
    world.advance(hours=1)
    world.collect()
    world.advance(days=1)
    _set_source_dispute(world, "I2", disputed=True)  # accounting records the dispute
    world.collect()
    assert world.case(CASE)["Past_Due_Amount__c"] == 1000

    world.advance(days=1)
    _set_source_dispute(world, "I2", disputed=False)  # and settles it: I2 is owed after all
    report = world.collect()

    assert report.dispute_cases["closed"] == 1
    with world.sessions() as session:
        [dispute] = session.scalars(select(InvoiceDispute)).all()
    assert dispute.seen_in_source
    assert dispute.cleared_at is not None
    assert world.case(CASE)["Past_Due_Amount__c"] == 1400
    assert world.case(CHILD)["IsClosed"]


def test_a_cycle_scheduled_apart_from_the_writeback_sees_what_reps_did(world: World) -> None:
    _delinquent(world)
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Disputed",
        Description="INV-I2 was never delivered",
    )
    world.advance(hours=1)
    deps = world.deps()
    run_writeback(deps)  # the writeback job
    world.advance(minutes=5)

    cycle_deps, overlay = with_read_back(deps)  # the cycle job, a few minutes later
    report = run_cycle(cycle_deps)
    apply_dispute_cases(deps, overlay.dispute_ledgers)

    assert report.counts["cases_updated"] == 1
    assert world.case(CASE)["Past_Due_Amount__c"] == 1000
    assert not world.case(CHILD)["IsClosed"]


@dataclass(frozen=True)
class _Shard:
    """One shard of a distributed cycle: its customers and its own watermark stream."""

    customers: frozenset[str]

    @property
    def stream(self) -> str:
        return "invoices:" + ",".join(sorted(self.customers))

    def includes(self, customer_id: str) -> bool:
        return customer_id in self.customers


def test_a_shard_judges_only_its_own_customers_promises(world: World) -> None:
    world.ledger.customer("C2", "Globex")
    world.ledger.invoice("J1", "C2", "800.00", due=TODAY - timedelta(days=10))
    world.account("C2", "Globex")
    _delinquent(world)
    _promise(world, 1400, days=1)
    world.complete(
        "erp:C2:USD:1:day_7_call",
        Collections_Outcome__c="Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=1)).isoformat(),
        Promise_Amount__c=800,
    )
    world.collect()
    world.advance(days=6)  # both promises lapsed, nothing paid
    deps = world.deps()

    cycle_deps, overlay = with_read_back(deps, part=_Shard(frozenset({"C1"})))
    run_cycle(cycle_deps, part=_Shard(frozenset({"C1"})))

    assert [key.split(":")[1] for key, _ in overlay.verdicts] == ["C1"]
    with world.sessions() as session:
        statuses = {
            row.customer_id: row.status.value for row in session.scalars(select(models.Promise))
        }
    assert statuses == {"C1": "broken", "C2": "pending"}
    assert world.case(CASE)["Promise_Status__c"] == "Broken"
    assert world.case("erp:C2:USD:1")["Promise_Status__c"] == "Pending"


def test_a_refused_dispute_case_is_dead_lettered_and_written_on_the_next_run(
    world: World,
) -> None:
    _delinquent(world)
    _set_source_dispute(world, "I2", disputed=True)
    deps = world.deps()
    cycle_deps, overlay = with_read_back(deps)
    run_cycle(cycle_deps)
    world.server.org.faults.fail_next_writes(10)  # every attempt at the dispute Case is locked

    refused = apply_dispute_cases(deps, overlay.dispute_ledgers)

    assert refused["failed"] == 1
    with world.sessions() as session:
        [letter] = list_dead_letters(session)
    assert (letter.sobject, letter.record_key, letter.error_code) == (
        "Case",
        CHILD,
        "UNABLE_TO_LOCK_ROW",
    )
    world.server.org.faults.clear()
    assert apply_dispute_cases(deps, overlay.dispute_ledgers)["opened"] == 1
    assert world.case(CHILD)["ParentId"] == world.case(CASE)["Id"]
    with world.sessions() as session:
        assert list_dead_letters(session) == []  # resolved by the write that succeeded


def test_a_dispute_queue_missing_from_the_org_is_a_config_error_naming_the_fix(
    world: World,
) -> None:
    _delinquent(world)
    _set_source_dispute(world, "I2", disputed=True)
    deps = world.deps()
    cycle_deps, overlay = with_read_back(deps)
    run_cycle(cycle_deps)

    with pytest.raises(ConfigError, match="no queue with DeveloperName 'Dispute_Team'"):
        apply_dispute_cases(deps, overlay.dispute_ledgers, queue="Dispute_Team")
    with world.sessions() as session:
        assert list(session.scalars(select(DisputeCase))) == []  # nothing recorded as written
