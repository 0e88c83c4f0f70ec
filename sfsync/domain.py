"""Pure value types of the collections domain and the changes a plan is made of.

Nothing here does I/O or reads the clock: every type is an immutable value, so a test of a
business rule needs nothing but data, and plans compare with ``==``.

Rules fixed here (see also ``docs/planning.md``):

* **Money** is :class:`decimal.Decimal`, never ``float``.
* **Currency** is an ISO 4217 code from :data:`ISO_CURRENCIES`; amounts in different currencies are
  never summed. A customer with invoices in two currencies is two collections *accounts*
  (:class:`AccountKey` = source + customer + currency), each with its own Case episode.
* **Keys** are built from source, customer, currency and ids joined by ``:``; an id that contains
  ``:`` or whitespace is refused (:class:`~sfsync.errors.SkippedRecord`), so keys stay unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

#: The ISO 4217 codes sfsync accepts. A short allow-list on purpose: an unknown code is far more
#: often a typo in the source (``EUR `` / ``US$``) than a currency we have never seen.
ISO_CURRENCIES = frozenset(
    {
        "AED", "ARS", "AUD", "BGN", "BRL", "CAD", "CHF", "CLP", "CNY", "COP", "CZK", "DKK",
        "EGP", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR", "ISK", "JPY", "KES", "KRW",
        "MAD", "MXN", "MYR", "NGN", "NOK", "NZD", "PEN", "PHP", "PKR", "PLN", "QAR", "RON",
        "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "UAH", "USD", "VND", "ZAR",
    }
)  # fmt: skip

#: Dates outside this range are typos (``0202-01-31``) or placeholders (``9999-12-31``).
EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)


class InvoiceStatus(StrEnum):
    """Where an invoice stands in the accounting system."""

    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class PaymentKind(StrEnum):
    """Cash received or a credit note issued to the customer."""

    PAYMENT = "payment"
    CREDIT = "credit"


class Channel(StrEnum):
    """How a cadence step reaches the customer (or, for ``review``, a manager)."""

    CALL = "call"
    EMAIL = "email"
    LETTER = "letter"
    REVIEW = "review"


class Priority(StrEnum):
    """Urgency of a Case or Task; the field mappings translate it to the org's picklist."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class PromiseStatus(StrEnum):
    """Life of a promise to pay, judged against payments received by its date plus grace days."""

    PENDING = "pending"
    KEPT = "kept"
    PARTIALLY_KEPT = "partially_kept"
    BROKEN = "broken"


class OutcomeKind(StrEnum):
    """What a rep records when completing a collections Task."""

    PROMISE_TO_PAY = "promise_to_pay"
    LEFT_VOICEMAIL = "left_voicemail"
    NO_ANSWER = "no_answer"
    DISPUTED = "disputed"
    PAID = "paid"
    WRONG_CONTACT = "wrong_contact"
    REFUSED = "refused"
    PAYMENT_PLAN = "payment_plan"


OwnerKind = Literal["case_owner", "account_owner", "queue"]


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """Who owns a Case or Task: ``case_owner``, ``account_owner`` or ``queue:<name>``.

    The plan records the rule only; the gateway resolves it to a Salesforce id at apply time,
    because ownership lives in the org and may change between planning and applying.
    """

    kind: OwnerKind
    queue: str = ""

    @classmethod
    def parse(cls, text: str) -> OwnerRule:
        """Read the config spelling; raise ``ValueError`` naming the accepted forms."""
        if text in ("case_owner", "account_owner"):
            return cls(kind=text)  # type: ignore[arg-type]  # narrowed by the membership test
        prefix, _, name = text.partition(":")
        if prefix == "queue" and name.strip():
            return cls(kind="queue", queue=name.strip())
        raise ValueError(
            f"owner {text!r} is not one of case_owner, account_owner, queue:<queue name>"
        )

    def __str__(self) -> str:
        return f"queue:{self.queue}" if self.kind == "queue" else self.kind


@dataclass(frozen=True, slots=True)
class Payment:
    """Cash received or a credit issued.

    ``applied_to`` names the invoice the accounting system applied it to; such an application is
    already reflected in that invoice's ``balance``, so planning ignores it. An *unapplied* payment
    or credit (``applied_to`` is ``None``) is netted against the account's chased invoices, oldest
    due first, because the customer has paid that much even if nobody matched it yet.
    """

    id: str
    customer_id: str
    currency: str
    amount: Decimal
    received_on: date
    kind: PaymentKind = PaymentKind.PAYMENT
    applied_to: str | None = None

    @property
    def is_cash(self) -> bool:
        """True for money received (counts toward a promise); credits do not."""
        return self.kind is PaymentKind.PAYMENT


@dataclass(frozen=True, slots=True)
class Promise:
    """A promise to pay logged by a rep in Salesforce and read back into the ledger."""

    id: str
    currency: str
    amount: Decimal
    promised_date: date
    made_on: date
    status: PromiseStatus = PromiseStatus.PENDING

    @property
    def is_pending(self) -> bool:
        """A pending promise pauses the cadence."""
        return self.status is PromiseStatus.PENDING
