"""Aging as of an injected date: bucket edges, and what unapplied credits leave to chase."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from sfsync.aging import (
    age_balances,
    bucket_index,
    chase_invoices,
    days_past_due,
    unapplied_credit,
)
from sfsync.domain import AgingBuckets, InvoiceStatus, Payment
from tests.core.factories import AS_OF, credit, invoice


def test_an_invoice_is_current_on_its_due_date_and_past_due_the_day_after() -> None:
    assert days_past_due(date(2026, 3, 16), AS_OF) == 0
    assert days_past_due(date(2026, 3, 15), AS_OF) == 1
    assert days_past_due(date(2026, 3, 20), AS_OF) == -4


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, 0), (0, 0), (1, 1), (30, 1), (31, 2), (60, 2), (61, 3), (90, 3), (91, 4), (400, 4)],
)
def test_bucket_edges(days: int, bucket: int) -> None:
    assert bucket_index(days) == bucket


def test_buckets_hold_only_chased_money_net_of_unapplied_credit_oldest_first() -> None:
    invoices = [
        invoice("OLD", days_past_due=95, amount="100"),
        invoice("MID", days_past_due=45, amount="200", balance="150"),
        invoice("NEW", days_past_due=5, amount="300"),
        invoice("NOT_DUE", days_past_due=-10, amount="400"),
        invoice("DISPUTED", days_past_due=70, amount="500", disputed=True),
        invoice("PAID", days_past_due=80, amount="600", balance="0", status=InvoiceStatus.PAID),
    ]
    payments = [credit("120"), Payment("P2", "C1", "USD", Decimal(999), AS_OF, applied_to="X")]

    chased = chase_invoices(invoices, unapplied_credit(payments), AS_OF)

    assert [(c.invoice.id, c.remaining) for c in chased] == [
        ("MID", Decimal(130)),
        ("NEW", Decimal(300)),
        ("NOT_DUE", Decimal(400)),
    ]
    assert age_balances(chased) == AgingBuckets(
        current=Decimal(400), days_1_30=Decimal(300), days_31_60=Decimal(130)
    )
    assert age_balances(chased).past_due == Decimal(430)


def test_equal_due_dates_are_chased_in_invoice_id_order() -> None:
    chased = chase_invoices(
        [invoice("B", days_past_due=3), invoice("A", days_past_due=3)], Decimal(100), AS_OF
    )

    assert [c.invoice.id for c in chased] == ["B"]
