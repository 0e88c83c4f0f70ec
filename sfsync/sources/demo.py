"""The bundled demo ledger: a SQLite accounting database served through the real SQL source.

:func:`build_demo_ledger` writes the deterministic ledger of :func:`sfsync.demo.generate_ledger`
(a few hundred customers by default; 10,000 accounts / 100,000 invoices for benchmarks) into a
SQLite file, streaming customers in batches so a large ledger never sits in memory.
:func:`demo_source` opens it (building it on first use under ``var/``) as a
:class:`~sfsync.sources.sql.SqlSource` with the shipped :data:`DEMO_LAYOUT`, so the demo goes
through exactly the SQL path a customer's database does.

Money and dates are stored as text, the way many ledgers export them, so the generator's bad
rows (``1,200.00 EUR``, ``2026-02-30``) reach the source and are quarantined like real ones.

:class:`DemoLedger` moves the ledger forward for the demo and tests, as an accounting team
would: :meth:`~DemoLedger.record_payment` applies cash to the oldest invoices due,
:meth:`~DemoLedger.mark_disputed` flags an invoice. There is no "advance" on the ledger itself:
time is the clock's (:meth:`~DemoLedger.advance` moves the injected clock), and invoices go past
due without being edited, which is exactly what the source's due-date window must catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    select,
    update,
)

from sfsync.clock import Clock, FixedClock
from sfsync.demo import DEMO_CUSTOMERS, DEMO_DATE, DEMO_SEED, DemoCustomer, generate_ledger
from sfsync.domain import InvoiceStatus
from sfsync.errors import SfsyncError
from sfsync.sources.sql import SqlLayout, SqlSource, create_source_engine

#: Where the embedded default keeps its demo ledger.
DEFAULT_LEDGER_PATH = Path("var/demo-ledger.sqlite")
NOTES_TABLE = "collection_notes"
#: The column map shipped with the demo: the SQL source's defaults plus the notes table.
DEMO_LAYOUT = SqlLayout(notes_table=NOTES_TABLE)
#: Customers written per transaction (about 2,000 invoice rows).
_CUSTOMERS_PER_BATCH = 200

_metadata = MetaData()
customers_table = Table(
    "customers",
    _metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("updated_at", DateTime),
)
invoices_table = Table(
    "invoices",
    _metadata,
    Column("id", String, primary_key=True),
    Column("customer_id", String, index=True),
    Column("number", String),
    Column("currency", String),
    Column("amount", String),
    Column("balance", String),
    Column("issue_date", String),
    Column("due_date", String, index=True),
    Column("status", String),
    Column("disputed", Boolean),
    Column("dispute_reason", String),
    Column("updated_at", DateTime, index=True),
)
payments_table = Table(
    "payments",
    _metadata,
    Column("id", String, primary_key=True),
    Column("customer_id", String, index=True),
    Column("currency", String),
    Column("amount", String),
    Column("received_on", String),
    Column("kind", String),
    Column("applied_to", String),
    Column("updated_at", DateTime, index=True),
)
notes_table = Table(
    NOTES_TABLE,
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String, nullable=False),
    Column("invoice_id", String),
    Column("note", String, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


class DemoLedgerError(SfsyncError):
    """A demo ledger helper was asked for something the ledger does not hold."""


def build_demo_ledger(
    path: Path,
    *,
    customers: int = DEMO_CUSTOMERS,
    invoices_per_customer: int = 10,
    as_of: date = DEMO_DATE,
    seed: int = DEMO_SEED,
) -> Path:
    """Write a fresh ledger to ``path`` (replacing it) and return ``path``.

    Built in a temporary file renamed at the end, so a crash never leaves half a ledger that
    later reads would take for the whole one. Every row's ``updated_at`` is midnight UTC of
    the day before ``as_of``: the ledger as it stood when the demo starts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    building = path.with_name(path.name + ".building")
    building.unlink(missing_ok=True)
    engine = create_source_engine(f"sqlite:///{building}")
    try:
        _metadata.create_all(engine)
        stamp = datetime.combine(as_of - timedelta(days=1), time(), UTC).replace(tzinfo=None)
        ledger = generate_ledger(
            customers, invoices_per_customer=invoices_per_customer, as_of=as_of, seed=seed
        )
        for batch in _batches(ledger):
            _insert_batch(engine, batch, stamp)
    finally:
        engine.dispose()
    building.replace(path)
    return path


def _batches(ledger: Iterator[DemoCustomer]) -> Iterator[list[DemoCustomer]]:
    batch: list[DemoCustomer] = []
    for customer in ledger:
        batch.append(customer)
        if len(batch) == _CUSTOMERS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert_batch(engine: Engine, batch: list[DemoCustomer], stamp: datetime) -> None:
    customers = [{"id": c.customer.id, "name": c.customer.name, "updated_at": stamp} for c in batch]
    invoices = [
        {
            "id": str(row.get("id")),
            "customer_id": str(row.get("customer_id", "")),
            "number": row.get("number"),
            "currency": row.get("currency"),
            "amount": _text(row.get("amount")),
            "balance": _text(row.get("balance")),
            "issue_date": _text(row.get("issue_date")),
            "due_date": _text(row.get("due_date")),
            "status": row.get("status", InvoiceStatus.OPEN.value),
            "disputed": bool(row.get("disputed", False)),
            "dispute_reason": row.get("dispute_reason", ""),
            "updated_at": stamp,
        }
        for c in batch
        for row in c.invoices
    ]
    payments = [
        {
            "id": p.id,
            "customer_id": p.customer_id,
            "currency": p.currency,
            "amount": str(p.amount),
            "received_on": p.received_on.isoformat(),
            "kind": p.kind.value,
            "applied_to": p.applied_to,
            "updated_at": stamp,
        }
        for c in batch
        for p in c.payments
    ]
    with engine.begin() as connection:
        connection.execute(insert(customers_table), customers)
        if invoices:
            connection.execute(insert(invoices_table), invoices)
        if payments:
            connection.execute(insert(payments_table), payments)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def ensure_demo_ledger(path: Path = DEFAULT_LEDGER_PATH) -> Path:
    """The ledger at ``path``, built from the default generator on first use."""
    if not path.exists():
        build_demo_ledger(path)
    return path


def demo_source(
    clock: Clock | None = None,
    *,
    path: Path = DEFAULT_LEDGER_PATH,
    name: str = "demo",
) -> SqlSource:
    """The demo ledger as a SQL source (built on first use), reading with ``clock``."""
    ensure_demo_ledger(path)
    engine = create_source_engine(f"sqlite:///{path}")
    return SqlSource(name, engine, DEMO_LAYOUT, clock or FixedClock(_demo_start()))


def _demo_start() -> datetime:
    """The demo's first morning: 08:00 UTC on :data:`sfsync.demo.DEMO_DATE`."""
    return datetime.combine(DEMO_DATE, time(8), UTC)


class DemoLedger:
    """Moves the demo ledger forward the way an accounting team would, at the clock's time."""

    def __init__(self, engine: Engine, clock: FixedClock) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def today(self) -> date:
        """The clock's date: the demo's ``as_of``."""
        return self._clock.now().date()

    def advance(self, days: int) -> date:
        """Move the clock ``days`` forward; nothing in the ledger changes. Returns the new day."""
        self._clock.advance(timedelta(days=days))
        return self.today

    def record_payment(
        self, customer_id: str, amount: Decimal, at: datetime | None = None
    ) -> list[str]:
        """Apply cash to the customer's open invoices, oldest due first; return the ids paid into.

        Each application is a payment row ``applied_to`` its invoice, whose balance drops (and
        whose status becomes paid at zero); what is left over stays an unapplied payment.
        Only undisputed invoices in the customer's first currency with a balance are paid.
        """
        moment = _naive(at or self._clock.now())
        left = amount
        touched: list[str] = []
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(invoices_table)
                .where(
                    invoices_table.c.customer_id == customer_id,
                    invoices_table.c.status == InvoiceStatus.OPEN.value,
                    invoices_table.c.disputed.is_not(True),
                )
                .order_by(invoices_table.c.due_date, invoices_table.c.id)
            ).all()
            usable = [row for row in rows if _is_money(row.balance) and Decimal(row.balance) > 0]
            if not usable:
                raise DemoLedgerError(f"customer {customer_id} has no open invoice to pay")
            currency = usable[0].currency
            serial = connection.execute(
                select(func.count()).where(payments_table.c.customer_id == customer_id)
            ).scalar_one()
            for row in usable:
                if left <= 0 or row.currency != currency:
                    continue
                balance = Decimal(row.balance)
                paid = min(balance, left)
                left -= paid
                serial += 1
                remaining = balance - paid
                connection.execute(
                    update(invoices_table)
                    .where(invoices_table.c.id == row.id)
                    .values(
                        balance=str(remaining),
                        status=InvoiceStatus.PAID.value if remaining == 0 else row.status,
                        updated_at=moment,
                    )
                )
                connection.execute(
                    insert(payments_table).values(
                        _payment(
                            customer_id,
                            serial,
                            currency=currency,
                            amount=paid,
                            moment=moment,
                            applied_to=row.id,
                        )
                    )
                )
                touched.append(row.id)
            if left > 0:
                serial += 1
                connection.execute(
                    insert(payments_table).values(
                        _payment(
                            customer_id,
                            serial,
                            currency=currency,
                            amount=left,
                            moment=moment,
                            applied_to=None,
                        )
                    )
                )
        return touched

    def mark_disputed(self, invoice_id: str, reason: str, at: datetime | None = None) -> None:
        """Flag ``invoice_id`` as disputed with ``reason`` (the invoice leaves the chase)."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(invoices_table)
                .where(invoices_table.c.id == invoice_id)
                .values(
                    disputed=True,
                    dispute_reason=reason,
                    updated_at=_naive(at or self._clock.now()),
                )
            )
            if result.rowcount != 1:
                raise DemoLedgerError(f"invoice {invoice_id} is not in the demo ledger")

    def notes(self, customer_id: str) -> list[str]:
        """Notes written back for ``customer_id``, oldest first (what the writeback produced)."""
        with self._engine.connect() as connection:
            return list(
                connection.execute(
                    select(notes_table.c.note)
                    .where(notes_table.c.customer_id == customer_id)
                    .order_by(notes_table.c.id)
                ).scalars()
            )

    def open_invoice_ids(self, customer_id: str) -> list[str]:
        """Ids of the customer's open invoices, oldest due first."""
        with self._engine.connect() as connection:
            return list(
                connection.execute(
                    select(invoices_table.c.id)
                    .where(
                        and_(
                            invoices_table.c.customer_id == customer_id,
                            invoices_table.c.status == InvoiceStatus.OPEN.value,
                        )
                    )
                    .order_by(invoices_table.c.due_date, invoices_table.c.id)
                ).scalars()
            )


def _payment(
    customer_id: str,
    serial: int,
    *,
    currency: str,
    amount: Decimal,
    moment: datetime,
    applied_to: str | None,
) -> dict[str, object]:
    return {
        "id": f"{customer_id}-R{serial}",
        "customer_id": customer_id,
        "currency": currency,
        "amount": str(amount),
        "received_on": moment.date().isoformat(),
        "kind": "payment",
        "applied_to": applied_to,
        "updated_at": moment,
    }


def _naive(moment: datetime) -> datetime:
    """The demo ledger keeps UTC timestamps without a zone, like many accounting databases."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _is_money(value: object) -> bool:
    try:
        Decimal(str(value))
    except ArithmeticError:
        return False
    return True


__all__ = [
    "DEFAULT_LEDGER_PATH",
    "DEMO_LAYOUT",
    "DemoLedger",
    "DemoLedgerError",
    "build_demo_ledger",
    "demo_source",
    "ensure_demo_ledger",
]
