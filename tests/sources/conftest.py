"""Source fixtures: an accounting database on SQLite and on the real PostgreSQL server.

``accounting`` is an empty database of the test's dialect holding the conventional tables the
SQL source reads by default (typed: numeric money, dates, timestamps, booleans), with helpers
to add rows the way an accounting system would. Every timestamp is naive UTC, as most
accounting databases keep them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    update,
)

from sfsync.clock import FixedClock
from sfsync.sources.sql import create_source_engine
from tests.fixtures.databases import DIALECTS, empty_database

T0 = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)
DAY0 = T0.date()

metadata = MetaData()
customers = Table(
    "customers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
)
invoices = Table(
    "invoices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40)),
    Column("number", String(40)),
    Column("currency", String(8)),
    Column("amount", Numeric(14, 2)),
    Column("balance", Numeric(14, 2)),
    Column("issue_date", Date),
    Column("due_date", Date),
    Column("status", String(16)),
    Column("disputed", Boolean, default=False),
    Column("dispute_reason", String(200), default=""),
    Column("updated_at", DateTime),
)
payments = Table(
    "payments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_id", String(40)),
    Column("currency", String(8)),
    Column("amount", Numeric(14, 2)),
    Column("received_on", Date),
    Column("kind", String(16)),
    Column("applied_to", String(40)),
    Column("updated_at", DateTime),
)
notes = Table(
    "ar_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(40), nullable=False),
    Column("invoice_id", String(40)),
    Column("note", String(2000), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def naive(moment: datetime) -> datetime:
    """Naive UTC, as the accounting database stores it."""
    return moment.astimezone(UTC).replace(tzinfo=None)


@dataclass
class Accounting:
    """The accounting database of one test, and ways to change it."""

    engine: Engine
    dialect: str

    def customer(self, ident: str, name: str | None = None) -> None:
        """Add a customer."""
        with self.engine.begin() as connection:
            connection.execute(insert(customers).values(id=ident, name=name or f"{ident} Ltd"))

    def invoice(
        self,
        ident: str,
        customer_id: str | None,
        *,
        amount: str = "1000.00",
        balance: str | None = None,
        issued: date = date(2026, 1, 1),
        due: date = date(2026, 1, 31),
        status: str = "open",
        currency: str = "USD",
        at: datetime = T0,
        disputed: bool = False,
    ) -> None:
        """Add an invoice, last updated ``at``."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(invoices).values(
                    id=ident,
                    customer_id=customer_id,
                    number=f"INV-{ident}",
                    currency=currency,
                    amount=Decimal(amount),
                    balance=Decimal(amount if balance is None else balance),
                    issue_date=issued,
                    due_date=due,
                    status=status,
                    disputed=disputed,
                    dispute_reason="",
                    updated_at=naive(at),
                )
            )

    def change_invoice(self, ident: str, *, at: datetime, **values: object) -> None:
        """Edit an invoice as the accounting system would, stamping ``updated_at``."""
        with self.engine.begin() as connection:
            connection.execute(
                update(invoices)
                .where(invoices.c.id == ident)
                .values(**values, updated_at=naive(at))
            )

    def payment(
        self,
        ident: str,
        customer_id: str,
        amount: str,
        *,
        received: date,
        at: datetime,
        kind: str = "payment",
        applied_to: str | None = None,
    ) -> None:
        """Add a payment or credit."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(payments).values(
                    id=ident,
                    customer_id=customer_id,
                    currency="USD",
                    amount=Decimal(amount),
                    received_on=received,
                    kind=kind,
                    applied_to=applied_to,
                    updated_at=naive(at),
                )
            )


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: the accounting database the test reads."""
    name: str = request.param
    return name


@pytest.fixture
def accounting_url(dialect: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an empty database of the test's dialect (a new file, or a new database)."""
    with empty_database(request, dialect, "accounting") as url:
        yield url


@pytest.fixture
def accounting(accounting_url: str, dialect: str) -> Iterator[Accounting]:
    """The accounting database with empty customers, invoices, payments and notes tables."""
    engine = create_source_engine(accounting_url)
    metadata.create_all(engine)
    yield Accounting(engine, dialect)
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    """The source's clock, at 08:00 UTC on the first day of the test."""
    return FixedClock(T0)
