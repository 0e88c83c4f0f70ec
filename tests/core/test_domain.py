"""Domain values: parsing source rows, refusing bad ones with an actionable reason, hashing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sfsync.domain import (
    AccountKey,
    AccountPlan,
    InvoiceStatus,
    OwnerRule,
    Payment,
    Promise,
    PromiseStatus,
    canonical_money,
    content_hash,
    parse_invoice,
)
from sfsync.errors import SkippedRecord
from tests.core.factories import row


def test_a_csv_row_becomes_an_invoice_with_exact_money_and_dates() -> None:
    invoice = parse_invoice(row(currency=" usd ", status="OPEN", disputed="yes"), "erp")

    assert invoice.amount == Decimal("120.00")
    assert invoice.due_date == date(2026, 1, 31)
    assert invoice.currency == "USD"
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.disputed is True
    assert not invoice.is_chased


def test_typed_rows_from_sql_or_xlsx_are_accepted() -> None:
    invoice = parse_invoice(
        row(
            amount=120,
            balance=99.5,
            issue_date=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
            due_date=date(2026, 1, 31),
            status=None,
            disputed=False,
            number=None,
            updated_at="2026-02-01T10:00:00",
        ),
        "erp",
    )

    assert invoice.balance == Decimal("99.5")
    assert invoice.issue_date == date(2026, 1, 1)
    assert invoice.number == "I9"
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.updated_at == datetime(2026, 2, 1, 10, tzinfo=UTC)


def test_an_aware_update_time_keeps_its_zone() -> None:
    moment = datetime(2026, 2, 1, 10, tzinfo=timezone(timedelta(hours=2)))

    assert parse_invoice(row(updated_at=moment), "erp").updated_at == moment


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"customer_id": ""}, "has no customer"),
        ({"customer_id": None}, "has no customer"),
        ({"id": ""}, "has no invoice id"),
        ({"id": "A:1"}, "contains ':' or whitespace"),
        ({"amount": "-5.00", "balance": "0"}, "amount -5.00 is negative"),
        ({"amount": "NaN"}, "not a finite number"),
        ({"balance": "Infinity"}, "not a finite number"),
        ({"balance": "-1"}, "balance -1 is negative"),
        ({"balance": "130.00"}, "balance 130.00 is above the invoice amount 120.00"),
        ({"amount": "12O.00"}, "amount '12O.00' is not a number"),
        ({"amount": ""}, "amount is missing"),
        ({"balance": True}, "balance is missing"),
        ({"currency": "US$"}, "currency 'US$' is not a known ISO 4217 code"),
        ({"currency": "XXX"}, "currency 'XXX' is not a known ISO 4217 code"),
        ({"due_date": "2026-02-30"}, "due date '2026-02-30' is not a real date"),
        ({"issue_date": None}, "issue date is missing"),
        (
            {"due_date": "1899-12-31", "issue_date": "1899-12-01"},
            "issue date 1899-12-01 is outside",
        ),
        ({"due_date": "9999-12-31"}, "due date 9999-12-31 is outside"),
        ({"due_date": "2025-12-01"}, "due date 2025-12-01 is before issue date 2026-01-01"),
        ({"status": "paid"}, "status is paid but balance 120.00 is still owed"),
        ({"status": "cancelled"}, "status 'cancelled' is not one of open, paid, void"),
        ({"disputed": "maybe"}, "disputed 'maybe' is not true or false"),
        ({"updated_at": "yesterday"}, "updated_at 'yesterday' is not an ISO timestamp"),
    ],
)
def test_a_bad_row_is_skipped_with_a_reason_an_admin_can_act_on(
    overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(SkippedRecord) as caught:
        parse_invoice(row(**overrides), "erp")

    assert reason in caught.value.reason
    assert caught.value.key == f"erp:{overrides.get('id', 'I9') or '?'}"


def test_a_skipped_row_names_the_invoice_number_or_says_it_has_none() -> None:
    with pytest.raises(SkippedRecord) as numbered:
        parse_invoice(row(amount="x"), "erp")
    with pytest.raises(SkippedRecord) as anonymous:
        parse_invoice(row(id=None, number=None), "erp")

    assert numbered.value.reason.startswith("invoice INV-9: ")
    assert str(anonymous.value) == "erp:?: invoice without id: has no invoice id"


def test_a_paid_or_void_invoice_is_not_open_and_a_zero_balance_is_not_owed() -> None:
    assert not parse_invoice(row(status="paid", balance="0"), "erp").is_open
    assert not parse_invoice(row(status="void", balance="0"), "erp").is_open
    assert not parse_invoice(row(balance="0.00"), "erp").is_open


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": ""}, "has no payment id"),
        ({"customer_id": "C 1"}, "contains ':' or whitespace"),
        ({"currency": "usd"}, "currency 'usd' is not a known"),
        ({"amount": Decimal(0)}, "must be a positive number"),
        ({"amount": Decimal("NaN")}, "must be a positive number"),
    ],
)
def test_a_payment_refuses_values_that_would_corrupt_the_chased_balance(
    changes: dict[str, object], reason: str
) -> None:
    values: dict[str, object] = {
        "id": "P1",
        "customer_id": "C1",
        "currency": "USD",
        "amount": Decimal(5),
        "received_on": date(2026, 3, 1),
    }
    values.update(changes)
    with pytest.raises(ValueError, match=reason):
        Payment(**values)  # type: ignore[arg-type]


def test_owner_rules_round_trip_and_refuse_unknown_spellings() -> None:
    assert OwnerRule.parse("case_owner") == OwnerRule("case_owner")
    assert str(OwnerRule.parse("queue: Collections ")) == "queue:Collections"
    assert str(OwnerRule.parse("account_owner")) == "account_owner"
    assert OwnerRule.parse("user: morgan@example.com") == OwnerRule(
        "user", username="morgan@example.com"
    )
    assert str(OwnerRule.parse("user:morgan@example.com")) == "user:morgan@example.com"
    with pytest.raises(ValueError, match="queue:<queue name>, user:<username>"):
        OwnerRule.parse("manager")
    with pytest.raises(ValueError, match="user:<username>"):
        OwnerRule.parse("user: ")


def test_money_that_is_equal_hashes_equal_whatever_its_spelling() -> None:
    assert canonical_money(Decimal("10.00")) == canonical_money(Decimal("1E+1")) == "10"
    assert content_hash("x", ("10", None, 3, True)) == content_hash("x", ("10", None, 3, True))
    assert content_hash("x", ("10",)) != content_hash("y", ("10",))
    assert content_hash("x", (None,)) != content_hash("x", ("None",))


def test_keys_carry_source_customer_currency_and_episode() -> None:
    key = AccountKey("erp", "C1", "EUR")

    assert key.case_key(2) == "erp:C1:EUR:2"
    assert key.reminder_prefix("I7") == "erp:C1:EUR:due-I7:"
    assert AccountPlan(key).is_empty


def test_a_promise_id_must_fit_a_task_key() -> None:
    with pytest.raises(ValueError, match="promise id 'PR 1' contains"):
        Promise("PR 1", "USD", Decimal(50), date(2026, 3, 20), date(2026, 3, 10))


def test_a_promise_is_pending_until_judged() -> None:
    promise = Promise("PR1", "USD", Decimal(50), date(2026, 3, 20), date(2026, 3, 10))

    assert promise.is_pending
    assert not Promise(
        "PR1", "USD", Decimal(50), date(2026, 3, 20), date(2026, 3, 10), PromiseStatus.KEPT
    ).is_pending
