"""Writeback against the local org: a rep's outcomes and promises come back into the ledger,
onto the Case and into the accounting system's notes; a rerun records nothing new."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from sfsync.errors import RetryableError
from sfsync.sources.aging_file import AgingFileSource
from sfsync.sources.demo import DEMO_LAYOUT
from sfsync.sources.layouts import AgingFileLayout
from sfsync.sources.sql import SqlSource
from sfsync.store import models
from sfsync.store.repositories import get_watermark
from sfsync.writeback import WRITEBACK_STREAM
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"


def _delinquent(world: World) -> None:
    """C1 owes 1,000.00 due 10 days ago: the first cycle opens a Case with the day-7 call."""
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.ledger.invoice("I2", "C1", "400.00", due=TODAY - timedelta(days=5))
    world.account("C1", "Acme Ltd")
    report = world.collect()
    assert report.cycle.counts["cases_opened"] == 1


def _rep_logs_day_7_call(world: World, outcome: str, **fields: object) -> None:
    """C1 is delinquent; two hours later the rep completes the day-7 call with ``outcome``."""
    _delinquent(world)
    world.advance(hours=2)
    world.complete(f"{CASE}:day_7_call", Collections_Outcome__c=outcome, **fields)


def test_promise_to_pay_reaches_ledger_case_and_source_notes(world: World) -> None:
    _rep_logs_day_7_call(
        world,
        "Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=5)).isoformat(),
        Promise_Amount__c=1400,
        Description="Will pay everything on Friday",
    )
    world.advance(hours=1)

    report = world.collect()

    assert report.writeback.counts["outcomes_recorded"] == 1
    assert report.writeback.counts["promises_recorded"] == 1
    assert report.writeback.counts["notes_written"] == 1
    with world.sessions() as session:
        [promise] = session.scalars(select(models.Promise)).all()
        [outcome] = session.scalars(select(models.Outcome)).all()
    assert (promise.case_key, promise.amount, promise.status.value) == (
        CASE,
        Decimal("1400.00"),
        "pending",
    )
    assert promise.promised_date == TODAY + timedelta(days=5)
    assert outcome.outcome_code == "promise_to_pay"
    assert outcome.written_back
    case = world.case(CASE)
    assert case["Promise_Status__c"] == "Pending"
    assert case["Promise_Amount__c"] == 1400
    assert case["Promise_Date__c"] == (TODAY + timedelta(days=5)).isoformat()
    # The cadence pauses: next action is the judgement day (date + 3 grace days).
    assert case["Next_Action_Date__c"] == (TODAY + timedelta(days=8)).isoformat()
    [note] = world.ledger.helper.notes("C1")
    assert "promise to pay" in note
    assert "USD 1,400.00 by" in note
    assert "Will pay everything on Friday" in note


def test_rerun_records_nothing_new_and_writes_nothing(world: World) -> None:
    _rep_logs_day_7_call(world, "Left Voicemail")
    world.advance(hours=1)
    first = world.collect()
    assert first.writeback.counts["outcomes_recorded"] == 1
    world.advance(hours=1)

    again = world.writeback()

    assert again.counts.get("outcomes_recorded", 0) == 0
    assert again.counts.get("notes_written", 0) == 0
    # The keyed Tasks, the hand-logged Tasks on the open Case, the Cases: nothing else.
    assert again.calls.read == 3
    assert again.calls.write == 0
    assert world.ledger.helper.notes("C1") == ["left voicemail"]


def test_cadence_stays_paused_while_the_promise_is_pending(world: World) -> None:
    _rep_logs_day_7_call(
        world,
        "Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=10)).isoformat(),
        Promise_Amount__c=1400,
    )
    world.collect()
    world.advance(days=5)  # day 15 past due: day_14_call and day_15_review are reached

    report = world.collect()

    assert report.cycle.counts.get("tasks_created", 0) == 0
    keys = [task["Collections_Key__c"] for task in world.tasks()]
    assert keys == [f"{CASE}:day_7_call"]


def test_a_promise_edited_on_the_case_goes_back_to_pending(world: World) -> None:
    _rep_logs_day_7_call(
        world,
        "Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=2)).isoformat(),
        Promise_Amount__c=500,
    )
    world.collect()
    world.advance(hours=2)
    case = world.case(CASE)
    world.rep.Case.update(
        case["Id"],
        {"Promise_Date__c": (TODAY + timedelta(days=9)).isoformat(), "Promise_Amount__c": 900},
    )
    world.advance(hours=1)

    report = world.collect()

    assert report.writeback.counts["promises_recorded"] == 1
    with world.sessions() as session:
        [promise] = session.scalars(select(models.Promise)).all()
    assert (promise.amount, promise.promised_date) == (Decimal("900.00"), date(2026, 3, 25))
    assert promise.status.value == "pending"
    assert world.case(CASE)["Next_Action_Date__c"] == "2026-03-28"


def test_an_aging_export_source_gets_its_notes_in_the_outcomes_file(
    world: World, tmp_path: Path
) -> None:
    export = tmp_path / "aging.csv"
    due = TODAY - timedelta(days=10)
    with export.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("Customer ID", "Customer Name", "Invoice Number", "Currency", "Original Amount",
             "Open Balance", "Invoice Date", "Due Date", "Disputed", "Dispute Reason")
        )  # fmt: skip
        writer.writerow(
            ("C1", "Acme Ltd", "INV-1", "USD", "900.00", "900.00",
             (due - timedelta(days=30)).isoformat(), due.isoformat(), "", "")
        )  # fmt: skip
    source = AgingFileSource("erp", export, AgingFileLayout(), state_dir=tmp_path / "state")
    world.source = source
    world.account("C1", "Acme Ltd")
    world.collect()
    world.advance(hours=2)
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=4)).isoformat(),
        Promise_Amount__c=900,
        Description="Cheque in the post",
    )
    world.advance(hours=1)

    world.collect()
    world.advance(hours=1)
    world.collect()

    with source.outcomes_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert rows[0]["customer_id"] == "C1"
    assert "USD 900.00 by 2026-03-20" in rows[0]["note"]
    assert "Cheque in the post" in rows[0]["note"]
    assert world.case(CASE)["Promise_Status__c"] == "Pending"


def test_a_promise_without_an_amount_keeps_the_outcome_and_says_what_is_missing(
    world: World,
) -> None:
    _rep_logs_day_7_call(
        world,
        "Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=5)).isoformat(),
        Description="Said they would pay soon",
    )
    world.advance(hours=1)

    with capture_logs() as logs:
        report = world.collect()

    assert report.writeback.counts["outcomes_recorded"] == 1
    assert report.writeback.counts["promises_incomplete"] == 1
    assert "promise_incomplete" in [entry["event"] for entry in logs]
    with world.sessions() as session:
        assert session.scalars(select(models.Promise)).all() == []
    assert world.case(CASE)["Promise_Status__c"] is None
    [note] = world.ledger.helper.notes("C1")
    assert "Said they would pay soon" in note


def _watermark(world: World) -> datetime | None:
    with world.sessions() as session:
        row = get_watermark(session, "erp", WRITEBACK_STREAM)
        return None if row is None else row.value_at


def test_a_late_commit_inside_the_overlap_is_read_and_the_watermark_never_passes_the_start(
    world: World,
) -> None:
    _rep_logs_day_7_call(world, "No Answer")
    world.server.org.clock.set(world.clock.now() + timedelta(hours=1), frozen=True)
    world.rep.Case.update(world.case(CASE)["Id"], {"Description": "the org's clock runs ahead"})

    world.writeback()

    assert _watermark(world) == world.clock.now()  # capped at the run's start
    world.advance(hours=1)
    # A rep's own call Task, committed 60 s before the watermark: inside the overlap.
    world.server.org.clock.set(world.clock.now() - timedelta(hours=1, seconds=60), frozen=True)
    world.rep.Task.create(
        {
            "Subject": "Called the CFO",
            "Status": "Completed",
            "WhatId": world.case(CASE)["Id"],
            "Collections_Key__c": f"{CASE}:rep_call",
            "Collections_Outcome__c": "Wrong Contact",
        }
    )
    world.server.org.clock.set(world.clock.now(), frozen=True)

    report = world.writeback()

    assert report.counts["tasks_read"] == 2  # both re-read from the overlap window
    assert report.counts["outcomes_recorded"] == 1  # the late one; the first only once
    with world.sessions() as session:
        codes = sorted(row.outcome_code for row in session.scalars(select(models.Outcome)))
    assert codes == ["no_answer", "wrong_contact"]


def test_a_failed_writeback_keeps_its_watermark_and_loses_nothing(world: World) -> None:
    _rep_logs_day_7_call(world, "Refused")
    world.advance(hours=1)
    world.server.org.faults.unavailable(requests=10)

    with pytest.raises(RetryableError):
        world.writeback()

    assert _watermark(world) is None
    world.server.org.faults.clear()
    report = world.writeback()
    assert report.counts["outcomes_recorded"] == 1
    assert _watermark(world) is not None


def test_a_second_promise_on_a_new_task_replaces_the_first_and_the_case_follows(
    world: World,
) -> None:
    _rep_logs_day_7_call(
        world,
        "Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=2)).isoformat(),
        Promise_Amount__c=300,
    )
    world.collect()  # the Case now shows the first promise
    world.advance(hours=2)
    world.rep.Task.create(
        {
            "Subject": "Called back",
            "Status": "Completed",
            "WhatId": world.case(CASE)["Id"],
            "Collections_Key__c": f"{CASE}:rep_call",
            "Collections_Outcome__c": "Promise to Pay",
            "Promise_Date__c": (TODAY + timedelta(days=6)).isoformat(),
            "Promise_Amount__c": 1400,
        }
    )
    world.advance(hours=1)

    report = world.collect()

    assert report.writeback.counts["promises_recorded"] == 1
    with world.sessions() as session:
        amounts = sorted(row.amount for row in session.scalars(select(models.Promise)))
    assert amounts == [Decimal("300.00"), Decimal("1400.00")]  # the Case's old values: no edit
    case = world.case(CASE)
    assert (case["Promise_Amount__c"], case["Promise_Date__c"]) == (1400, "2026-03-22")


def test_a_source_name_with_like_wildcards_reads_only_its_own_tasks(world: World) -> None:
    """``erp_eu``'s read-back must not pick up ``erpXeu``'s Tasks (``_`` is a LIKE wildcard)."""
    world.source = SqlSource("erp_eu", world.ledger.engine, DEMO_LAYOUT, world.clock)
    world.rep.Task.create(
        {
            "Subject": "Call",
            "Status": "Completed",
            "Collections_Key__c": "erpXeu:C9:USD:1:day_7_call",
            "Collections_Outcome__c": "No Answer",
        }
    )
    world.advance(hours=1)

    report = world.writeback()

    assert report.counts.get("tasks_ignored", 0) == 0
    assert report.counts.get("tasks_read", 0) == 0
    assert not report.watermark_advanced
