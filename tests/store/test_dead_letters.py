"""Dead letters and quarantined rows: failures are kept with their reasons, never dropped."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from sfsync.store.repositories import (
    list_dead_letters,
    list_quarantined,
    quarantine_row,
    record_dead_letter,
    release_quarantined,
    resolve_dead_letter,
    resolve_dead_letters_for,
    start_run,
)
from tests.store.conftest import T0

PAYLOAD = {"Collections_Key__c": "erp:C-100:1", "Past_Due_Amount__c": "12340.10"}


def _fail(
    session: Session,
    key: str = "erp:C-100:1",
    code: str = "FIELD_CUSTOM_VALIDATION_EXCEPTION",
    at_minutes: int = 0,
) -> int:
    letter = record_dead_letter(
        session,
        sobject="Case",
        record_key=key,
        operation="upsert",
        payload=PAYLOAD,
        error_code=code,
        message="Amount must be positive",
        at=T0 + timedelta(minutes=at_minutes),
    )
    return letter.id


def test_dead_letter_keeps_code_message_and_payload(session: Session) -> None:
    run = start_run(session, kind="cycle", source="erp", started_at=T0)
    assert run is not None
    record_dead_letter(
        session,
        sobject="Case",
        record_key="erp:C-100:1",
        operation="upsert",
        payload=PAYLOAD,
        error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
        message="Amount must be positive",
        at=T0,
        run_id=run.id,
    )
    session.commit()
    session.expunge_all()

    [letter] = list_dead_letters(session)

    assert (letter.sobject, letter.record_key, letter.operation) == (
        "Case",
        "erp:C-100:1",
        "upsert",
    )
    assert (letter.error_code, letter.message) == (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Amount must be positive",
    )
    assert letter.payload == PAYLOAD
    assert (letter.attempts, letter.first_failed_at, letter.last_failed_at) == (1, T0, T0)
    assert letter.run_id == run.id
    assert letter.resolved_at is None


def test_payload_with_decimals_and_dates_is_kept_as_text(session: Session) -> None:
    record_dead_letter(
        session,
        sobject="AR_Invoice__c",
        record_key="erp:INV-1",
        operation="upsert",
        payload={"Balance__c": Decimal("10.50"), "Due_Date__c": date(2026, 2, 1)},
        error_code="INVALID_TYPE",
        message="bad",
        at=T0,
    )
    session.commit()
    session.expunge_all()

    [letter] = list_dead_letters(session)

    assert letter.payload == {"Balance__c": "10.50", "Due_Date__c": "2026-02-01"}


def test_repeated_failure_updates_the_open_letter(session: Session) -> None:
    first = _fail(session)
    second = _fail(session, code="STRING_TOO_LONG", at_minutes=5)
    session.commit()

    [letter] = list_dead_letters(session)

    assert first == second == letter.id
    assert (letter.attempts, letter.error_code) == (2, "STRING_TOO_LONG")
    assert (letter.first_failed_at, letter.last_failed_at) == (T0, T0 + timedelta(minutes=5))


def test_resolve_removes_it_from_the_open_list_and_a_new_failure_opens_a_new_letter(
    session: Session,
) -> None:
    letter_id = _fail(session)

    assert resolve_dead_letter(session, letter_id, at=T0 + timedelta(hours=1)) is True
    assert resolve_dead_letter(session, letter_id, at=T0 + timedelta(hours=2)) is False
    assert list_dead_letters(session) == []

    again = _fail(session, at_minutes=180)
    session.commit()

    history = list_dead_letters(session, include_resolved=True)
    assert [letter.id for letter in history] == [letter_id, again]
    assert history[0].resolved_at == T0 + timedelta(hours=1)
    assert [letter.id for letter in list_dead_letters(session)] == [again]


def test_resolving_an_unknown_letter_is_an_error(session: Session) -> None:
    with pytest.raises(LookupError, match="no dead letter 4040"):
        resolve_dead_letter(session, 4040, at=T0)


def test_resolve_all_letters_of_a_record_after_a_successful_write(session: Session) -> None:
    _fail(session)
    record_dead_letter(
        session,
        sobject="Case",
        record_key="erp:C-100:1",
        operation="update",
        payload={},
        error_code="UNABLE_TO_LOCK_ROW",
        message="locked",
        at=T0,
    )
    other = _fail(session, key="erp:C-200:1")

    resolved = resolve_dead_letters_for(
        session, sobject="Case", record_key="erp:C-100:1", at=T0 + timedelta(hours=1)
    )

    assert resolved == 2
    assert [letter.id for letter in list_dead_letters(session)] == [other]


def test_list_filters_by_object_and_limits(session: Session) -> None:
    for minute in range(3):
        _fail(session, key=f"erp:C-{minute}:1", at_minutes=minute)
    record_dead_letter(
        session,
        sobject="Task",
        record_key="erp:C-0:1:day7_call",
        operation="create",
        payload={},
        error_code="INVALID_CROSS_REFERENCE_KEY",
        message="bad WhatId",
        at=T0,
    )

    cases = list_dead_letters(session, sobject="Case", limit=2)

    assert [letter.record_key for letter in cases] == ["erp:C-0:1", "erp:C-1:1"]
    assert len(list_dead_letters(session)) == 4


def test_bad_source_row_is_quarantined_with_its_reason(session: Session) -> None:
    raw = {"invoice": "INV-9", "due_date": "31/02/2026", "amount": "12,5"}
    row = quarantine_row(
        session, source="erp", row_key="INV-9", reason="due_date: not a date", raw=raw, at=T0
    )
    session.commit()

    assert (row.reason, row.raw, row.first_seen, row.last_seen) == (
        "due_date: not a date",
        raw,
        T0,
        T0,
    )


def test_quarantined_row_seen_again_keeps_its_first_sighting(session: Session) -> None:
    quarantine_row(session, source="erp", row_key="INV-9", reason="bad date", raw={}, at=T0)
    later = T0 + timedelta(hours=1)
    quarantine_row(
        session, source="erp", row_key="INV-9", reason="bad amount", raw={"a": 1}, at=later
    )
    quarantine_row(session, source="csv", row_key="INV-9", reason="bad date", raw={}, at=T0)
    session.commit()

    [row] = list_quarantined(session, "erp")

    assert (row.reason, row.raw, row.first_seen, row.last_seen) == (
        "bad amount",
        {"a": 1},
        T0,
        later,
    )
    assert len(list_quarantined(session)) == 2


def test_fixed_row_leaves_quarantine(session: Session) -> None:
    quarantine_row(session, source="erp", row_key="INV-9", reason="bad date", raw={}, at=T0)

    assert release_quarantined(session, source="erp", row_key="INV-9") is True
    assert release_quarantined(session, source="erp", row_key="INV-9") is False
    assert list_quarantined(session) == []
