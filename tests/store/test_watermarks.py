"""Watermarks move forward only, never past the run's start (DESIGN.md invariant 4)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from sfsync.store.repositories import (
    advance_watermark,
    get_watermark,
    put_watermark_cursor,
    start_run,
)
from tests.store.conftest import T0

HOUR = timedelta(hours=1)


def _advance(session: Session, value_offset: timedelta, run_start_offset: timedelta) -> object:
    return advance_watermark(
        session,
        source="erp",
        stream="invoices",
        value=T0 + value_offset,
        run_started_at=T0 + run_start_offset,
        at=T0 + run_start_offset,
    )


def test_no_watermark_before_the_first_run(session: Session) -> None:
    assert get_watermark(session, "erp", "invoices") is None


def test_first_advance_stores_the_value(session: Session) -> None:
    assert _advance(session, -HOUR, timedelta(0)) == T0 - HOUR
    session.commit()
    session.expunge_all()

    stored = get_watermark(session, "erp", "invoices")
    assert stored is not None
    assert stored.value_at == T0 - HOUR


def test_watermark_never_moves_backwards(session: Session) -> None:
    _advance(session, timedelta(0), HOUR)
    session.commit()

    stored = _advance(session, -3 * HOUR, 2 * HOUR)  # a late, replayed run saw older rows
    session.commit()

    assert stored == T0
    watermark = get_watermark(session, "erp", "invoices")
    assert watermark is not None
    assert watermark.value_at == T0


def test_watermark_is_capped_at_the_run_start(session: Session) -> None:
    stored = _advance(session, 5 * HOUR, HOUR)  # a source clock ahead of ours
    session.commit()

    assert stored == T0 + HOUR
    watermark = get_watermark(session, "erp", "invoices")
    assert watermark is not None
    assert watermark.value_at == T0 + HOUR


def test_watermark_moves_forward_and_records_the_run(session: Session) -> None:
    run = start_run(session, kind="cycle", source="erp", started_at=T0 + 2 * HOUR)
    assert run is not None
    _advance(session, timedelta(0), HOUR)
    advance_watermark(
        session,
        source="erp",
        stream="invoices",
        value=T0 + HOUR,
        run_started_at=T0 + 2 * HOUR,
        at=T0 + 2 * HOUR,
        run_id=run.id,
    )
    session.commit()

    watermark = get_watermark(session, "erp", "invoices")
    assert watermark is not None
    assert (watermark.value_at, watermark.run_id, watermark.updated_at) == (
        T0 + HOUR,
        run.id,
        T0 + 2 * HOUR,
    )


def test_streams_are_independent(session: Session) -> None:
    _advance(session, timedelta(0), HOUR)
    advance_watermark(
        session, source="erp", stream="payments", value=T0 - HOUR, run_started_at=T0, at=T0
    )
    session.commit()

    invoices = get_watermark(session, "erp", "invoices")
    payments = get_watermark(session, "erp", "payments")
    assert invoices is not None
    assert payments is not None
    assert (invoices.value_at, payments.value_at) == (T0, T0 - HOUR)


def test_uncommitted_watermark_is_not_seen_by_another_session(
    session: Session, other_session: Session
) -> None:
    _advance(session, timedelta(0), HOUR)
    session.rollback()  # the run failed before its final commit

    assert get_watermark(other_session, "erp", "invoices") is None


def test_opaque_cursor_is_replaced(session: Session) -> None:
    put_watermark_cursor(session, source="csv", stream="aging", cursor="sha256:aaa", at=T0)
    put_watermark_cursor(session, source="csv", stream="aging", cursor="sha256:bbb", at=T0 + HOUR)
    session.commit()

    watermark = get_watermark(session, "csv", "aging")
    assert watermark is not None
    assert (watermark.cursor, watermark.updated_at, watermark.value_at) == (
        "sha256:bbb",
        T0 + HOUR,
        None,
    )
