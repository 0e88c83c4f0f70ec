"""CSV and XLSX aging exports (what AR teams export from SAP, Oracle or NetSuite) as a source.

An aging export is a snapshot of open items with no timestamps, so changes are found by diffing
snapshots (sync-engineering.md C5): every row is keyed by (customer, invoice) and hashed over
its mapped columns, and compared with the previous snapshot:

* a new row, or a row whose hash changed, touches its customer;
* a row that vanished since the last snapshot is emitted as **closed** (status paid, balance 0):
  an aging export lists open items only, so an invoice missing from it was paid or written off;
* an open row whose due date was crossed since the last run touches its customer too, because
  aging exports often carry no column that changes when an invoice goes past due.

A touched customer comes with all its rows in the file. The previous snapshot is a small JSON
file beside the state database (``var/<source>.aging-snapshot.json``): key → hash and the few
values needed to close the invoice if it vanishes. A read writes the new snapshot to a
*pending* file; :meth:`AgingFileSource.confirm_read` promotes it once the sync cycle has
committed, so a failed cycle re-reads the same differences instead of losing them.

Notes go to an outcomes export CSV (appended; header written once) that the AR team imports.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sfsync.domain import Customer, Invoice, InvoiceStatus, parse_invoice
from sfsync.errors import ConfigError, SkippedRecord
from sfsync.sources.base import (
    CustomerRecords,
    SkippedRow,
    SourceBatch,
    Watermark,
    due_window,
    raw_values,
)
from sfsync.sources.layouts import AgingColumns, AgingFileLayout
from sfsync.sources.rows import assemble_customer, text_of

_KEY_SEPARATOR = "\x1f"
OUTCOME_COLUMNS = ("recorded_at", "customer_id", "invoice_id", "note")


@dataclass(frozen=True, slots=True)
class _Line:
    """One export row under sfsync's keys, its key and hash."""

    key: str
    customer_id: str
    customer_name: str
    values: dict[str, object]
    digest: str


class AgingFileSource:
    """An :class:`~sfsync.sources.base.InvoiceSource` over a CSV or XLSX aging export."""

    def __init__(
        self,
        name: str,
        path: Path,
        layout: AgingFileLayout,
        *,
        state_dir: Path,
    ) -> None:
        self._name = name
        self._path = path
        self._layout = layout
        self._snapshot = state_dir / f"{name}.aging-snapshot.json"
        self._pending = state_dir / f"{name}.aging-snapshot.pending.json"
        self._outcomes = layout.outcomes_path or state_dir / f"{name}-outcomes.csv"

    @property
    def name(self) -> str:
        """The source name (first part of every key)."""
        return self._name

    @property
    def supports_notes(self) -> bool:
        """Always: notes go to the outcomes export file."""
        return True

    @property
    def outcomes_path(self) -> Path:
        """The outcomes export file notes are appended to."""
        return self._outcomes

    # --- reading --------------------------------------------------------------------------------

    def read_changes(
        self,
        since: Watermark | None,
        as_of: date,
        overlap: timedelta,
        *,
        lookahead: timedelta = timedelta(0),
    ) -> SourceBatch:
        """Customers whose rows changed, vanished or crossed their due date since the last read.

        Reading never promotes a snapshot (only :meth:`confirm_read` does), so a cycle may read
        again mid-way (to re-check a customer) without committing anything early.
        """
        lines, orphans = self._read_lines()
        previous = self._load_snapshot() if since is not None else None
        first_due, last_due = due_window(since, as_of, overlap, lookahead)
        touched: set[str] = set()
        for key, line in lines.items():
            changed = previous is None or previous.get(key, [None])[0] != line.digest
            if changed or _due_between(line.values, first_due, last_due):
                touched.add(line.customer_id)
        closed: defaultdict[str, list[Invoice]] = defaultdict(list)
        for key, kept in (previous or {}).items():
            if key not in lines and len(kept) > 1:
                invoice = self._closed_invoice(key, kept)
                if invoice is not None:
                    closed[invoice.customer_id].append(invoice)
                    touched.add(invoice.customer_id)
        snapshot = self._write_pending(lines)
        return SourceBatch(
            customers=self._stream(lines, sorted(touched), closed),
            watermark=Watermark(None if since is None else since.updated_at, as_of, snapshot),
            orphans=orphans,
        )

    def iter_customers(self, as_of: date) -> Iterator[CustomerRecords]:
        """Every customer in the export."""
        del as_of
        lines, _ = self._read_lines()
        customers = sorted({line.customer_id for line in lines.values()})
        return self._stream(lines, customers, {})

    def confirm_read(self, watermark: Watermark) -> None:
        """Keep the snapshot the committed read was based on (a stale pending one is dropped)."""
        if not self._pending.exists():
            return
        pending = json.loads(self._pending.read_text(encoding="utf-8"))
        if pending.get("digest") == watermark.snapshot:
            self._pending.replace(self._snapshot)

    def _stream(
        self,
        lines: Mapping[str, _Line],
        customers: list[str],
        closed: Mapping[str, list[Invoice]],
    ) -> Iterator[CustomerRecords]:
        by_customer: defaultdict[str, list[_Line]] = defaultdict(list)
        wanted = set(customers)
        for line in lines.values():
            if line.customer_id in wanted:
                by_customer[line.customer_id].append(line)
        for customer_id in customers:
            rows = by_customer.get(customer_id, [])
            name = next((line.customer_name for line in rows if line.customer_name), customer_id)
            yield assemble_customer(
                self._name,
                Customer(customer_id, name),
                [line.values for line in rows],
                extra_invoices=closed.get(customer_id, ()),
            )

    def _closed_invoice(self, key: str, kept: list[Any]) -> Invoice | None:
        """The vanished row as a paid invoice with nothing owed, from the snapshot's values."""
        customer_id, invoice_id = key.split(_KEY_SEPARATOR, 1)
        _, number, currency, amount, issue_date, due_date = kept
        try:
            return parse_invoice(
                {
                    "id": invoice_id,
                    "customer_id": customer_id,
                    "number": number,
                    "currency": currency,
                    "amount": amount,
                    "balance": "0",
                    "issue_date": issue_date,
                    "due_date": due_date,
                    "status": InvoiceStatus.PAID.value,
                },
                self._name,
            )
        except SkippedRecord:
            return None

    # --- the file -------------------------------------------------------------------------------

    def _read_lines(self) -> tuple[dict[str, _Line], tuple[SkippedRow, ...]]:
        """Every row keyed by (customer, invoice); rows with no customer are orphans."""
        header, rows = self._read_table()
        try:
            return self._parse_lines(header, rows)
        finally:
            rows.close()  # closes the file or workbook even when the header is refused

    def _parse_lines(
        self, header: list[str], rows: Iterator[list[object]]
    ) -> tuple[dict[str, _Line], tuple[SkippedRow, ...]]:
        columns = self._resolve_columns(header)
        lines: dict[str, _Line] = {}
        orphans: list[SkippedRow] = []
        for row_number, cells in enumerate(rows, start=2):
            record = {
                name: cells[index] if index < len(cells) else None
                for name, index in columns.items()
            }
            if all(text_of(value) == "" for value in record.values()):
                continue
            values = self._values(record)
            customer_id = text_of(values["customer_id"])
            invoice_id = text_of(values["id"])
            if not customer_id or not invoice_id:
                what = "has no customer" if not customer_id else "has no invoice number"
                key = f"{self._name}:{invoice_id or f'row-{row_number}'}"
                orphans.append(SkippedRow(key, f"row {row_number}: {what}", raw_values(record)))
                continue
            key = f"{customer_id}{_KEY_SEPARATOR}{invoice_id}"
            if key in lines:
                duplicate = (
                    f"invoice {invoice_id}: appears twice in the export (row {row_number}); "
                    "the first row was used"
                )
                orphans.append(
                    SkippedRow(f"{self._name}:{invoice_id}", duplicate, raw_values(record))
                )
                continue
            digest = hashlib.sha256(
                repr(sorted((name, text_of(value)) for name, value in record.items())).encode()
            ).hexdigest()
            name = text_of(record.get("customer_name"))
            lines[key] = _Line(key, customer_id, name, values, digest)
        return lines, tuple(orphans)

    def _values(self, record: Mapping[str, object]) -> dict[str, object]:
        """The row under parse_invoice's keys, with the layout's defaults and date format."""
        values: dict[str, object] = {
            "id": record.get("invoice_id"),
            "customer_id": record.get("customer_id"),
            "number": record.get("number") or record.get("invoice_id"),
            "currency": record.get("currency") or self._layout.default_currency,
            "balance": record.get("balance"),
            "amount": _first_filled(record.get("amount"), record.get("balance")),
            "due_date": self._date(record.get("due_date")),
            "status": record.get("status"),
            "disputed": record.get("disputed"),
            "dispute_reason": record.get("dispute_reason"),
        }
        values["issue_date"] = _first_filled(
            self._date(record.get("issue_date")), values["due_date"]
        )
        return values

    def _date(self, value: object) -> object:
        """A text date in the layout's format as a ``date``; anything else is left to parse."""
        fmt = self._layout.date_format
        if fmt is None or not isinstance(value, str):
            return value
        try:
            return datetime.strptime(value.strip(), fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            return value

    def _resolve_columns(self, header: list[str]) -> dict[str, int]:
        """Position of each configured column; a missing required one is a ConfigError."""
        positions = {text_of(name).lower(): index for index, name in enumerate(header)}
        wanted = self._layout.columns.model_dump()
        required = {"customer_id", "invoice_id", "balance", "due_date"}
        found: dict[str, int] = {}
        missing = []
        for key, name in wanted.items():
            if name is None:
                continue
            index = positions.get(name.strip().lower())
            if index is not None:
                found[key] = index
            elif key in required or (key == "currency" and not self._layout.default_currency):
                missing.append(name)
        if missing:
            raise ConfigError(
                f"source.csv: {self._path.name} has no column {', '.join(map(repr, missing))} "
                f"(its header: {', '.join(header)}); fix the column names in the aging layout"
            )
        return found

    def _read_table(self) -> tuple[list[str], Generator[list[object]]]:
        path = self._export_path()
        if path.suffix.lower() == ".xlsx":
            rows = _read_xlsx(path, self._layout.sheet)
        else:
            rows = _read_csv(path, self._layout.delimiter, self._layout.encoding)
        for first in rows:
            if any(text_of(cell) for cell in first):
                return [text_of(cell) for cell in first], rows
        rows.close()
        raise ConfigError(f"source.csv: {path} is empty; export the aging report again")

    def _export_path(self) -> Path:
        """The export file; for a folder, the last ``.csv``/``.xlsx`` by name (dated exports)."""
        if self._path.is_dir():
            candidates = sorted(
                p for p in self._path.iterdir() if p.suffix.lower() in (".csv", ".xlsx")
            )
            if not candidates:
                raise ConfigError(f"source.csv: no .csv or .xlsx export in {self._path}")
            return candidates[-1]
        if not self._path.exists():
            raise ConfigError(f"source.csv: the aging export {self._path} does not exist")
        return self._path

    # --- snapshots ------------------------------------------------------------------------------

    def _load_snapshot(self) -> dict[str, list[Any]] | None:
        if not self._snapshot.exists():
            return None
        try:
            data = json.loads(self._snapshot.read_text(encoding="utf-8"))
        except ValueError:
            return None  # unreadable: every row counts as changed, which loses nothing
        rows = data.get("rows") if isinstance(data, dict) else None
        return rows if isinstance(rows, dict) else None

    def _write_pending(self, lines: Mapping[str, _Line]) -> str:
        """Write the candidate snapshot; return its digest (the watermark's ``snapshot``)."""
        rows = {
            key: [
                line.digest,
                text_of(line.values["number"]),
                text_of(line.values["currency"]),
                text_of(line.values["amount"]),
                _day_text(line.values["issue_date"]),
                _day_text(line.values["due_date"]),
            ]
            for key, line in sorted(lines.items())
        }
        body = json.dumps(rows, sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
        self._pending.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._pending.with_suffix(".tmp")
        temporary.write_text(json.dumps({"digest": digest, "rows": rows}), encoding="utf-8")
        temporary.replace(self._pending)
        return digest

    # --- notes ----------------------------------------------------------------------------------

    def write_note(self, customer_id: str, invoice_id: str | None, text: str, at: datetime) -> None:
        """Append the note to the outcomes export CSV (header on a new file), then fsync."""
        self._outcomes.parent.mkdir(parents=True, exist_ok=True)
        new = not self._outcomes.exists() or self._outcomes.stat().st_size == 0
        with self._outcomes.open("a", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(OUTCOME_COLUMNS)
            writer.writerow([at.isoformat(), customer_id, invoice_id or "", text])
            handle.flush()
            os.fsync(handle.fileno())


def _first_filled(value: object, fallback: object) -> object:
    return fallback if value is None or text_of(value) == "" else value


def _day_text(value: object) -> str:
    """A date cell as ISO text (XLSX gives datetimes at midnight), anything else as text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return text_of(value)


def _due_between(values: Mapping[str, object], first: date | None, last: date) -> bool:
    """Whether the row's due date is in the crossing window (text dates parsed leniently)."""
    try:
        due = date.fromisoformat(_day_text(values.get("due_date")))
    except ValueError:
        return False
    return (first is None or first <= due) and due <= last


def _read_csv(path: Path, delimiter: str, encoding: str) -> Generator[list[object]]:
    with path.open(encoding=encoding, newline="") as handle:
        yield from csv.reader(handle, delimiter=delimiter)


def _read_xlsx(path: Path, sheet: str | None) -> Generator[list[object]]:
    """Rows of the worksheet, streamed (read-only mode); the workbook is closed at the end."""
    # openpyxl ships no type hints (and types-openpyxl is not a dependency).
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # noqa: PLC0415

    with warnings.catch_warnings():
        # Exports from ERPs often lack a default style; openpyxl warns, the data is fine.
        warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
        workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            raise ConfigError(
                f"source.csv: {path.name} has no sheet {sheet!r} (it has "
                f"{', '.join(workbook.sheetnames)})"
            )
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        for row in worksheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


__all__ = ["AgingColumns", "AgingFileLayout", "AgingFileSource"]
