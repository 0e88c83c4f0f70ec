"""How an admin describes an accounting source: validated data, no I/O.

Kept apart from the adapters so settings can validate a source layout without loading
SQLAlchemy or openpyxl: :class:`SqlLayout` for the SQL source (tables or queries, column maps,
value maps, the notes table) and :class:`AgingFileLayout` for CSV/XLSX aging exports (header
names, formats, the outcomes export). Unknown keys are errors, as everywhere in sfsync config.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sfsync.domain import InvoiceStatus, PaymentKind

_Frozen = ConfigDict(extra="forbid", frozen=True)


class InvoiceColumns(BaseModel):
    """Column names of the invoices table (``None``: the table has no such column)."""

    model_config = _Frozen

    id: str = "id"
    customer_id: str = "customer_id"
    number: str | None = "number"
    currency: str = "currency"
    amount: str = "amount"
    balance: str = "balance"
    issue_date: str = "issue_date"
    due_date: str = "due_date"
    status: str | None = "status"
    disputed: str | None = "disputed"
    dispute_reason: str | None = "dispute_reason"
    updated_at: str = "updated_at"


class CustomerColumns(BaseModel):
    """Column names of the customers table."""

    model_config = _Frozen

    id: str = "id"
    name: str = "name"
    updated_at: str | None = None


class PaymentColumns(BaseModel):
    """Column names of the payments/credits table."""

    model_config = _Frozen

    id: str = "id"
    customer_id: str = "customer_id"
    currency: str = "currency"
    amount: str = "amount"
    received_on: str = "received_on"
    kind: str | None = "kind"
    applied_to: str | None = "applied_to"
    updated_at: str | None = "updated_at"


class SqlLayout(BaseModel):
    """Where the accounting database keeps invoices, customers, payments and notes.

    A ``*_query`` replaces the table: it must return the columns under sfsync's names (the keys
    of the column models) and may use ``:since`` and ``:as_of``. ``status_values`` maps the
    database's status codes to open/paid/void (unmapped values are read as they are, so
    ``open``/``paid``/``void`` need no map); ``kind_values`` does the same for payment kinds.
    """

    model_config = _Frozen

    invoices_table: str = "invoices"
    invoices_query: str | None = None
    invoice_columns: InvoiceColumns = Field(default_factory=InvoiceColumns)
    customers_table: str | None = "customers"
    customers_query: str | None = None
    customer_columns: CustomerColumns = Field(default_factory=CustomerColumns)
    payments_table: str | None = "payments"
    payments_query: str | None = None
    payment_columns: PaymentColumns = Field(default_factory=PaymentColumns)
    db_schema: str | None = None
    status_values: dict[str, InvoiceStatus] = Field(default_factory=dict)
    kind_values: dict[str, PaymentKind] = Field(default_factory=dict)
    notes_table: str | None = None
    #: Cash received this many days back is read for promise judgement; unapplied always.
    payment_lookback_days: int = Field(default=120, ge=0)


class AgingColumns(BaseModel):
    """Header names in the export (matched ignoring case and surrounding spaces).

    The defaults fit a typical SAP / NetSuite open-items aging export. ``None`` means the
    export has no such column: ``number`` then is the invoice id, ``issue_date`` the due date,
    ``amount`` the open balance, ``status`` open, ``currency`` the layout's default currency.
    """

    model_config = _Frozen

    customer_id: str = "Customer ID"
    customer_name: str | None = "Customer Name"
    invoice_id: str = "Invoice Number"
    number: str | None = None
    currency: str | None = "Currency"
    amount: str | None = "Original Amount"
    balance: str = "Open Balance"
    issue_date: str | None = "Invoice Date"
    due_date: str = "Due Date"
    status: str | None = None
    disputed: str | None = "Disputed"
    dispute_reason: str | None = "Dispute Reason"


class AgingFileLayout(BaseModel):
    """How to read the export: columns, formats, and where notes go."""

    model_config = _Frozen

    columns: AgingColumns = Field(default_factory=AgingColumns)
    #: Currency of every row when the export has no currency column.
    default_currency: str | None = None
    #: ``strptime`` format of date cells given as text, e.g. ``%m/%d/%Y``; ``None``: ISO.
    date_format: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8-sig"
    #: Worksheet of an XLSX export; ``None``: the first one.
    sheet: str | None = None
    #: Where notes are appended; ``None``: ``<state dir>/<source>-outcomes.csv``.
    outcomes_path: Path | None = None


__all__ = [
    "AgingColumns",
    "AgingFileLayout",
    "CustomerColumns",
    "InvoiceColumns",
    "PaymentColumns",
    "SqlLayout",
]
