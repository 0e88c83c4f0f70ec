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

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Literal

from sfsync.errors import SkippedRecord

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
    #: A completed collections Task whose label sfsync does not know: kept with its notes.
    OTHER = "other"


OwnerKind = Literal["case_owner", "account_owner", "queue", "user"]


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """Who owns a Case or Task: ``case_owner``, ``account_owner``, ``queue:<name>`` or
    ``user:<username>`` (a named person, such as the manager who does every day-15 review).

    The plan records the rule only; the gateway resolves it to a Salesforce id at apply time,
    because ownership lives in the org and may change between planning and applying.
    """

    kind: OwnerKind
    queue: str = ""
    username: str = ""

    @classmethod
    def parse(cls, text: str) -> OwnerRule:
        """Read the config spelling; raise ``ValueError`` naming the accepted forms."""
        if text in ("case_owner", "account_owner"):
            return cls(kind=text)  # type: ignore[arg-type]  # narrowed by the membership test
        prefix, _, name = text.partition(":")
        if prefix == "queue" and name.strip():
            return cls(kind="queue", queue=name.strip())
        if prefix == "user" and name.strip():
            return cls(kind="user", username=name.strip())
        raise ValueError(
            f"owner {text!r} is not one of case_owner, account_owner, queue:<queue name>, "
            "user:<username>"
        )

    def __str__(self) -> str:
        if self.kind == "queue":
            return f"queue:{self.queue}"
        if self.kind == "user":
            return f"user:{self.username}"
        return self.kind


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

    def __post_init__(self) -> None:
        problem = key_part_problem("payment id", self.id) or key_part_problem(
            "customer", self.customer_id
        )
        if problem is None and self.currency not in ISO_CURRENCIES:
            problem = f"currency {self.currency!r} is not a known ISO 4217 code (e.g. USD, EUR)"
        if problem is None and not (self.amount.is_finite() and self.amount > 0):
            problem = f"amount {self.amount} must be a positive number"
        if problem is not None:
            raise ValueError(problem)

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

    def __post_init__(self) -> None:
        problem = key_part_problem("promise id", self.id)
        if problem is not None:
            raise ValueError(problem)

    @property
    def is_pending(self) -> bool:
        """A pending promise pauses the cadence."""
        return self.status is PromiseStatus.PENDING


_KEY_UNSAFE = re.compile(r"[:\s]")


def key_part_problem(label: str, value: str) -> str | None:
    """Why ``value`` cannot be part of a key, or ``None`` when it can."""
    if not value:
        return f"has no {label}"
    if _KEY_UNSAFE.search(value):
        return f"{label} {value!r} contains ':' or whitespace, which sfsync keys cannot hold"
    return None


@dataclass(frozen=True, slots=True)
class Customer:
    """An accounting customer; matched to a Salesforce Account by its id."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice as the accounting system (the system of record) reports it.

    ``balance`` is what is still owed after every payment and credit the accounting system has
    applied. An invalid invoice cannot be built: the constructor raises ``ValueError`` with the
    reason, and :func:`parse_invoice` turns that into a :class:`~sfsync.errors.SkippedRecord`.
    """

    id: str
    customer_id: str
    number: str
    currency: str
    amount: Decimal
    balance: Decimal
    issue_date: date
    due_date: date
    status: InvoiceStatus = InvoiceStatus.OPEN
    disputed: bool = False
    dispute_reason: str = ""
    updated_at: datetime | None = None
    #: Still owed: open in the accounting system with a balance left. Derived once here
    #: because planning asks it several times per invoice.
    is_open: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problem = invoice_problem(self)
        if problem is not None:
            raise ValueError(problem)
        object.__setattr__(self, "is_open", self.status is InvoiceStatus.OPEN and self.balance > 0)

    @property
    def is_chased(self) -> bool:
        """Counted in the collections balance: open and not under dispute."""
        return self.is_open and not self.disputed


def invoice_problem(invoice: Invoice) -> str | None:
    """The first reason ``invoice`` cannot be used, phrased so an admin knows what to fix."""
    problem = key_part_problem("invoice id", invoice.id) or key_part_problem(
        "customer", invoice.customer_id
    )
    if problem is not None:
        return problem
    if invoice.currency not in ISO_CURRENCIES:
        return f"currency {invoice.currency!r} is not a known ISO 4217 code (e.g. USD, EUR)"
    if not invoice.amount.is_finite() or not invoice.balance.is_finite():
        return f"amount {invoice.amount} or balance {invoice.balance} is not a finite number"
    if invoice.amount < 0:
        return f"amount {invoice.amount} is negative; send credit notes as credits, not invoices"
    if invoice.balance < 0:
        return f"balance {invoice.balance} is negative; send overpayments as unapplied credits"
    if invoice.balance > invoice.amount:
        return f"balance {invoice.balance} is above the invoice amount {invoice.amount}"
    for label, day in (("issue date", invoice.issue_date), ("due date", invoice.due_date)):
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            return f"{label} {day.isoformat()} is outside {EARLIEST_DATE.year}-{LATEST_DATE.year}"
    if invoice.due_date < invoice.issue_date:
        return (
            f"due date {invoice.due_date.isoformat()} is before issue date "
            f"{invoice.issue_date.isoformat()}"
        )
    if invoice.status is InvoiceStatus.PAID and invoice.balance != 0:
        return f"status is paid but balance {invoice.balance} is still owed"
    return None


def parse_invoice(record: Mapping[str, object], source: str) -> Invoice:
    """Build an :class:`Invoice` from a source row, or raise :class:`SkippedRecord` saying why.

    Accepts what sources hand over: strings (CSV), ``Decimal``/``int``/``float`` (SQL, XLSX),
    ``date``/``datetime`` or ISO strings for dates. Currency and status are case-insensitive.
    Keys: ``id customer_id number currency amount balance issue_date due_date status disputed
    dispute_reason updated_at`` (``number`` defaults to ``id``, ``status`` to open).
    """
    get = record.get
    ident = _text(get("id"))
    number = _text(get("number")) or ident
    try:
        amount, balance = get("amount"), get("balance")
        issued, due = get("issue_date"), get("due_date")
        disputed = get("disputed")
        return Invoice(
            id=ident,
            customer_id=_text(get("customer_id")),
            number=number,
            currency=_text(get("currency")).upper(),
            # Typed rows (SQL sources, the generator) skip the coercion helpers: this is the
            # inner loop of planning a million invoices.
            amount=amount if type(amount) is Decimal else _money(amount, "amount"),
            balance=balance if type(balance) is Decimal else _money(balance, "balance"),
            issue_date=issued if type(issued) is date else _day(issued, "issue date"),
            due_date=due if type(due) is date else _day(due, "due date"),
            status=_status(get("status")),
            disputed=disputed if type(disputed) is bool else _flag(disputed, "disputed"),
            dispute_reason=_text(get("dispute_reason")),
            updated_at=_moment(get("updated_at")),
        )
    except ValueError as error:
        where = f"invoice {number}" if number else "invoice without id"
        raise SkippedRecord(f"{source}:{ident or '?'}", f"{where}: {error}") from None


def _text(value: object) -> str:
    if type(value) is str:
        return value.strip()
    return "" if value is None else str(value).strip()


def _money(value: object, label: str) -> Decimal:
    """Coerce a non-``Decimal`` amount (``parse_invoice`` passes ``Decimal`` through)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"{label} is missing")
    if isinstance(value, int | float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{label} {value!r} is not a number") from None


def _day(value: object, label: str) -> date:
    """Coerce a non-``date`` day (``parse_invoice`` passes plain dates through)."""
    if isinstance(value, datetime):
        return value.date()
    if value is None or value == "":
        raise ValueError(f"{label} is missing")
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{label} {value!r} is not a real date (YYYY-MM-DD)") from None


def _moment(value: object) -> datetime | None:
    """An aware timestamp; a naive one is taken as UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"updated_at {value!r} is not an ISO timestamp") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_STATUSES = {status.value: status for status in InvoiceStatus}


def _status(value: object) -> InvoiceStatus:
    status = _STATUSES.get(_text(value).lower() or InvoiceStatus.OPEN.value)
    if status is None:
        raise ValueError(f"status {value!r} is not one of open, paid, void")
    return status


_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n", "", "none"})


def _flag(value: object, label: str) -> bool:
    """Coerce a non-``bool`` flag (``parse_invoice`` passes booleans through)."""
    text = _text(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{label} {value!r} is not true or false")


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a rep recorded when completing a collections Task (read back from Salesforce)."""

    task_key: str
    kind: OutcomeKind
    recorded_at: datetime
    notes: str = ""
    promise_date: date | None = None
    promise_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountKey:
    """One collections account: a customer of one source, in one currency.

    Cases are per currency (amounts are never converted or summed across currencies), so the
    Case key is ``<source>:<customer>:<currency>:<episode>``.
    """

    source: str
    customer_id: str
    currency: str

    @property
    def text(self) -> str:
        """``<source>:<customer>:<currency>``."""
        return f"{self.source}:{self.customer_id}:{self.currency}"

    def case_key(self, episode: int) -> str:
        """The Case external id of ``episode`` (1, 2, ... one per delinquency)."""
        return f"{self.text}:{episode}"

    def reminder_prefix(self, invoice_id: str) -> str:
        """Prefix of reminder Task keys about ``invoice_id`` (no Case exists for them)."""
        return f"{self.text}:due-{invoice_id}:"


@dataclass(frozen=True, slots=True)
class AgingBuckets:
    """Chased balance by days past due: current (not yet due), 1-30, 31-60, 61-90, 91+."""

    current: Decimal = Decimal(0)
    days_1_30: Decimal = Decimal(0)
    days_31_60: Decimal = Decimal(0)
    days_61_90: Decimal = Decimal(0)
    days_91_plus: Decimal = Decimal(0)

    @property
    def past_due(self) -> Decimal:
        """Everything in a past-due bucket."""
        return self.days_1_30 + self.days_31_60 + self.days_61_90 + self.days_91_plus


def canonical_money(value: Decimal) -> str:
    """``10``, ``10.0`` and ``10.00`` are the same money and must hash the same."""
    return format(value.normalize(), "f")


def _day_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _money_text(value: Decimal | None) -> str | None:
    return None if value is None else canonical_money(value)


#: What :func:`content_hash` accepts: plain scalars whose ``repr`` is one canonical spelling.
Canonical = str | int | bool | None


def content_hash(kind: str, parts: tuple[Canonical, ...]) -> str:
    """sha256 over ``kind`` and ``parts``: equal payloads hash equal across runs and processes.

    Parts are already canonical text (money via :func:`canonical_money`, dates ISO) or plain
    ints, bools and ``None``, whose ``repr`` is deterministic; it is twice as fast as a JSON
    encoding, and hashing is in the inner loop of planning a million invoices.
    """
    return hashlib.sha256(repr((kind, *parts)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CaseValues:
    """What the collections Case shows, in domain terms (the field mappings name the fields).

    ``past_due`` and the aging buckets count only chased money (disputed invoices are in
    ``disputed_amount`` alone). ``step`` is the latest cadence step the account has reached.
    """

    subject: str
    owner: OwnerRule
    priority: Priority
    currency: str
    past_due: Decimal
    aging: AgingBuckets
    open_invoice_count: int
    oldest_days_past_due: int
    next_action_date: date | None
    disputed_amount: Decimal
    promise_status: PromiseStatus | None
    promise_date: date | None
    promise_amount: Decimal | None
    step: str | None

    def canonical(self) -> tuple[Canonical, ...]:
        """Every value, in a fixed order, for :func:`content_hash`."""
        aging = self.aging
        return (
            self.subject,
            str(self.owner),
            self.priority.value,
            self.currency,
            canonical_money(self.past_due),
            canonical_money(aging.current),
            canonical_money(aging.days_1_30),
            canonical_money(aging.days_31_60),
            canonical_money(aging.days_61_90),
            canonical_money(aging.days_91_plus),
            self.open_invoice_count,
            self.oldest_days_past_due,
            _day_text(self.next_action_date),
            canonical_money(self.disputed_amount),
            None if self.promise_status is None else self.promise_status.value,
            _day_text(self.promise_date),
            _money_text(self.promise_amount),
            self.step,
        )


@dataclass(frozen=True, slots=True)
class TaskValues:
    """A cadence Task to create. ``activity_date`` is the day it is due for the rep."""

    step: str
    subject: str
    channel: Channel
    owner: OwnerRule
    priority: Priority
    activity_date: date

    def canonical(self) -> tuple[Canonical, ...]:
        """Every value, in a fixed order, for :func:`content_hash`."""
        return (
            self.step,
            self.subject,
            self.channel.value,
            str(self.owner),
            self.priority.value,
            self.activity_date.isoformat(),
        )


@dataclass(frozen=True, slots=True)
class InvoiceValues:
    """The invoice record as Salesforce shows it (child of the Account and the episode's Case)."""

    number: str
    currency: str
    amount: Decimal
    balance: Decimal
    issue_date: date
    due_date: date
    days_past_due: int
    status: InvoiceStatus
    disputed: bool
    dispute_reason: str

    def canonical(self) -> tuple[Canonical, ...]:
        """Every value, in a fixed order, for :func:`content_hash`."""
        return (
            self.number,
            self.currency,
            canonical_money(self.amount),
            canonical_money(self.balance),
            self.issue_date.isoformat(),
            self.due_date.isoformat(),
            self.days_past_due,
            self.status.value,
            self.disputed,
            self.dispute_reason,
        )


class CaseAction(StrEnum):
    """What happens to the account's collections Case."""

    OPEN = "open"
    UPDATE = "update"
    CLOSE = "close"


class TaskAction(StrEnum):
    """What happens to a cadence Task."""

    CREATE = "create"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class CaseChange:
    """Open, update or close the Case ``key`` (episode ``episode``) with ``values``.

    ``close`` does not name a status: the gateway picks the org's closed Case status.
    """

    action: CaseAction
    key: str
    episode: int
    values: CaseValues
    content_hash: str


@dataclass(frozen=True, slots=True)
class TaskChange:
    """Create or close the Task ``key``.

    ``case_key`` is the Case the Task hangs from, or ``None`` for a reminder sent before any Case
    exists (the gateway attaches it to the Account). ``values`` is ``None`` for ``close``.
    """

    action: TaskAction
    key: str
    case_key: str | None
    values: TaskValues | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class InvoiceChange:
    """Upsert the invoice record ``key`` (``<source>:<invoice id>``).

    ``case_key`` links it to the episode's Case. ``None`` means no Case is planned for the
    account: leave the record's Case lookup as it is (a record of a closed episode stays
    linked to it; a new one hangs from the Account only).
    """

    key: str
    invoice_id: str
    case_key: str | None
    values: InvoiceValues
    content_hash: str


@dataclass(frozen=True)
class AccountState:
    """What the store knows was written for one account; plans are relative to it.

    * ``episode``: number of the current (or last) Case episode, 0 before the first.
    * ``case_open`` / ``case_key`` / ``case_hash``: the episode's Case and the hash last written.
    * ``invoice_hashes``: invoice record key → hash last written.
    * ``task_keys``: every Task ever created for the account (a step is never created twice);
      ``open_task_keys``: those not yet completed or closed.
    * ``promise``: the promise to pay in force, read back from Salesforce.
    """

    episode: int = 0
    case_open: bool = False
    case_key: str = ""
    case_hash: str = ""
    invoice_hashes: Mapping[str, str] = field(default_factory=dict)
    task_keys: frozenset[str] = frozenset()
    open_task_keys: frozenset[str] = frozenset()
    promise: Promise | None = None


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """Every change one account needs, relative to its :class:`AccountState`."""

    account: AccountKey
    case: CaseChange | None = None
    invoices: tuple[InvoiceChange, ...] = ()
    tasks: tuple[TaskChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write: the account is as the store last wrote it."""
        return self.case is None and not self.invoices and not self.tasks
