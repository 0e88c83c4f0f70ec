"""Aging as of an injected date: days past due, buckets, and what is still chased.

Rules:

* Days past due = ``as_of - due_date`` in calendar days; an invoice is past due from the day
  after its due date (on the due date it is 0 days past due, i.e. current).
* Buckets: current (≤ 0 days), 1-30, 31-60, 61-90, 91+.
* Only money in one currency is ever summed: callers pass the invoices of one account
  (customer + currency).
* Unapplied payments and credits are netted against chased invoices oldest due first (ties by
  invoice id), so a payment nobody has matched yet still moves the account down the ladder.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sfsync.domain import AgingBuckets, Invoice, Payment

_ZERO = Decimal(0)


def days_past_due(due_date: date, as_of: date) -> int:
    """Calendar days since ``due_date`` (negative while not yet due)."""
    return (as_of - due_date).days


def bucket_index(days: int) -> int:
    """0 current, 1 for 1-30, 2 for 31-60, 3 for 61-90, 4 for 91+ days past due."""
    if days <= 0:
        return 0
    if days <= 30:
        return 1
    if days <= 60:
        return 2
    if days <= 90:
        return 3
    return 4


@dataclass(frozen=True, slots=True)
class ChasedInvoice:
    """An invoice still chased, with what remains after unapplied credits."""

    invoice: Invoice
    remaining: Decimal
    days_past_due: int


def unapplied_credit(payments: Iterable[Payment]) -> Decimal:
    """Total of payments and credits the accounting system has not applied to an invoice."""
    return sum((p.amount for p in payments if p.applied_to is None), _ZERO)


def chase_invoices(
    invoices: Iterable[Invoice], credit: Decimal, as_of: date
) -> tuple[ChasedInvoice, ...]:
    """The chased invoices oldest due first, net of ``credit``; fully covered ones drop out."""
    ordered = sorted((i for i in invoices if i.is_chased), key=lambda i: (i.due_date, i.id))
    chased: list[ChasedInvoice] = []
    left = credit
    for invoice in ordered:
        used = min(left, invoice.balance)
        left -= used
        remaining = invoice.balance - used
        if remaining > 0:
            chased.append(ChasedInvoice(invoice, remaining, days_past_due(invoice.due_date, as_of)))
    return tuple(chased)


def age_balances(chased: Iterable[ChasedInvoice]) -> AgingBuckets:
    """Sum remaining balances into the five buckets."""
    sums = [_ZERO, _ZERO, _ZERO, _ZERO, _ZERO]
    for item in chased:
        sums[bucket_index(item.days_past_due)] += item.remaining
    return AgingBuckets(*sums)
