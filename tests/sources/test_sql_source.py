"""The SQL source on SQLite and PostgreSQL: incremental reads, due dates, bad rows, notes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from sfsync.clock import FixedClock
from sfsync.domain import InvoiceStatus, PaymentKind
from sfsync.errors import ConfigError, RetryableError
from sfsync.sources.base import CustomerRecords, SourceBatch, Watermark
from sfsync.sources.sql import InvoiceColumns, SqlLayout, SqlSource, create_source_engine
from tests.fixtures.services import free_port
from tests.sources.conftest import DAY0, T0, Accounting, naive, notes

OVERLAP = timedelta(minutes=10)


def source(accounting: Accounting, clock: FixedClock, **layout: object) -> SqlSource:
    return SqlSource("erp", accounting.engine, SqlLayout.model_validate(layout), clock)


def read_all(batch: SourceBatch) -> dict[str, CustomerRecords]:
    records = list(batch.customers)
    ids = [record.customer.id for record in records]
    assert len(ids) == len(set(ids)), f"a customer was emitted twice: {ids}"
    return {record.customer.id: record for record in records}


def invoice_ids(record: CustomerRecords) -> set[str]:
    return {invoice.id for invoice in record.invoices}


@pytest.fixture
def ledger(accounting: Accounting) -> Accounting:
    """Three customers with open invoices, one fully paid, one payment and one credit."""
    earlier = T0 - timedelta(days=3)
    for ident in ("C1", "C2", "C3", "C4"):
        accounting.customer(ident)
    accounting.invoice("I1", "C1", at=earlier)
    accounting.invoice("I2", "C1", amount="250.50", balance="100.25", at=earlier)
    accounting.invoice("I3", "C2", due=date(2026, 2, 20), at=earlier)
    accounting.invoice("I4", "C3", at=T0 - timedelta(hours=2))
    accounting.invoice("I5", "C4", balance="0", status="paid", at=earlier)
    accounting.payment("P1", "C2", "300", received=date(2026, 3, 1), at=earlier)
    accounting.payment(
        "P2", "C1", "50", received=date(2026, 3, 2), at=earlier, kind="credit", applied_to="I2"
    )
    return accounting


def test_first_read_gets_every_customer_with_open_invoices(
    ledger: Accounting, clock: FixedClock
) -> None:
    batch = source(ledger, clock).read_changes(None, DAY0, OVERLAP)
    customers = read_all(batch)

    assert sorted(customers) == ["C1", "C2", "C3"]  # C4 owes nothing
    assert invoice_ids(customers["C1"]) == {"I1", "I2"}
    partial = next(i for i in customers["C1"].invoices if i.id == "I2")
    assert (partial.amount, partial.balance) == (Decimal("250.50"), Decimal("100.25"))
    assert partial.due_date == date(2026, 1, 31)
    assert customers["C1"].customer.name == "C1 Ltd"
    credit = customers["C1"].payments[0]
    assert (credit.kind, credit.applied_to, credit.amount) == (
        PaymentKind.CREDIT,
        "I2",
        Decimal(50),
    )
    assert [p.id for p in customers["C2"].payments] == ["P1"]
    assert batch.watermark == Watermark(T0 - timedelta(hours=2), DAY0)
    assert batch.orphans == ()


def test_second_read_gets_only_changed_customers_with_all_their_open_invoices(
    ledger: Accounting, clock: FixedClock
) -> None:
    sql = source(ledger, clock)
    first = sql.read_changes(None, DAY0, OVERLAP)
    read_all(first)
    clock.advance(timedelta(hours=1))
    ledger.change_invoice("I2", at=clock.now(), balance=Decimal(0), status="paid")

    second = sql.read_changes(first.watermark, DAY0, OVERLAP)
    customers = read_all(second)

    # C3's row sits on the watermark itself: the boundary is always re-read.
    assert sorted(customers) == ["C1", "C3"]
    paid = next(i for i in customers["C1"].invoices if i.id == "I2")
    assert (paid.status, paid.balance) == (InvoiceStatus.PAID, Decimal(0))
    assert invoice_ids(customers["C1"]) == {"I1", "I2"}  # the unchanged open one comes too
    assert second.watermark.updated_at == clock.now()


def test_an_idle_ledger_rereads_only_the_overlap(ledger: Accounting, clock: FixedClock) -> None:
    sql = source(ledger, clock)
    first = sql.read_changes(None, DAY0, OVERLAP)
    clock.advance(timedelta(hours=1))

    second = sql.read_changes(first.watermark, DAY0, OVERLAP)

    assert sorted(read_all(second)) == ["C3"]  # updated within the overlap of the watermark
    assert second.watermark == first.watermark


def test_overlap_rereads_a_late_commit_and_each_customer_once(
    ledger: Accounting, clock: FixedClock
) -> None:
    sql = source(ledger, clock)
    first = sql.read_changes(None, DAY0, OVERLAP)
    assert first.watermark.updated_at == T0 - timedelta(hours=2)
    # Committed after the first read, stamped before its watermark (a long transaction).
    late = T0 - timedelta(hours=2, minutes=5)
    ledger.change_invoice("I3", at=late, balance=Decimal("400.00"))
    ledger.payment("P3", "C3", "10", received=DAY0, at=T0 - timedelta(hours=2, minutes=1))
    ledger.change_invoice("I4", at=T0 - timedelta(hours=2), dispute_reason="boundary")
    clock.advance(timedelta(hours=1))

    customers = read_all(sql.read_changes(first.watermark, DAY0, OVERLAP))
    without_overlap = read_all(sql.read_changes(first.watermark, DAY0, timedelta(0)))

    assert sorted(customers) == ["C2", "C3"]
    assert next(i.balance for i in customers["C2"].invoices) == Decimal("400.00")
    assert [p.id for p in customers["C3"].payments] == ["P3"]
    assert len(customers["C3"].invoices) == 1
    assert sorted(without_overlap) == ["C3"]  # the boundary row itself is always re-read


def test_watermark_never_passes_the_read_start(ledger: Accounting, clock: FixedClock) -> None:
    ledger.invoice("I9", "C3", at=T0 + timedelta(days=2))  # a source clock running ahead

    batch = source(ledger, clock).read_changes(None, DAY0, OVERLAP)

    assert batch.watermark.updated_at == T0


def test_invoice_going_past_due_unedited_is_read_on_the_day_it_crosses(
    accounting: Accounting, clock: FixedClock
) -> None:
    earlier = T0 - timedelta(days=10)
    for ident in ("C1", "C2", "C3"):
        accounting.customer(ident)
    accounting.invoice(
        "I1", "C1", issued=date(2026, 2, 14), due=DAY0 + timedelta(days=1), at=earlier
    )
    accounting.invoice(
        "I2", "C2", issued=date(2026, 2, 14), due=DAY0 + timedelta(days=9), at=earlier
    )
    accounting.invoice(
        "I3", "C3", due=DAY0 + timedelta(days=1), balance="0", status="paid", at=earlier
    )
    sql = source(accounting, clock)
    assert sorted(read_all(sql.read_changes(None, DAY0, OVERLAP))) == ["C1", "C2"]
    since = Watermark(T0, DAY0)  # the last run, on DAY0, saw every change up to T0

    clock.advance(timedelta(days=1))
    same_day = read_all(sql.read_changes(since, DAY0, OVERLAP))
    crossing = sql.read_changes(since, DAY0 + timedelta(days=1), OVERLAP)
    crossed = read_all(crossing)
    with_lookahead = read_all(
        sql.read_changes(since, DAY0 + timedelta(days=1), OVERLAP, lookahead=timedelta(days=8))
    )

    assert sorted(crossed) == ["C1"]  # nothing was edited; C3's is paid, C2's not yet due
    assert crossing.watermark == Watermark(T0, DAY0 + timedelta(days=1))
    assert same_day == {}  # the day before, I1 was not past due yet
    # With an 8-day lookahead the previous run already covered due dates up to DAY0+8.
    assert sorted(with_lookahead) == ["C2"]


def test_bad_row_is_skipped_with_its_reason_and_the_rest_come_through(
    accounting: Accounting, clock: FixedClock
) -> None:
    accounting.customer("C1")
    accounting.invoice("I1", "C1")
    accounting.invoice("I2", "C1", currency="US$")
    accounting.invoice("I3", "C1", amount="100", balance="150")
    accounting.invoice("I4", "C1", status="pending")  # unknown status: quarantined, not lost
    accounting.invoice("I5", None)
    accounting.payment("P1", "C1", "-5", received=DAY0, at=T0)

    batch = source(accounting, clock).read_changes(None, DAY0, OVERLAP)
    customers = read_all(batch)

    record = customers["C1"]
    assert invoice_ids(record) == {"I1"}
    reasons = {skip.key: skip.reason for skip in record.skipped}
    assert set(reasons) == {"erp:I2", "erp:I3", "erp:I4", "erp:P1"}
    assert "'US$' is not a known ISO 4217 code" in reasons["erp:I2"]
    assert "above the invoice amount" in reasons["erp:I3"]
    assert "'pending' is not one of open, paid, void" in reasons["erp:I4"]
    assert "must be a positive number" in reasons["erp:P1"]
    bad = next(skip for skip in record.skipped if skip.key == "erp:I2")
    assert bad.raw["currency"] == "US$"
    assert bad.raw["id"] == "I2"
    assert [(o.key, o.reason) for o in batch.orphans] == [
        ("erp:I5", "invoice INV-I5: has no customer")
    ]


def test_status_codes_are_translated_by_the_value_map(
    accounting: Accounting, clock: FixedClock
) -> None:
    accounting.customer("C1")
    accounting.customer("C2")
    accounting.invoice("I1", "C1", status="O")
    accounting.invoice("I2", "C2", status="P", balance="0")
    accounting.invoice("I3", "C1", status="V", balance="0")
    layout = {"status_values": {"O": "open", "P": "paid", "V": "void"}}

    customers = read_all(source(accounting, clock, **layout).read_changes(None, DAY0, OVERLAP))

    assert sorted(customers) == ["C1"]
    assert [(i.id, i.status) for i in customers["C1"].invoices] == [("I1", InvoiceStatus.OPEN)]


def test_customers_are_streamed_in_chunks(accounting: Accounting, clock: FixedClock) -> None:
    for n in range(7):
        accounting.customer(f"C{n}")
        accounting.invoice(f"I{n}", f"C{n}")
    sql = SqlSource("erp", accounting.engine, SqlLayout(), clock, chunk=3)

    batch = sql.read_changes(None, DAY0, OVERLAP)
    first = next(batch.customers)
    rest = list(batch.customers)

    assert first.customer.id == "C0"
    assert [r.customer.id for r in rest] == [f"C{n}" for n in range(1, 7)]
    assert [r.customer.id for r in sql.iter_customers(DAY0)] == [f"C{n}" for n in range(7)]


def test_notes_go_to_the_named_table(accounting: Accounting, clock: FixedClock) -> None:
    sql = source(accounting, clock, notes_table="ar_notes")
    at = datetime(2026, 3, 17, 9, 30, tzinfo=UTC)

    sql.write_note("C1", "I1", "Promise to pay 500.00 USD by 2026-03-20", at)
    sql.write_note("C1", None, "Left voicemail", at + timedelta(minutes=5))

    with accounting.engine.connect() as connection:
        rows = connection.execute(
            select(
                notes.c.customer_id, notes.c.invoice_id, notes.c.note, notes.c.created_at
            ).order_by(notes.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [  # naive UTC, like the table's other times
        ("C1", "I1", "Promise to pay 500.00 USD by 2026-03-20", naive(at)),
        ("C1", None, "Left voicemail", naive(at + timedelta(minutes=5))),
    ]
    assert sql.supports_notes
    assert not source(accounting, clock).supports_notes


def test_raw_queries_with_bound_parameters(accounting: Accounting, clock: FixedClock) -> None:
    quoted = "O'Brien');DROP/**/TABLE/**/invoices;--"
    accounting.customer(quoted, "O'Brien & Sons")
    accounting.customer("C2")
    accounting.invoice("I1", quoted, at=T0 - timedelta(days=2))
    accounting.invoice("I2", "C2", issued=date(2026, 4, 1), due=date(2026, 5, 1))
    layout = {
        # Only invoices issued by the planning date, changed since :since.
        "invoices_query": (
            "SELECT id, customer_id, number, currency, amount, balance, issue_date, due_date, "
            "status, disputed, dispute_reason, updated_at FROM invoices "
            "WHERE issue_date <= :as_of AND updated_at >= :since"
        ),
        "customers_query": "SELECT id, name FROM customers",
        "payments_table": None,
    }
    sql = source(accounting, clock, **layout)

    first = sql.read_changes(None, DAY0, OVERLAP)
    customers = read_all(first)
    again = read_all(sql.read_changes(Watermark(T0 - timedelta(days=1), DAY0), DAY0, OVERLAP))

    assert list(customers) == [quoted]
    assert customers[quoted].customer.name == "O'Brien & Sons"
    assert invoice_ids(customers[quoted]) == {"I1"}
    assert again == {}  # :since bound to the window start: I1 is older
    with accounting.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM invoices")).scalar() == 2


def test_query_with_an_unknown_parameter_is_a_config_error(
    accounting: Accounting, clock: FixedClock
) -> None:
    sql = source(accounting, clock, invoices_query="SELECT * FROM invoices WHERE x = :tenant")

    with pytest.raises(ConfigError, match=r"uses :tenant; only :since and :as_of"):
        sql.read_changes(None, DAY0, OVERLAP)


def test_mapped_columns_are_checked_against_the_table(
    accounting: Accounting, clock: FixedClock
) -> None:
    wrong_column = source(
        accounting, clock, invoice_columns=InvoiceColumns(balance="open_amount").model_dump()
    )
    wrong_table = source(accounting, clock, invoices_table="ar_invoices")

    with pytest.raises(ConfigError, match=r"table 'invoices' has no column 'open_amount'"):
        wrong_column.read_changes(None, DAY0, OVERLAP)
    with pytest.raises(ConfigError, match=r"no table 'ar_invoices'"):
        wrong_table.read_changes(None, DAY0, OVERLAP)


def test_an_unreachable_database_is_retryable(clock: FixedClock) -> None:
    engine = create_source_engine(f"postgresql://sfsync@127.0.0.1:{free_port()}/ledger")
    sql = SqlSource("erp", engine, SqlLayout(), clock)
    try:
        with pytest.raises(
            RetryableError, match=r"source erp: the accounting database is unreachable"
        ):
            sql.read_changes(None, DAY0, OVERLAP)
    finally:
        engine.dispose()


def test_a_statement_the_database_refuses_is_a_config_error(
    accounting: Accounting, clock: FixedClock
) -> None:
    sql = source(accounting, clock, invoices_query="SELECT id, customer_id FROM no_such_table")

    with pytest.raises(ConfigError, match=r"refused sfsync's statement .*check the source layout"):
        sql.read_changes(None, DAY0, OVERLAP)


def test_the_admins_own_tables_and_codes_are_read_through_the_column_map(
    accounting: Accounting, clock: FixedClock
) -> None:
    with accounting.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE ar_open_items (doc_no VARCHAR(20), kunnr VARCHAR(20), "
                "waers VARCHAR(3), dmbtr NUMERIC(14, 2), offen NUMERIC(14, 2), bldat DATE, "
                "faedt DATE, stat VARCHAR(2), changed_on TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "CREATE TABLE ar_receipts (belnr VARCHAR(20), kunnr VARCHAR(20), "
                "waers VARCHAR(3), betrag NUMERIC(14, 2), budat DATE, art VARCHAR(2))"
            )
        )
        connection.execute(
            text(
                "INSERT INTO ar_open_items VALUES "
                "('9001', '100200', 'EUR', 800.00, 300.00, '2026-01-05', '2026-02-04', 'OF', "
                "'2026-03-10 12:00:00'), "
                "('9002', '100200', 'EUR', 50.00, 0, '2026-01-05', '2026-02-04', 'AU', "
                "'2026-03-10 12:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO ar_receipts VALUES ('R1', '100200', 'EUR', 40.00, '2026-03-01', 'GS')"
            )
        )
    sql = source(
        accounting,
        clock,
        invoices_table="ar_open_items",
        invoice_columns={
            "id": "doc_no",
            "customer_id": "kunnr",
            "number": None,
            "currency": "waers",
            "amount": "dmbtr",
            "balance": "offen",
            "issue_date": "bldat",
            "due_date": "faedt",
            "status": "stat",
            "disputed": None,
            "dispute_reason": None,
            "updated_at": "changed_on",
        },
        customers_table=None,
        payments_table="ar_receipts",
        payment_columns={
            "id": "belnr",
            "customer_id": "kunnr",
            "currency": "waers",
            "amount": "betrag",
            "received_on": "budat",
            "kind": "art",
            "applied_to": None,
            "updated_at": None,
        },
        status_values={"OF": "open", "AU": "paid"},
        kind_values={"GS": "credit", "ZE": "payment"},
    )

    [record] = sql.read_changes(None, DAY0, OVERLAP).customers

    assert (record.customer.id, record.customer.name) == ("100200", "100200")
    [invoice] = record.invoices  # 9002 is paid (AU): not read on a first read
    assert (invoice.id, invoice.number, invoice.balance) == ("9001", "9001", Decimal(300))
    [credit] = record.payments
    assert (credit.kind, credit.amount, credit.applied_to) == (PaymentKind.CREDIT, 40, None)


def test_a_query_returning_an_invoice_twice_keeps_the_first_row(
    accounting: Accounting, clock: FixedClock
) -> None:
    accounting.customer("C1")
    accounting.invoice("I1", "C1", balance="400")
    query = "SELECT * FROM invoices UNION ALL SELECT * FROM invoices"
    sql = source(accounting, clock, invoices_query=query)

    [record] = sql.read_changes(None, DAY0, OVERLAP).customers

    assert [(i.id, i.balance) for i in record.invoices] == [("I1", Decimal(400))]
    [duplicate] = record.skipped
    assert duplicate.reason == (
        "invoice INV-I1: appears twice in the source; the first row was used"
    )
