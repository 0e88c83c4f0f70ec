"""The port every accounting source implements, and the values a read hands to the sync cycle.

A read is **per customer**: the planner plans whole accounts, so a customer touched by any change
comes with *all* its open invoices (not only the changed ones), the recently closed invoices that
changed, its payments and credits, and its record. Customers are streamed one at a time, so a
ledger of 10,000 accounts and 100,000 invoices never sits in memory at once.

What a read covers (sync-engineering.md C5, DESIGN.md invariant 4):

* rows **changed** since the watermark minus the overlap (late commits at the source carry
  earlier timestamps than rows already seen, so the boundary is re-read and de-duplicated);
* invoices whose **due date was crossed** since the last run, because an invoice goes past due
  without anyone editing it: open invoices due in
  ``[previous as_of - overlap + lookahead, as_of + lookahead]``.

The new :class:`Watermark` is a *candidate*: the highest ``updated_at`` seen, capped at the
moment the read started. The sync cycle commits it last, after everything it covers, and then
calls :meth:`InvoiceSource.confirm_read` so a source with its own bookmark (the aging file's
snapshot) keeps it only once the cycle succeeded.

This module imports nothing heavy: it is a port.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, runtime_checkable

from sfsync.domain import Customer, Invoice, Payment
from sfsync.errors import SkippedRecord

#: Stream name under which a source's watermark is stored (store ``watermarks`` table).
INVOICE_STREAM = "invoices"


@dataclass(frozen=True, slots=True)
class Watermark:
    """How far a source has been read.

    * ``updated_at``: every row changed at or before this moment was read (``None`` before any
      row was seen);
    * ``as_of``: the planning date of the read; invoices due by then (plus the lookahead) were
      seen, so the next read only has to look for due dates crossed after it;
    * ``snapshot``: an opaque bookmark of sources without timestamps (the aging file digest).

    The store keeps ``updated_at`` in ``watermarks.value_at`` (through ``advance_watermark``,
    which never moves it back nor past the run's start) and the rest in ``watermarks.cursor``
    (:attr:`cursor` / :meth:`from_stored`).
    """

    updated_at: datetime | None
    as_of: date
    snapshot: str = ""

    @property
    def cursor(self) -> str:
        """The text kept in ``watermarks.cursor``."""
        return json.dumps({"as_of": self.as_of.isoformat(), "snapshot": self.snapshot})

    @classmethod
    def from_stored(cls, value_at: datetime | None, cursor: str | None) -> Watermark | None:
        """Rebuild the watermark from the store's row; ``None`` when there is nothing usable.

        A cursor that does not parse means the row was written by something else: the read
        then starts over (a full read loses nothing; it only costs time).
        """
        if not cursor:
            return None
        try:
            data = json.loads(cursor)
            return cls(value_at, date.fromisoformat(data["as_of"]), str(data.get("snapshot", "")))
        except (ValueError, KeyError, TypeError):
            return None


RawValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A source row that cannot be used: its key and reason, and its raw values for quarantine.

    ``raw`` holds JSON-safe scalars (dates, amounts and timestamps as text) so the store's
    ``quarantined_rows.raw`` keeps exactly what the source had.
    """

    key: str
    reason: str
    raw: Mapping[str, RawValue]

    @classmethod
    def from_skip(cls, skip: SkippedRecord, raw: Mapping[str, object]) -> SkippedRow:
        """Pair a :class:`SkippedRecord` raised while parsing with the row it came from."""
        return cls(skip.key, skip.reason, raw_values(raw))

    def as_record(self) -> SkippedRecord:
        """The error-tree form (picklable), e.g. to count or log it with the planner's skips."""
        return SkippedRecord(self.key, self.reason)


def raw_values(row: Mapping[str, object]) -> dict[str, RawValue]:
    """JSON-safe copy of a row: scalars kept, everything else (dates, Decimals) as text."""
    return {
        str(name): value
        if value is None or isinstance(value, str | int | float | bool)
        else str(value)
        for name, value in row.items()
    }


@dataclass(frozen=True, slots=True)
class CustomerRecords:
    """Everything the planner needs about one customer touched by a read.

    ``invoices`` are valid and de-duplicated by id; ``skipped`` are this customer's bad rows.
    Pass ``invoices`` and ``payments`` to :func:`sfsync.cases.plan_customer` as they are.
    """

    customer: Customer
    invoices: tuple[Invoice, ...] = ()
    payments: tuple[Payment, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()


@dataclass(slots=True)
class SourceBatch:
    """One read: customers streamed one at a time, rows with no customer, the new watermark.

    ``customers`` is an iterator: consume it once. ``orphans`` are bad rows that belong to no
    customer (no customer id at all); quarantine them like the per-customer ``skipped``.
    ``watermark`` is the candidate to commit once the whole batch is applied.
    """

    customers: Iterator[CustomerRecords]
    watermark: Watermark
    orphans: tuple[SkippedRow, ...] = ()


@runtime_checkable
class InvoiceSource(Protocol):
    """An accounting system seen as invoices, payments and customers (the sync cycle's port)."""

    @property
    def name(self) -> str:
        """The source name: first part of every key sfsync writes (``source.name``)."""
        ...

    @property
    def supports_notes(self) -> bool:
        """Whether :meth:`write_note` writes somewhere the accounting team will see it."""
        ...

    def read_changes(
        self,
        since: Watermark | None,
        as_of: date,
        overlap: timedelta,
        *,
        lookahead: timedelta = timedelta(0),
    ) -> SourceBatch:
        """Customers touched since ``since`` (all customers with open invoices when ``None``).

        ``lookahead`` widens the due-date window for pre-due reminders: an invoice due within
        ``lookahead`` of ``as_of`` counts as crossing.
        """
        ...

    def iter_customers(self, as_of: date) -> Iterator[CustomerRecords]:
        """Every customer with anything open, for a full reconciliation; streamed."""
        ...

    def confirm_read(self, watermark: Watermark) -> None:
        """Called after the cycle committed ``watermark``; keep the source's own bookmark."""
        ...

    def write_note(self, customer_id: str, invoice_id: str | None, text: str, at: datetime) -> None:
        """Send a collections note back to the source (no-op unless :attr:`supports_notes`)."""
        ...


def due_window(
    since: Watermark | None, as_of: date, overlap: timedelta, lookahead: timedelta
) -> tuple[date | None, date]:
    """Due dates that count as crossing in this read: ``(first, last)``, first ``None`` = all.

    ``overlap`` is applied in whole days (a sub-day overlap re-reads the previous day anyway,
    since the window includes the previous ``as_of``).
    """
    last = as_of + timedelta(days=lookahead.days)
    if since is None:
        return None, last
    return since.as_of - timedelta(days=overlap.days) + timedelta(days=lookahead.days), last


def changed_since(since: Watermark | None, overlap: timedelta) -> datetime | None:
    """Start of the changed-rows window: the watermark minus the overlap (``None`` = all)."""
    if since is None or since.updated_at is None:
        return None
    return since.updated_at - overlap


def next_watermark(
    since: Watermark | None,
    seen: Iterable[datetime | None],
    as_of: date,
    started_at: datetime,
    snapshot: str = "",
) -> Watermark:
    """The candidate: highest ``updated_at`` seen (or the old one), never past ``started_at``."""
    highest = since.updated_at if since is not None else None
    for moment in seen:
        if moment is not None and (highest is None or moment > highest):
            highest = moment
    if highest is not None and highest > started_at:
        highest = started_at
    return Watermark(highest, as_of, snapshot)
