"""CSV and XLSX aging exports: column mapping, snapshot diffing, bad rows, the outcomes export."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from sfsync.domain import InvoiceStatus
from sfsync.errors import ConfigError
from sfsync.sources.aging_file import AgingColumns, AgingFileLayout, AgingFileSource
from sfsync.sources.base import CustomerRecords, SourceBatch, Watermark

DAY0 = date(2026, 3, 16)
OVERLAP = timedelta(minutes=10)
HEADER = (
    "Customer ID", "Customer Name", "Invoice Number", "Currency", "Original Amount",
    "Open Balance", "Invoice Date", "Due Date", "Disputed", "Dispute Reason",
)  # fmt: skip
ROWS = [
    ("C1", "Acme Ltd", "INV-1", "USD", "1000.00", "1000.00", "2026-01-01", "2026-01-31", "", ""),
    ("C1", "Acme Ltd", "INV-2", "USD", "500.00", "200.00", "2026-02-01", "2026-03-03", "", ""),
    ("C2", "Globex", "INV-3", "EUR", "750.00", "750.00", "2026-02-10", "2026-03-12", "yes",
     "goods damaged"),
    ("C3", "Initech", "INV-4", "USD", "90.00", "90.00", "2026-03-01", "2026-03-31", "", ""),
]  # fmt: skip


def write_csv(path: Path, rows: Sequence[Sequence[object]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def customers(batch: SourceBatch) -> dict[str, CustomerRecords]:
    return {record.customer.id: record for record in batch.customers}


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "aging.csv", ROWS)


@pytest.fixture
def aging(export: Path, tmp_path: Path) -> AgingFileSource:
    return AgingFileSource("sap", export, AgingFileLayout(), state_dir=tmp_path / "var")


def read_and_commit(source: AgingFileSource, since: Watermark | None, day: date) -> SourceBatch:
    """What a successful cycle does: read, use every customer, commit, confirm."""
    batch = source.read_changes(since, day, OVERLAP)
    batch = SourceBatch(iter(list(batch.customers)), batch.watermark, batch.orphans)
    source.confirm_read(batch.watermark)
    return batch


def test_columns_of_a_typical_export_are_mapped(aging: AgingFileSource) -> None:
    read = customers(aging.read_changes(None, DAY0, OVERLAP))

    assert sorted(read) == ["C1", "C2", "C3"]
    assert read["C1"].customer.name == "Acme Ltd"
    partial = read["C1"].invoices[1]
    assert (partial.id, partial.number, partial.currency) == ("INV-2", "INV-2", "USD")
    assert (partial.amount, partial.balance) == (Decimal("500.00"), Decimal("200.00"))
    assert (partial.issue_date, partial.due_date) == (date(2026, 2, 1), date(2026, 3, 3))
    disputed = read["C2"].invoices[0]
    assert (disputed.disputed, disputed.dispute_reason) == (True, "goods damaged")


def test_custom_columns_and_date_format(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "netsuite.csv",
        [("  ACME-1 ", "INV-77", "03/31/2026", "1.5")],
        header=("customer", "document number", "due", "amount remaining"),
    )
    layout = AgingFileLayout(
        columns=AgingColumns(
            customer_id="Customer",
            customer_name=None,
            invoice_id="Document Number",
            currency=None,
            amount=None,
            balance="Amount Remaining",
            issue_date=None,
            due_date="Due",
            disputed=None,
            dispute_reason=None,
        ),
        default_currency="GBP",
        date_format="%m/%d/%Y",
    )
    source = AgingFileSource("ns", path, layout, state_dir=tmp_path)

    [record] = source.read_changes(None, DAY0, OVERLAP).customers

    [invoice] = record.invoices
    assert (record.customer.id, record.customer.name) == ("ACME-1", "ACME-1")
    assert (invoice.id, invoice.currency, invoice.amount) == ("INV-77", "GBP", Decimal("1.5"))
    assert invoice.issue_date == invoice.due_date == date(2026, 3, 31)


def test_snapshot_diff_emits_changed_and_closes_vanished_rows(
    aging: AgingFileSource, export: Path
) -> None:
    first = read_and_commit(aging, None, DAY0)
    assert first.watermark.snapshot

    unchanged = customers(read_and_commit(aging, first.watermark, DAY0))
    changed_rows = [ROWS[0], (*ROWS[1][:5], "150.00", *ROWS[1][6:]), ROWS[3]]  # INV-3 vanished
    write_csv(export, changed_rows)
    second = read_and_commit(aging, first.watermark, DAY0)
    changed = customers(second)

    assert unchanged == {}
    assert sorted(changed) == ["C1", "C2"]  # C3 untouched
    assert [(i.id, i.balance) for i in changed["C1"].invoices] == [
        ("INV-1", Decimal("1000.00")),  # the unchanged row of a touched customer comes too
        ("INV-2", Decimal("150.00")),
    ]
    [closed] = changed["C2"].invoices
    assert (closed.id, closed.status, closed.balance) == ("INV-3", InvoiceStatus.PAID, 0)
    assert (closed.amount, closed.currency, closed.due_date) == (
        Decimal("750.00"),
        "EUR",
        date(2026, 3, 12),
    )
    assert customers(read_and_commit(aging, second.watermark, DAY0)) == {}


def test_an_unconfirmed_read_is_read_again(aging: AgingFileSource, export: Path) -> None:
    first = read_and_commit(aging, None, DAY0)
    write_csv(export, ROWS[:3])

    failed = customers(aging.read_changes(first.watermark, DAY0, OVERLAP))  # cycle crashed
    retried = customers(aging.read_changes(first.watermark, DAY0, OVERLAP))

    assert sorted(failed) == sorted(retried) == ["C3"]
    assert retried["C3"].invoices[0].status is InvoiceStatus.PAID


def test_an_invoice_crossing_its_due_date_touches_its_customer(aging: AgingFileSource) -> None:
    first = read_and_commit(aging, None, date(2026, 3, 29))

    before = customers(aging.read_changes(first.watermark, date(2026, 3, 29), OVERLAP))
    crossing = customers(aging.read_changes(first.watermark, date(2026, 4, 1), OVERLAP))

    assert before == {}
    assert sorted(crossing) == ["C3"]  # INV-4 was due 2026-03-31; the file did not change


def test_bad_rows_are_quarantined_and_the_rest_come_through(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "aging.csv",
        [
            ROWS[0],
            ("C1", "Acme Ltd", "INV-9", "USD", "100.00", "1,200.00 EUR", "2026-01-01",
             "2026-01-31", "", ""),
            ("C1", "Acme Ltd", "INV-8", "USD", "100.00", "50.00", "2026-01-01", "2026-02-30",
             "", ""),
            ("", "Nobody", "INV-7", "USD", "100.00", "100.00", "2026-01-01", "2026-01-31", "",
             ""),
            ROWS[0],
        ],
    )  # fmt: skip
    source = AgingFileSource("sap", path, AgingFileLayout(), state_dir=tmp_path)

    batch = source.read_changes(None, DAY0, OVERLAP)
    [record] = batch.customers

    assert [invoice.id for invoice in record.invoices] == ["INV-1"]
    reasons = {skip.key: skip.reason for skip in record.skipped}
    assert "'1,200.00 EUR' is not a number" in reasons["sap:INV-9"]
    assert "'2026-02-30' is not a real date" in reasons["sap:INV-8"]
    assert record.skipped[0].raw["balance"] == "1,200.00 EUR"
    assert [(o.key, o.reason) for o in batch.orphans] == [
        ("sap:INV-7", "row 5: has no customer"),
        ("sap:INV-1", "invoice INV-1: appears twice in the export (row 6); the first row was used"),
    ]


def test_missing_columns_are_a_config_error(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "aging.csv", [("C1", "10")], header=("Customer ID", "Amount"))
    source = AgingFileSource("sap", path, AgingFileLayout(), state_dir=tmp_path)

    with pytest.raises(
        ConfigError,
        match=r"has no column 'Invoice Number', 'Currency', 'Open Balance', 'Due Date' "
        r"\(its header: Customer ID, Amount\)",
    ):
        source.read_changes(None, DAY0, OVERLAP)


def test_xlsx_export_is_read_like_csv(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Aging"
    sheet.append(list(HEADER))
    sheet.append(["C1", "Acme Ltd", "INV-1", "USD", 1000.5, 400.25, date(2026, 1, 1),
                  date(2026, 1, 31), None, None])  # fmt: skip
    sheet.append(["C1", "Acme Ltd", "INV-2", "usd", 300, 300, date(2026, 2, 1),
                  date(2026, 1, 1), None, None])  # fmt: skip
    workbook.save(tmp_path / "aging.xlsx")
    layout = AgingFileLayout(sheet="Aging")
    source = AgingFileSource("sap", tmp_path / "aging.xlsx", layout, state_dir=tmp_path)

    [record] = read_and_commit(source, None, DAY0).customers

    [invoice] = record.invoices
    assert (invoice.amount, invoice.balance) == (Decimal("1000.5"), Decimal("400.25"))
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 1, 1), date(2026, 1, 31))
    assert "due date 2026-01-01 is before issue date 2026-02-01" in record.skipped[0].reason
    wrong_sheet = AgingFileSource(
        "sap", tmp_path / "aging.xlsx", AgingFileLayout(sheet="AR"), state_dir=tmp_path
    )
    with pytest.raises(ConfigError, match=r"has no sheet 'AR' \(it has Aging\)"):
        wrong_sheet.read_changes(None, DAY0, OVERLAP)


def test_a_folder_reads_its_latest_export(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "aging-2026-03-15.csv", ROWS)
    write_csv(folder / "aging-2026-03-16.csv", ROWS[:1])
    source = AgingFileSource("sap", folder, AgingFileLayout(), state_dir=tmp_path)

    assert [r.customer.id for r in source.iter_customers(DAY0)] == ["C1"]


def test_notes_are_appended_to_the_outcomes_export(aging: AgingFileSource) -> None:
    at = datetime(2026, 3, 17, 9, 30, tzinfo=UTC)

    aging.write_note("C1", "INV-1", "Promise to pay 1000.00 USD by 2026-03-20", at)
    aging.write_note("C2", None, 'Left voicemail, "call back"', at + timedelta(hours=1))

    with aging.outcomes_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["recorded_at", "customer_id", "invoice_id", "note"],
        ["2026-03-17T09:30:00+00:00", "C1", "INV-1", "Promise to pay 1000.00 USD by 2026-03-20"],
        ["2026-03-17T10:30:00+00:00", "C2", "", 'Left voicemail, "call back"'],
    ]
    assert aging.supports_notes


def test_an_unreadable_snapshot_makes_every_row_count_as_changed(
    aging: AgingFileSource, tmp_path: Path
) -> None:
    first = read_and_commit(aging, None, DAY0)
    (tmp_path / "var" / "sap.aging-snapshot.json").write_text("{truncated", encoding="utf-8")

    again = customers(aging.read_changes(first.watermark, DAY0, OVERLAP))

    assert sorted(again) == ["C1", "C2", "C3"]


def test_an_empty_export_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "aging.csv"
    path.write_text("\n\n", encoding="utf-8")
    source = AgingFileSource("sap", path, AgingFileLayout(), state_dir=tmp_path)

    with pytest.raises(ConfigError, match=r"aging.csv is empty; export the aging report again"):
        source.read_changes(None, DAY0, OVERLAP)


def test_reading_again_mid_cycle_promotes_nothing(aging: AgingFileSource, export: Path) -> None:
    first = read_and_commit(aging, None, DAY0)
    write_csv(export, ROWS[1:])
    batch = aging.read_changes(first.watermark, DAY0, OVERLAP)
    recheck = aging.read_changes(  # the cycle re-checks before creating a Task, then crashes
        Watermark(None, DAY0, batch.watermark.snapshot), DAY0, OVERLAP
    )
    list(recheck.customers)

    after_crash = customers(aging.read_changes(first.watermark, DAY0, OVERLAP))

    assert sorted(after_crash) == ["C1"]  # INV-1's closing is not lost
    assert [(i.id, i.status) for i in after_crash["C1"].invoices] == [
        ("INV-2", InvoiceStatus.OPEN),
        ("INV-1", InvoiceStatus.PAID),
    ]
