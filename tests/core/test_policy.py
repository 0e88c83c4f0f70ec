"""The policy file: the bundled one is valid, every admin mistake is refused with its fix."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from sfsync.domain import Channel, OwnerRule, Payment, PaymentKind, Promise, PromiseStatus
from sfsync.policy import Policy, judge_promise
from tests.core.factories import POLICY

CONFIG = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"


def _step(name: str, offset: int, **extra: object) -> dict[str, object]:
    return {"name": name, "offset_days": offset, "channel": "call", "subject": "Call", **extra}


def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        Policy.model_validate(data)
    return [
        ".".join(str(p) for p in item["loc"]) + ": " + item["msg"] for item in caught.value.errors()
    ]


def test_the_bundled_policy_is_valid_and_has_a_pre_due_reminder() -> None:
    policy = Policy.model_validate(yaml.safe_load(CONFIG.read_text(encoding="utf-8")))

    assert [s.offset_days for s in policy.cadence.reminder_steps] == [-3]
    assert policy.cadence.case_steps[0].channel is Channel.EMAIL
    assert policy.cadence.tolerance_for("JPY") == Decimal(3000)
    assert policy.cadence.tolerance_for("USD") == Decimal("25.00")


def test_defaults_fill_promises_and_case_and_owners_serialise_as_written() -> None:
    policy = Policy.model_validate({"cadence": {"steps": [_step("call", 7)]}})

    assert policy.promises.grace_days == 3
    assert policy.case.owner == OwnerRule("account_owner")
    assert policy.cadence.steps[0].owner == OwnerRule("case_owner")
    assert policy.model_dump()["case"]["owner"] == "account_owner"
    assert POLICY.cadence.steps[3].owner == OwnerRule("queue", "Collections")


def test_every_mistake_is_reported_at_once_with_its_place_and_fix() -> None:
    errors = _errors(
        {
            "cadence": {
                "min_balance": "-1",
                "min_balance_by_currency": {"US$": "5"},
                "steps": [_step("call", 7, channel="fax", owner="boss")],
            },
            "promises": {"grace_days": -2},
            "case": {"owner": "case_owner", "subject": "{customer.__class__}"},
            "escalations": {},
        }
    )

    joined = "\n".join(errors)
    assert (
        "cadence.steps.0.channel: Input should be 'call', 'email', 'letter' or 'review'" in joined
    )
    assert "cadence.steps.0.owner: Value error, owner 'boss' is not one of" in joined
    assert "cadence.min_balance: Input should be greater than or equal to 0" in joined
    assert "'US$' is not a known ISO 4217 currency code" in joined
    assert "promises.grace_days" in joined
    assert "a Case cannot be owned by its own owner" in joined
    assert (
        "case.subject: Value error, subject placeholder {customer.__class__} is unknown" in joined
    )
    assert "escalations: Extra inputs are not permitted" in joined


def test_step_names_must_be_unique_and_offsets_strictly_increasing() -> None:
    duplicate = _errors({"cadence": {"steps": [_step("call", 1), _step("call", 7)]}})
    unordered = _errors({"cadence": {"steps": [_step("late", 7), _step("early", 7)]}})

    assert "step name 'call' is used twice" in duplicate[0]
    assert "step 'early' (offset_days 7) must come after 'late' (offset_days 7)" in unordered[0]


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        ("Call {nobody}", "subject placeholder {nobody} is unknown; use {customer}"),
        ("Call {past_due:%Y}", "has a bad format spec"),
        ("Call {", "is not a valid template"),
    ],
)
def test_task_subjects_only_use_known_placeholders(subject: str, message: str) -> None:
    errors = _errors({"cadence": {"steps": [_step("call", 1, subject=subject)]}})

    assert message in errors[0]


def test_step_names_must_fit_a_task_key() -> None:
    errors = _errors({"cadence": {"steps": [_step("Day 7: call", 7)]}})

    assert errors[0].startswith("cadence.steps.0.name: String should match pattern")


def test_an_owner_given_as_a_rule_object_is_kept() -> None:
    policy = Policy.model_validate(
        {"cadence": {"steps": [_step("call", 7, owner=OwnerRule("queue", "Q"))]}}
    )

    assert policy.cadence.steps[0].owner == OwnerRule("queue", "Q")


PROMISE = Promise("PR1", "USD", Decimal(100), date(2026, 3, 20), date(2026, 3, 10))


def _paid(
    amount: str, on: date, *, currency: str = "USD", kind: PaymentKind = PaymentKind.PAYMENT
) -> Payment:
    return Payment(f"P{amount}{on}", "C1", currency, Decimal(amount), on, kind)


@pytest.mark.parametrize(
    ("payments", "as_of", "status"),
    [
        ([], date(2026, 3, 22), PromiseStatus.PENDING),
        ([_paid("100", date(2026, 3, 12))], date(2026, 3, 12), PromiseStatus.KEPT),
        (
            [_paid("60", date(2026, 3, 18)), _paid("40", date(2026, 3, 22))],
            date(2026, 4, 1),
            PromiseStatus.KEPT,
        ),
        ([_paid("60", date(2026, 3, 18))], date(2026, 3, 23), PromiseStatus.PARTIALLY_KEPT),
        ([_paid("100", date(2026, 3, 23))], date(2026, 3, 23), PromiseStatus.BROKEN),
        ([_paid("100", date(2026, 3, 9))], date(2026, 3, 23), PromiseStatus.BROKEN),
        (
            [_paid("100", date(2026, 3, 15), currency="EUR")],
            date(2026, 3, 23),
            PromiseStatus.BROKEN,
        ),
        (
            [_paid("100", date(2026, 3, 15), kind=PaymentKind.CREDIT)],
            date(2026, 3, 23),
            PromiseStatus.BROKEN,
        ),
    ],
)
def test_a_promise_is_judged_by_the_cash_received_by_its_date_plus_grace(
    payments: list[Payment], as_of: date, status: PromiseStatus
) -> None:
    assert judge_promise(PROMISE, payments, as_of, grace_days=2) is status


def test_the_broken_promise_follow_up_is_configurable_and_checked() -> None:
    policy = Policy.model_validate(
        {
            "cadence": {"steps": [_step("call", 7)]},
            "promises": {"broken_follow_up": {"channel": "email", "subject": "Broken: {customer}"}},
        }
    )
    errors = _errors(
        {
            "cadence": {"steps": [_step("call", 7)]},
            "promises": {"broken_follow_up": {"subject": "Broken: {amount}"}},
        }
    )

    assert policy.promises.broken_follow_up.channel is Channel.EMAIL
    assert policy.promises.broken_follow_up.subject == "Broken: {customer}"
    assert (
        "promises.broken_follow_up.subject: Value error, subject placeholder {amount}" in errors[0]
    )
