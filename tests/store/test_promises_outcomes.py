"""Promises to pay and call outcomes read back from Salesforce."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfsync.store.models import Outcome, PromiseStatus
from sfsync.store.repositories import (
    OutcomeValues,
    PromiseValues,
    judge_promise,
    mark_written_back,
    outcomes_to_write_back,
    promises_due,
    record_outcome,
    upsert_promise,
)
from tests.store.conftest import T0

PROMISE = PromiseValues(
    promise_key="00T000000000001AAA",
    customer_id="C-100",
    case_key="erp:C-100:1",
    promised_date=date(2026, 3, 10),
    amount=Decimal("5000.00"),
    currency="USD",
    source_task_id="00T000000000001AAA",
)
CALL = OutcomeValues(
    salesforce_task_id="00T000000000009AAA",
    case_key="erp:C-100:1",
    task_key="erp:C-100:1:day7_call",
    outcome_code="promise_to_pay",
    notes="Will pay 5,000 on the 10th",
    completed_at=T0,
)


def test_new_promise_is_pending(session: Session) -> None:
    promise = upsert_promise(session, PROMISE, at=T0)
    session.commit()

    assert (promise.status, promise.amount, promise.promised_date) == (
        PromiseStatus.PENDING,
        Decimal("5000.00"),
        date(2026, 3, 10),
    )
    assert (promise.created_at, promise.judged_at) == (T0, None)


def test_rereading_an_unchanged_promise_keeps_its_verdict(session: Session) -> None:
    upsert_promise(session, PROMISE, at=T0)
    judge_promise(session, PROMISE.promise_key, PromiseStatus.KEPT, at=T0 + timedelta(days=9))

    again = upsert_promise(session, PROMISE, at=T0 + timedelta(days=10))

    assert again.status is PromiseStatus.KEPT
    assert again.judged_at == T0 + timedelta(days=9)
    assert again.created_at == T0


def test_an_edited_promise_is_pending_again(session: Session) -> None:
    upsert_promise(session, PROMISE, at=T0)
    judge_promise(session, PROMISE.promise_key, PromiseStatus.BROKEN, at=T0 + timedelta(days=12))

    edited = upsert_promise(
        session, replace(PROMISE, promised_date=date(2026, 3, 20)), at=T0 + timedelta(days=13)
    )

    assert (edited.status, edited.judged_at, edited.promised_date) == (
        PromiseStatus.PENDING,
        None,
        date(2026, 3, 20),
    )


def test_a_promise_is_judged_once(session: Session) -> None:
    upsert_promise(session, PROMISE, at=T0)
    judged = judge_promise(
        session, PROMISE.promise_key, PromiseStatus.PARTIALLY_KEPT, at=T0 + timedelta(days=9)
    )
    assert judged.status is PromiseStatus.PARTIALLY_KEPT

    with pytest.raises(ValueError, match="already judged partially_kept"):
        judge_promise(session, PROMISE.promise_key, PromiseStatus.BROKEN, at=T0)
    with pytest.raises(ValueError, match="verdict"):
        judge_promise(session, PROMISE.promise_key, PromiseStatus.PENDING, at=T0)
    with pytest.raises(LookupError, match="no promise"):
        judge_promise(session, "missing", PromiseStatus.KEPT, at=T0)


def test_promises_due_are_pending_ones_up_to_the_date(session: Session) -> None:
    upsert_promise(session, PROMISE, at=T0)
    upsert_promise(
        session, replace(PROMISE, promise_key="P2", promised_date=date(2026, 3, 5)), at=T0
    )
    upsert_promise(
        session, replace(PROMISE, promise_key="P3", promised_date=date(2026, 3, 11)), at=T0
    )
    upsert_promise(
        session, replace(PROMISE, promise_key="P4", promised_date=date(2026, 3, 1)), at=T0
    )
    judge_promise(session, "P4", PromiseStatus.KEPT, at=T0)

    due = promises_due(session, date(2026, 3, 10))

    assert [promise.promise_key for promise in due] == ["P2", PROMISE.promise_key]


def test_outcome_is_recorded_once_per_salesforce_task(session: Session) -> None:
    assert record_outcome(session, CALL, at=T0) is True
    assert record_outcome(session, CALL, at=T0 + timedelta(minutes=5)) is False
    session.commit()

    [outcome] = session.scalars(select(Outcome)).all()
    assert (outcome.outcome_code, outcome.notes, outcome.recorded_at) == (
        "promise_to_pay",
        "Will pay 5,000 on the 10th",
        T0,
    )
    assert outcome.written_back is False


def test_outcomes_wait_for_write_back_oldest_first(session: Session) -> None:
    record_outcome(session, CALL, at=T0)
    record_outcome(
        session,
        replace(CALL, salesforce_task_id="00T000000000008AAA", completed_at=T0 - timedelta(days=1)),
        at=T0,
    )

    pending = [outcome.salesforce_task_id for outcome in outcomes_to_write_back(session)]
    mark_written_back(session, "00T000000000008AAA", at=T0 + timedelta(minutes=1))
    remaining = outcomes_to_write_back(session)

    assert pending == ["00T000000000008AAA", "00T000000000009AAA"]
    assert [outcome.salesforce_task_id for outcome in remaining] == ["00T000000000009AAA"]
    written = session.scalars(
        select(Outcome).where(Outcome.salesforce_task_id == "00T000000000008AAA")
    ).one()
    assert (written.written_back, written.written_back_at) == (True, T0 + timedelta(minutes=1))
    assert session.scalar(select(func.count()).select_from(Outcome)) == 2


def test_writing_back_an_unknown_outcome_is_an_error(session: Session) -> None:
    with pytest.raises(LookupError, match="00T000000000404AAA"):
        mark_written_back(session, "00T000000000404AAA", at=T0)
