"""The collections policy (``config/policy.yaml``) as a validated, immutable model, plus pure rules.

``Policy.model_validate(yaml_data)`` is the whole check of the file: every rule an admin can break
(unknown channel, duplicate step name, offsets out of order, negative tolerance, unknown placeholder
in a subject) is a validation error with a message that names the fix, so ``sfsync config check``
can report them all at once with file and key.

Cadence rules (applied by :mod:`sfsync.cases`):

* A step fires when the account's *reference* invoice is ``offset_days`` past its due date.
  Steps with ``offset_days >= 1`` belong to the Case episode and use the oldest remaining past-due
  invoice; steps with ``offset_days <= 0`` are *reminders* sent before the account is delinquent and
  use the earliest invoice not yet past due.
* Offsets are strictly increasing, so the steps form a ladder and "the latest step reached" is
  well defined: when an account jumps several steps at once, only the latest is created.
* ``min_balance`` is the tolerance: a past-due balance at or below it is not chased.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator

from sfsync.domain import (
    ISO_CURRENCIES,
    Channel,
    OwnerRule,
    Payment,
    Priority,
    Promise,
    PromiseStatus,
)
from sfsync.escalation import EscalationPolicy
from sfsync.templates import check_template

#: Placeholders a Task subject may use, with sample values used to check format specs.
TASK_SUBJECT_FIELDS: dict[str, object] = {
    "customer": "Acme Ltd",
    "currency": "USD",
    "past_due": Decimal("1234.50"),
    "days_past_due": 7,
    "invoice_count": 3,
    "step": "day_7_call",
}
#: Placeholders a Case subject may use. Only values that rarely change, so the Case is not
#: rewritten every day just because its subject moved.
CASE_SUBJECT_FIELDS: dict[str, object] = {"customer": "Acme Ltd", "currency": "USD"}


def _parse_owner(value: object) -> object:
    """Turn the config spelling into an :class:`OwnerRule`; pydantic reports the ``ValueError``."""
    if isinstance(value, str):
        return OwnerRule.parse(value)
    return value


Owner = Annotated[OwnerRule, BeforeValidator(_parse_owner), PlainSerializer(str, return_type=str)]


class CadenceStep(BaseModel):
    """One rung of the collections ladder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="Unique id of the step, part of the Task key: lowercase letters, digits, _.",
    )
    offset_days: int = Field(
        ge=-60, le=3650, description="Days after the due date (negative: before it)."
    )
    channel: Channel
    owner: Owner = OwnerRule("case_owner")
    priority: Priority = Priority.NORMAL
    subject: str = Field(min_length=1, max_length=255)

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        return check_template(value, TASK_SUBJECT_FIELDS, "subject")

    @property
    def is_reminder(self) -> bool:
        """True for steps sent before the account is past due (no Case exists yet)."""
        return self.offset_days <= 0


class CadencePolicy(BaseModel):
    """The ladder of steps and the balance below which nobody is chased."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: tuple[CadenceStep, ...] = Field(min_length=1)
    min_balance: Decimal = Field(default=Decimal(0), ge=0, allow_inf_nan=False)
    min_balance_by_currency: dict[str, Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]] = (
        Field(default_factory=dict)
    )

    @field_validator("steps")
    @classmethod
    def _check_ladder(cls, steps: tuple[CadenceStep, ...]) -> tuple[CadenceStep, ...]:
        seen: set[str] = set()
        for step in steps:
            if step.name in seen:
                raise ValueError(
                    f"step name {step.name!r} is used twice; step names must be unique"
                )
            seen.add(step.name)
        for earlier, later in itertools.pairwise(steps):
            if later.offset_days <= earlier.offset_days:
                raise ValueError(
                    f"step {later.name!r} (offset_days {later.offset_days}) must come after "
                    f"{earlier.name!r} (offset_days {earlier.offset_days}): list steps in strictly "
                    "increasing offset_days"
                )
        return steps

    @field_validator("min_balance_by_currency")
    @classmethod
    def _check_currencies(cls, tolerances: dict[str, Decimal]) -> dict[str, Decimal]:
        for code in tolerances:
            if code not in ISO_CURRENCIES:
                raise ValueError(f"{code!r} is not a known ISO 4217 currency code (e.g. USD, EUR)")
        return tolerances

    def tolerance_for(self, currency: str) -> Decimal:
        """The minimum balance chased in ``currency`` (a per-currency override wins)."""
        return self.min_balance_by_currency.get(currency, self.min_balance)

    @property
    def case_steps(self) -> tuple[CadenceStep, ...]:
        """Steps that run inside a Case episode (offset ≥ 1), in ladder order."""
        return tuple(step for step in self.steps if not step.is_reminder)

    @property
    def reminder_steps(self) -> tuple[CadenceStep, ...]:
        """Steps sent before the due date or on it (offset ≤ 0), in ladder order."""
        return tuple(step for step in self.steps if step.is_reminder)


class FollowUp(BaseModel):
    """The Task created once when a promise to pay is broken."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel = Channel.CALL
    owner: Owner = OwnerRule("case_owner")
    priority: Priority = Priority.HIGH
    subject: str = Field(
        default="Promise broken: call {customer} about {currency} {past_due:,.2f}",
        min_length=1,
        max_length=255,
    )

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        return check_template(value, TASK_SUBJECT_FIELDS, "subject")


class PromisePolicy(BaseModel):
    """How promises to pay are judged, and what a broken one sets off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    grace_days: int = Field(default=3, ge=0, le=60)
    broken_follow_up: FollowUp = FollowUp()


class CasePolicy(BaseModel):
    """Defaults for the collections Case itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(default="Collections: {customer} ({currency})", min_length=1)
    owner: Owner = OwnerRule("account_owner")
    priority: Priority = Priority.NORMAL

    @field_validator("subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        return check_template(value, CASE_SUBJECT_FIELDS, "subject")

    @field_validator("owner")
    @classmethod
    def _check_owner(cls, value: OwnerRule) -> OwnerRule:
        if value.kind == "case_owner":
            raise ValueError(
                "a Case cannot be owned by its own owner: use account_owner or queue:<name>"
            )
        return value


class OwnerPolicy(BaseModel):
    """How owner rules meet Salesforce's limits (resolved by :mod:`sfsync.owners`).

    A queue cannot own a Task, and nobody can be handed a record after they left: such a Task
    (and a record whose account or case owner is inactive) goes to ``task_queue_fallback``, the
    username of an active user such as the collections lead. Unset: ``OwnerId`` is left out and
    the integration user owns it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_queue_fallback: str | None = Field(
        default=None, min_length=3, max_length=80, pattern=r"^[^\s@]+@[^\s@]+$"
    )


class Policy(BaseModel):
    """Everything in ``config/policy.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cadence: CadencePolicy
    promises: PromisePolicy = PromisePolicy()
    case: CasePolicy = CasePolicy()
    owners: OwnerPolicy = OwnerPolicy()
    escalation: EscalationPolicy = EscalationPolicy()

    @property
    def owner_rules(self) -> tuple[OwnerRule, ...]:
        """Every owner rule of the Case, the cadence steps and the broken-promise follow-up."""
        return (
            self.case.owner,
            self.promises.broken_follow_up.owner,
            *(step.owner for step in self.cadence.steps),
        )


def judge_promise(
    promise: Promise, payments: tuple[Payment, ...] | list[Payment], as_of: date, grace_days: int
) -> PromiseStatus:
    """Judge a promise against the payments received from its creation to its date + grace days.

    A promise stays ``pending`` until the grace period has passed, unless it is already met in
    full. Then: all paid → ``kept``; some paid → ``partially_kept``; nothing → ``broken``.
    Only payments in the promise's currency count; credits are not payments.
    """
    deadline = promise.promised_date + timedelta(days=grace_days)
    received = sum(
        (
            payment.amount
            for payment in payments
            if payment.is_cash
            and payment.currency == promise.currency
            and promise.made_on <= payment.received_on <= deadline
        ),
        Decimal(0),
    )
    if received >= promise.amount:
        return PromiseStatus.KEPT
    if as_of <= deadline:
        return PromiseStatus.PENDING
    if received > 0:
        return PromiseStatus.PARTIALLY_KEPT
    return PromiseStatus.BROKEN
