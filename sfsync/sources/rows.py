"""Turning one customer's source rows into what the planner takes, keeping every bad row.

Shared by the SQL and aging-file sources: invoices go through
:func:`~sfsync.domain.parse_invoice`, payments through :func:`parse_payment`; a row that cannot
be used becomes a :class:`~sfsync.sources.base.SkippedRow` with its raw values and the rest of
the customer still comes through. An invoice id seen twice keeps its first row, because two rows
for one invoice means the query or the export joins something it should not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from sfsync.domain import Customer, Invoice, Payment, PaymentKind, parse_invoice
from sfsync.errors import SkippedRecord
from sfsync.sources.base import CustomerRecords, SkippedRow

Row = Mapping[str, object]

_KINDS = {kind.value: kind for kind in PaymentKind}


def text_of(value: object) -> str:
    """A cell as stripped text (``None`` is empty); ints from a database stay readable."""
    return "" if value is None else str(value).strip()


def moment_of(value: object) -> datetime | None:
    """A timestamp cell as an aware UTC datetime; naive ones are UTC; garbage is ``None``.

    Used only for the watermark: a row whose timestamp does not parse is still read (and, if it
    is an invoice, quarantined by ``parse_invoice``), it just cannot move the watermark.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_payment(row: Row, source: str) -> Payment:
    """Build a :class:`Payment` from a source row, or raise :class:`SkippedRecord` saying why.

    Keys: ``id customer_id currency amount received_on kind applied_to``; ``kind`` is
    ``payment`` (default) or ``credit``; an empty ``applied_to`` means unapplied.
    """
    ident = text_of(row.get("id"))
    try:
        return Payment(
            id=ident,
            customer_id=text_of(row.get("customer_id")),
            currency=text_of(row.get("currency")).upper(),
            amount=_decimal(row.get("amount")),
            received_on=_date(row.get("received_on")),
            kind=_kind(row.get("kind")),
            applied_to=text_of(row.get("applied_to")) or None,
        )
    except ValueError as error:
        raise SkippedRecord(f"{source}:{ident or '?'}", f"payment {ident}: {error}") from None


def _kind(value: object) -> PaymentKind:
    kind = _KINDS.get(text_of(value).lower() or PaymentKind.PAYMENT.value)
    if kind is None:
        raise ValueError(f"kind {value!r} is not one of payment, credit")
    return kind


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError("amount is missing")
    if isinstance(value, int | float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"amount {value!r} is not a number") from None


def _date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or value == "":
        raise ValueError("received date is missing")
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"received date {value!r} is not a real date (YYYY-MM-DD)") from None


def assemble_customer(
    source: str,
    customer: Customer,
    invoice_rows: Iterable[Row],
    payment_rows: Iterable[Row] = (),
    extra_invoices: Iterable[Invoice] = (),
) -> CustomerRecords:
    """Parse one customer's rows; bad ones become skipped rows, valid ones planner input.

    ``extra_invoices`` are invoices the source built itself (the aging file's closed rows);
    they come after the parsed ones and lose to them on a duplicate id.
    """
    invoices: list[Invoice] = []
    skipped: list[SkippedRow] = []
    seen: set[str] = set()
    for row in invoice_rows:
        try:
            invoice = parse_invoice(row, source)
        except SkippedRecord as skip:
            skipped.append(SkippedRow.from_skip(skip, row))
            continue
        if invoice.id in seen:
            duplicate = SkippedRecord(
                f"{source}:{invoice.id}",
                f"invoice {invoice.number}: appears twice in the source; the first row was used",
            )
            skipped.append(SkippedRow.from_skip(duplicate, row))
            continue
        seen.add(invoice.id)
        invoices.append(invoice)
    for invoice in extra_invoices:
        if invoice.id not in seen:
            seen.add(invoice.id)
            invoices.append(invoice)
    payments: list[Payment] = []
    for row in payment_rows:
        try:
            payments.append(parse_payment(row, source))
        except SkippedRecord as skip:
            skipped.append(SkippedRow.from_skip(skip, row))
    return CustomerRecords(customer, tuple(invoices), tuple(payments), tuple(skipped))
