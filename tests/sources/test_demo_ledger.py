"""The bundled demo ledger: deterministic, realistic, served by the SQL source, moved forward."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from sfsync.clock import FixedClock
from sfsync.demo import DEMO_DATE
from sfsync.domain import Invoice, InvoiceStatus, PaymentKind
from sfsync.sources.base import CustomerRecords, Watermark
from sfsync.sources.demo import (
    DemoLedger,
    DemoLedgerError,
    build_demo_ledger,
    customers_table,
    demo_source,
    invoices_table,
    payments_table,
)
from sfsync.sources.sql import SqlSource

OVERLAP = timedelta(minutes=10)
START = datetime.combine(DEMO_DATE, time(8), UTC)


def dump(path: Path) -> list[list[tuple[object, ...]]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return [
                [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
                for table in (customers_table, invoices_table, payments_table)
            ]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def ledger_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo ledger, built once for the module's read-only tests."""
    return build_demo_ledger(tmp_path_factory.mktemp("demo") / "demo-ledger.sqlite")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def source(ledger_file: Path, tmp_path: Path, clock: FixedClock) -> SqlSource:
    """A private copy of the demo ledger, as the SQL source the demo uses."""
    copy = tmp_path / "demo-ledger.sqlite"
    copy.write_bytes(ledger_file.read_bytes())
    return demo_source(clock, path=copy)


@pytest.fixture
def ledger(source: SqlSource, clock: FixedClock) -> DemoLedger:
    return DemoLedger(source.engine, clock)


def first_read(source: SqlSource) -> tuple[dict[str, CustomerRecords], Watermark]:
    batch = source.read_changes(None, DEMO_DATE, OVERLAP)
    return {record.customer.id: record for record in batch.customers}, batch.watermark


def test_the_ledger_is_built_deterministically(ledger_file: Path, tmp_path: Path) -> None:
    again = build_demo_ledger(tmp_path / "again.sqlite")

    tables = dump(ledger_file)
    assert tables == dump(again)
    customers, invoices, _ = tables
    assert len(customers) == 300
    assert len(invoices) > 5 * len(customers)


def test_the_ledger_has_partial_payments_credits_disputes_and_bad_rows(
    source: SqlSource,
) -> None:
    batch = source.read_changes(None, DEMO_DATE, OVERLAP)
    records = list(batch.customers)
    invoices = [invoice for record in records for invoice in record.invoices]
    payments = [payment for record in records for payment in record.payments]

    assert 200 <= len(records) <= 300  # customers with something open
    assert any(i.is_open and 0 < i.balance < i.amount for i in invoices)
    assert any(i.disputed and i.dispute_reason for i in invoices)
    assert any(p.kind is PaymentKind.CREDIT for p in payments)
    assert any(p.applied_to is None for p in payments)  # unapplied cash or credit
    assert len({i.currency for i in invoices}) >= 3
    skipped = [skip for record in records for skip in record.skipped] + list(batch.orphans)
    assert skipped
    assert all(skip.key.startswith("demo:") and skip.reason for skip in skipped)


def _oldest_two(record: CustomerRecords) -> list[Invoice]:
    usable = [i for i in record.invoices if i.is_chased]
    return sorted(usable, key=lambda i: (i.due_date, i.id))[:2]


def test_record_payment_pays_oldest_first_and_the_next_read_sees_it(
    source: SqlSource, ledger: DemoLedger, clock: FixedClock
) -> None:
    customers, watermark = first_read(source)
    record = next(
        r
        for r in customers.values()
        if len(_oldest_two(r)) == 2 and len({i.currency for i in r.invoices}) == 1
    )
    oldest, second = _oldest_two(record)
    clock.advance(timedelta(hours=2))

    paid_into = ledger.record_payment(record.customer.id, oldest.balance + Decimal("1.00"))

    changed = {
        r.customer.id: r for r in source.read_changes(watermark, DEMO_DATE, OVERLAP).customers
    }
    assert paid_into == [oldest.id, second.id]
    after = {i.id: i for i in changed[record.customer.id].invoices}
    assert (after[oldest.id].status, after[oldest.id].balance) == (InvoiceStatus.PAID, 0)
    assert after[second.id].balance == second.balance - Decimal("1.00")
    new_payments = [p for p in changed[record.customer.id].payments if p.received_on == DEMO_DATE]
    assert sorted((p.applied_to, p.amount) for p in new_payments) == sorted(
        [(oldest.id, oldest.balance), (second.id, Decimal("1.00"))]
    )


def test_overpayment_stays_unapplied(source: SqlSource, ledger: DemoLedger) -> None:
    customers, _ = first_read(source)
    record = next(r for r in customers.values() if len(_oldest_two(r)) == 1)
    total = sum((i.balance for i in record.invoices if i.is_chased), Decimal(0))

    ledger.record_payment(record.customer.id, total + Decimal(25))

    again = {r.customer.id: r for r in source.iter_customers(DEMO_DATE)}
    unapplied = [p for p in again[record.customer.id].payments if p.applied_to is None]
    assert [p.amount for p in unapplied if p.received_on == DEMO_DATE] == [Decimal(25)]
    with pytest.raises(DemoLedgerError, match="no open invoice to pay"):
        ledger.record_payment("CUST-999999", Decimal(1))


def test_mark_disputed_reaches_the_next_read(
    source: SqlSource, ledger: DemoLedger, clock: FixedClock
) -> None:
    customers, watermark = first_read(source)
    record = next(r for r in customers.values() if _oldest_two(r))
    target = _oldest_two(record)[0]
    clock.advance(timedelta(hours=1))

    ledger.mark_disputed(target.id, "pricing error")

    changed = {
        r.customer.id: r for r in source.read_changes(watermark, DEMO_DATE, OVERLAP).customers
    }
    invoice = next(i for i in changed[record.customer.id].invoices if i.id == target.id)
    assert (invoice.disputed, invoice.dispute_reason) == (True, "pricing error")
    with pytest.raises(DemoLedgerError, match="not in the demo ledger"):
        ledger.mark_disputed("NOPE-1", "x")


def test_advancing_the_clock_brings_invoices_past_due_without_edits(
    source: SqlSource, ledger: DemoLedger
) -> None:
    customers, _ = first_read(source)
    watermark = Watermark(START, DEMO_DATE)  # the last run saw every change up to START
    coming_due = sorted(
        (i.due_date, r.customer.id)
        for r in customers.values()
        for i in r.invoices
        if i.is_chased and i.due_date > DEMO_DATE + timedelta(days=1)
    )
    due, customer_id = coming_due[0]

    before = {r.customer.id for r in source.read_changes(watermark, DEMO_DATE, OVERLAP).customers}
    today = ledger.advance((due - DEMO_DATE).days + 1)
    after = {r.customer.id for r in source.read_changes(watermark, today, OVERLAP).customers}

    assert today == due + timedelta(days=1) == ledger.today
    assert customer_id not in before
    assert customer_id in after


def test_notes_written_back_land_in_the_ledger(source: SqlSource, ledger: DemoLedger) -> None:
    at = START + timedelta(hours=3)

    source.write_note("CUST-000001", None, "Promise to pay by 2026-03-20", at)

    assert source.supports_notes
    assert ledger.notes("CUST-000001") == ["Promise to pay by 2026-03-20"]


def test_a_large_ledger_is_built_and_streamed_in_chunks(tmp_path: Path) -> None:
    path = build_demo_ledger(tmp_path / "large.sqlite", customers=2_000, invoices_per_customer=10)
    clock = FixedClock(START)
    source = demo_source(clock, path=path)

    streamed = source.iter_customers(DEMO_DATE)
    count = sum(1 for _ in streamed)

    _, invoices, _ = dump(path)
    assert len(invoices) > 15_000
    assert 1_500 <= count <= 2_000
