"""The alert delivery record on SQLite and PostgreSQL: claims, attempts, problems, migration."""

from __future__ import annotations

from datetime import date, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from sfsync.store.alerts import (
    DeliveryStatus,
    DeliveryValues,
    claim_delivery,
    close_routing_problems,
    delivery_key,
    delivery_problems,
    get_delivery,
    mark_delivery_failed,
    mark_delivery_sent,
    problem_counts,
    record_attempt,
    record_routing_problem,
)
from sfsync.store.db import create_engine_from_url, downgrade_database, upgrade_database
from sfsync.store.models import Base
from tests.alerts.conftest import T0

STALE = timedelta(minutes=15)


def _values(recipient: str = "boss@example.com") -> DeliveryValues:
    return DeliveryValues(
        key=delivery_key("immediate", "500000000000001AAA", "14d", "email", recipient),
        channel="email",
        recipient=recipient,
        mode="immediate",
        case_id="500000000000001AAA",
        case_number="00001001",
        threshold="14d",
    )


def _claim(session: Session, values: DeliveryValues, minutes: int = 0) -> bool:
    return claim_delivery(session, values, now=T0 + timedelta(minutes=minutes), stale_after=STALE)


def test_key_is_claimed_once_while_pending_and_never_after_sent(
    any_sessions: sessionmaker[Session],
) -> None:
    values = _values()
    with any_sessions() as first, any_sessions() as second:
        assert _claim(first, values)
        first.commit()
        assert not _claim(second, values, minutes=5)  # another sender holds it
        second.rollback()
        mark_delivery_sent(first, values.key, at=T0)
        first.commit()
        assert not _claim(second, values, minutes=60)  # sent: never again
        row = get_delivery(second, values.key)
    assert row is not None
    assert row.status is DeliveryStatus.SENT
    assert row.sent_at == T0


def test_failed_and_abandoned_deliveries_can_be_claimed_again(
    any_sessions: sessionmaker[Session],
) -> None:
    failed, abandoned = _values("a@example.com"), _values("b@example.com")
    with any_sessions() as session:
        assert _claim(session, failed)
        assert _claim(session, abandoned)
        mark_delivery_failed(session, failed.key, error="RetryableError: down", at=T0)
        session.commit()

        assert _claim(session, failed, minutes=1)
        assert not _claim(session, abandoned, minutes=14)
        assert _claim(session, abandoned, minutes=16)
        session.commit()
        rows = [get_delivery(session, values.key) for values in (failed, abandoned)]
    assert [row.status if row else None for row in rows] == [DeliveryStatus.PENDING] * 2


def test_attempts_are_counted_and_the_last_error_kept(any_sessions: sessionmaker[Session]) -> None:
    values = _values()
    with any_sessions() as session:
        _claim(session, values)
        record_attempt(session, values.key, at=T0, error="RetryableError: 503")
        record_attempt(
            session, values.key, at=T0 + timedelta(seconds=2), error="RetryableError: 502"
        )
        record_attempt(session, values.key, at=T0 + timedelta(seconds=6))
        mark_delivery_sent(session, values.key, at=T0 + timedelta(seconds=6))
        session.commit()
        row = get_delivery(session, values.key)
    assert row is not None
    assert (row.attempts, row.last_error) == (3, "RetryableError: 502")
    assert row.updated_at == T0 + timedelta(seconds=6)


def test_problems_list_failures_routing_problems_and_stuck_sends_newest_first(
    any_sessions: sessionmaker[Session],
) -> None:
    sent, failed, stuck = (
        _values("s@example.com"),
        _values("f@example.com"),
        _values("p@example.com"),
    )
    routing = DeliveryValues(
        key=delivery_key("routing", "500000000000002AAA", "14d", "owner_inactive"),
        channel="routing",
        recipient="005000000000009AAA",
        mode="owner_inactive",
        case_id="500000000000002AAA",
        case_number="00001002",
        threshold="14d",
    )
    with any_sessions() as session:
        _claim(session, sent)
        mark_delivery_sent(session, sent.key, at=T0)
        _claim(session, stuck)
        _claim(session, failed)
        mark_delivery_failed(session, failed.key, error="PermanentError: 400", at=T0 + timedelta(1))
        record_routing_problem(session, routing, message="owner left", at=T0 + timedelta(2))
        record_routing_problem(session, routing, message="owner still gone", at=T0 + timedelta(3))
        session.commit()

        without_stuck = delivery_problems(session)
        with_stuck = delivery_problems(session, now=T0 + timedelta(hours=1), stuck_after=STALE)
    assert [(row.recipient, row.last_error, row.attempts) for row in without_stuck] == [
        ("005000000000009AAA", "owner still gone", 2),
        ("f@example.com", "PermanentError: 400", 0),
    ]
    assert [row.recipient for row in with_stuck] == [
        "005000000000009AAA",
        "f@example.com",
        "p@example.com",
    ]


def test_digest_keys_differ_by_day() -> None:
    monday = delivery_key("digest", "email", "boss@example.com", date(2026, 3, 2).isoformat())
    tuesday = delivery_key("digest", "email", "boss@example.com", date(2026, 3, 3).isoformat())
    assert monday != tuesday
    assert len(monday) == 64


def _only_alert_deliveries(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Compare this migration's table only: later migrations belong to other models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "alert_deliveries"


def test_migration_0002_matches_the_model_and_downgrades_cleanly(empty_store_url: str) -> None:
    upgrade_database(empty_store_url, "0002")
    engine = create_engine_from_url(empty_store_url)
    try:
        with engine.connect() as connection:
            assert "alert_deliveries" in inspect(connection).get_table_names()
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_object": _only_alert_deliveries},
            )
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
        downgrade_database(empty_store_url, "0001")
        assert "alert_deliveries" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_problems_are_counted_by_kind_and_routing_problems_close_and_reopen(
    any_sessions: sessionmaker[Session],
) -> None:
    routing = DeliveryValues(
        key=delivery_key("routing", "500000000000002AAA", "14d", "unknown_manager"),
        channel="routing",
        recipient="005000000000009AAA",
        mode="unknown_manager",
        case_id="500000000000002AAA",
        case_number="00001002",
        threshold="14d",
    )
    failed, stuck = _values("f@example.com"), _values("p@example.com")
    with any_sessions() as session:
        _claim(session, stuck)
        _claim(session, failed)
        mark_delivery_failed(session, failed.key, error="PermanentError: 400", at=T0)
        record_routing_problem(session, routing, message="no manager", at=T0)
        session.commit()
        counts = problem_counts(session, now=T0 + timedelta(hours=1), stuck_after=STALE)
        closed = close_routing_problems(session, "500000000000002AAA", "14d", at=T0)
        other = close_routing_problems(session, "500000000000002AAA", "30d", at=T0)
        session.commit()
        after_close = problem_counts(session)
        record_routing_problem(session, routing, message="no manager again", at=T0)
        session.commit()
        reopened = get_delivery(session, routing.key)

    assert counts == {"email failed": 1, "email stuck": 1, "routing unknown_manager": 1}
    assert (closed, other) == (1, 0)
    assert after_close == {"email failed": 1}
    assert reopened is not None
    assert (reopened.status, reopened.sent_at) == (DeliveryStatus.FAILED, None)
