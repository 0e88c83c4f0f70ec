"""Money and timestamps round-trip exactly on both dialects; bad values are refused, not rounded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from sfsync.store.models import Promise, PromiseStatus
from sfsync.store.types import to_money
from tests.store.conftest import T0

AMOUNTS = [
    Decimal("0.01"),
    Decimal("12340.10"),
    Decimal("-250.05"),
    Decimal(0),
    Decimal("9999999999999999.99"),  # the largest NUMERIC(18, 2); a float would lose the cents
    Decimal("1234567890123456.78"),
]


def _promise(key: str, amount: Decimal, created_at: datetime = T0) -> Promise:
    return Promise(
        promise_key=key,
        customer_id="C1",
        case_key="erp:C1:1",
        promised_date=date(2026, 3, 10),
        amount=amount,
        currency="USD",
        status=PromiseStatus.PENDING,
        created_at=created_at,
    )


def _reload(session: Session, key: str) -> Promise:
    session.expunge_all()
    return session.scalars(select(Promise).where(Promise.promise_key == key)).one()


@pytest.mark.parametrize("amount", AMOUNTS, ids=str)
def test_money_round_trips_as_exact_decimal(session: Session, amount: Decimal) -> None:
    session.add(_promise("P1", amount))
    session.commit()

    stored = _reload(session, "P1").amount

    assert isinstance(stored, Decimal)
    assert stored == amount
    assert stored.as_tuple().exponent == -2


def test_money_sums_exactly_in_sql(session: Session) -> None:
    session.add_all(
        [_promise(f"P{i}", Decimal("0.10")) for i in range(3)]
        + [_promise("big", Decimal("1000000000000000.01"))]
    )
    session.commit()

    total = session.scalar(select(func.sum(Promise.amount)))

    assert total == Decimal("1000000000000000.31")


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (12.1, "Decimal or int"),
        (Decimal("1.005"), "fractions of a cent"),
        (Decimal("10000000000000000.00"), "exceeds NUMERIC"),
        (Decimal("NaN"), "finite"),
    ],
    ids=["float", "sub-cent", "too-large", "nan"],
)
def test_inexact_money_is_refused_before_anything_is_written(
    session: Session, amount: object, error: str
) -> None:
    session.add(_promise("bad", amount))  # type: ignore[arg-type]
    with pytest.raises(StatementError, match=error):
        session.commit()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Promise)) == 0


def test_to_money_accepts_whole_numbers() -> None:
    assert to_money(42) == Decimal("42.00")
    with pytest.raises(TypeError):
        to_money(True)


def test_timestamps_come_back_aware_utc_and_equal(session: Session) -> None:
    session.add(_promise("P1", Decimal(1), created_at=datetime(2026, 3, 2, 9, 30, 15, 123456, UTC)))
    session.commit()

    created = _reload(session, "P1").created_at

    assert created == datetime(2026, 3, 2, 9, 30, 15, 123456, UTC)
    assert created.utcoffset() == timedelta(0)


def test_timestamps_in_other_offsets_are_stored_as_the_same_instant(session: Session) -> None:
    new_york = timezone(timedelta(hours=-5))
    session.add(_promise("P1", Decimal(1), created_at=datetime(2026, 3, 2, 4, 30, tzinfo=new_york)))
    session.commit()

    created = _reload(session, "P1").created_at

    assert created == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert created.tzinfo is UTC


def test_timestamps_order_correctly_across_offsets(session: Session) -> None:
    plus_two = timezone(timedelta(hours=2))
    session.add(
        _promise("early", Decimal(1), created_at=datetime(2026, 3, 2, 10, 0, tzinfo=plus_two))
    )
    session.add(_promise("late", Decimal(1), created_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    session.commit()

    order = session.scalars(select(Promise.promise_key).order_by(Promise.created_at)).all()

    assert order == ["early", "late"]


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(_promise("P1", Decimal(1), created_at=datetime(2026, 3, 2, 9, 30)))  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
