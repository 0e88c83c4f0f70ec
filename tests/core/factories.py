"""Data builders for the planning-core tests: plain values, no fixtures needed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sfsync.cases import AccountLedger
from sfsync.domain import AccountKey, Customer, Invoice, InvoiceStatus, Payment, PaymentKind
from sfsync.policy import Policy

AS_OF = date(2026, 3, 16)
SOURCE = "erp"
CUSTOMER = Customer("C1", "Acme Ltd")

POLICY = Policy.model_validate(
    {
        "cadence": {
            "min_balance": "10",
            "steps": [
                {
                    "name": "reminder",
                    "offset_days": -3,
                    "channel": "email",
                    "owner": "account_owner",
                    "priority": "low",
                    "subject": "Reminder: {currency} {past_due} due",
                },
                {
                    "name": "day_1_email",
                    "offset_days": 1,
                    "channel": "email",
                    "subject": "E-mail {customer}: {days_past_due} days, {currency} {past_due}",
                },
                {
                    "name": "day_7_call",
                    "offset_days": 7,
                    "channel": "call",
                    "subject": "Call: {invoice_count} invoice(s), {currency} {past_due}",
                },
                {
                    "name": "day_30_final",
                    "offset_days": 30,
                    "channel": "letter",
                    "owner": "queue:Collections",
                    "priority": "high",
                    "subject": "Final notice ({step})",
                },
            ],
        },
        "promises": {"grace_days": 2},
        "case": {"owner": "queue:Collections", "priority": "normal"},
    }
)


def invoice(
    ident: str = "I1",
    *,
    days_past_due: int = 10,
    amount: str = "100.00",
    balance: str | None = None,
    currency: str = "USD",
    status: InvoiceStatus = InvoiceStatus.OPEN,
    disputed: bool = False,
    customer_id: str = "C1",
) -> Invoice:
    """An invoice ``days_past_due`` days past due as of :data:`AS_OF` (negative: not yet due)."""
    due = AS_OF - timedelta(days=days_past_due)
    return Invoice(
        id=ident,
        customer_id=customer_id,
        number=f"N-{ident}",
        currency=currency,
        amount=Decimal(amount),
        balance=Decimal(amount if balance is None else balance),
        issue_date=due - timedelta(days=30),
        due_date=due,
        status=status,
        disputed=disputed,
        dispute_reason="goods damaged" if disputed else "",
    )


def credit(amount: str, *, ident: str = "P1", currency: str = "USD") -> Payment:
    """An unapplied credit note of ``amount``."""
    return Payment(ident, "C1", currency, Decimal(amount), AS_OF, PaymentKind.CREDIT)


def ledger(
    *invoices: Invoice, payments: tuple[Payment, ...] = (), currency: str = "USD"
) -> AccountLedger:
    """The account of :data:`CUSTOMER` in ``currency`` holding ``invoices``."""
    return AccountLedger(AccountKey(SOURCE, "C1", currency), CUSTOMER, invoices, payments)


def row(**overrides: object) -> dict[str, object]:
    """A valid source row as a CSV export would give it, with ``overrides`` applied."""
    base: dict[str, object] = {
        "id": "I9",
        "customer_id": "C1",
        "number": "INV-9",
        "currency": "USD",
        "amount": "120.00",
        "balance": "120.00",
        "issue_date": "2026-01-01",
        "due_date": "2026-01-31",
        "status": "open",
        "disputed": "no",
        "dispute_reason": "",
    }
    base.update(overrides)
    return base
