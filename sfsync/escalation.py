"""Stale-case escalation: the policy, case age, why a case is stale, and the escalation plan. Pure.

``plan_escalations(cases, already, now, policy)`` looks at the open collections Cases (facts the
orchestrator read from the org and the store) and returns an immutable :class:`EscalationPlan`:
for each Case that crossed a level of the ladder not yet escalated, one :class:`Escalation` with
the Case update (``IsEscalated``, status, ``Escalation_Reason__c``), the manager's Task, the
Chatter post and the alert payload. Nothing here does I/O or reads the clock.

Rules (also in ``docs/escalation.md``):

* **Ladder**: levels in strictly increasing ``after_days`` (e.g. 14 days → manager, 30 days →
  legal queue). A level is *crossed* when the Case's age, measured in that level's mode, reaches
  ``after_days``. Age runs from the Case's ``CreatedDate`` in the org.
* **Exactly once per level**: an escalation's key is ``<case key>:esc:<level>``; a key in
  ``already`` is never emitted again, and once a level is done no lower level is emitted
  (the ladder never goes down).
* **Jumps**: when a Case crosses several levels at once (first run, an outage, a policy change),
  only the highest is emitted; the lower ones are listed in :attr:`Escalation.done_keys` so the
  store records them as done too, exactly like the cadence rule for Task steps.
* **Escalated outside sfsync**: a Case already ``IsEscalated`` in the org, for which sfsync has
  escalated no level, was escalated by a person or a native escalation rule. That hand
  escalation stands for the *first* level only: while the Case has crossed no more than the
  first level it is skipped (and listed as such); once it crosses a later level (e.g. the
  30-day legal level) that level fires as usual, settling the levels above the first (the
  first level's key is not recorded: sfsync did not do it). Once sfsync escalated a level,
  later levels proceed whatever ``IsEscalated`` says now.
* **Calendar age**: whole 24-hour periods elapsed since creation (time-zone free, like the native
  rule's "age over" without business hours).
* **Business age**: only working time counts: the region's weekdays, between its start and end
  time, in its time zone, skipping its public holidays (the ``holidays`` library, by country and
  subdivision) and its extra closed days. A business day is one full working day of working time
  (``end - start``), so partial days add up: a Case created Wednesday 13:00 is one business day
  old on Thursday 13:00; one created Friday evening starts counting Monday morning. This is
  Salesforce's ``BusinessHours.diff`` semantics, expressed in days.
* **Owner who left**: an inactive Case owner does not stop the escalation. The Case is reassigned
  to the level's ``fallback`` and a ``manager`` Task goes to the fallback too (the manager of a
  departed user is not a safe bet); the change is flagged ``owner_inactive`` for the log. A Case
  whose owner has no manager (or is a queue) sends its ``manager`` Task to the fallback, flagged
  ``routed_to_fallback``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from sfsync.domain import (
    Canonical,
    Outcome,
    OutcomeKind,
    Priority,
    Promise,
    PromiseStatus,
    canonical_money,
    content_hash,
)
from sfsync.templates import check_template

#: ``Escalation_Reason__c`` is a 255-character text field.
REASON_MAX_LENGTH = 255
#: A Task ``Subject`` holds at most 255 characters.
TASK_SUBJECT_MAX_LENGTH = 255
#: A Chatter ``FeedItem.Body`` holds at most 10,000 characters.
FEED_BODY_MAX_LENGTH = 10_000
ELLIPSIS = "…"

Mode = Literal["calendar", "business"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Placeholders the escalation Task subject and Chatter post may use, with sample values used to
#: check format specs when the policy is loaded.
ESCALATION_FIELDS: dict[str, object] = {
    "customer": "Acme Ltd",
    "case_number": "00001234",
    "level": "manager",
    "age_days": 15,
    "age_unit": "calendar days",
    "currency": "USD",
    "past_due": Decimal("1234.50"),
    "owner": "Pat Lee",
    "reasons": "no contact logged",
}

#: Outcomes in which the customer was not reached: a run of them is "no response".
UNANSWERED_OUTCOMES = frozenset(
    {OutcomeKind.NO_ANSWER, OutcomeKind.LEFT_VOICEMAIL, OutcomeKind.WRONG_CONTACT}
)


AssigneeKind = Literal["manager", "queue", "user"]


@dataclass(frozen=True, slots=True)
class Assignee:
    """Who gets an escalation: ``manager`` (the Case owner's), ``queue:<name>``, ``user:<name>``.

    ``user:`` takes a Salesforce username; the gateway resolves queues and usernames to ids.
    """

    kind: AssigneeKind
    name: str = ""

    @classmethod
    def parse(cls, text: str) -> Assignee:
        """Read the config spelling; raise ``ValueError`` naming the accepted forms."""
        if text == "manager":
            return cls("manager")
        prefix, _, name = text.partition(":")
        if prefix in ("queue", "user") and name.strip():
            return cls(prefix, name.strip())  # type: ignore[arg-type]  # narrowed by the test
        raise ValueError(f"assignee {text!r} is not one of manager, queue:<name>, user:<username>")

    def __str__(self) -> str:
        return self.kind if self.kind == "manager" else f"{self.kind}:{self.name}"


def _parse_assignee(value: object) -> object:
    return Assignee.parse(value) if isinstance(value, str) else value


AssigneeField = Annotated[
    Assignee, BeforeValidator(_parse_assignee), PlainSerializer(str, return_type=str)
]


def _refuse_sexagesimal(value: object) -> object:
    """YAML 1.1 reads an unquoted ``17:00`` as the number 1020; refuse it instead of guessing."""
    if isinstance(value, int | float):
        # ValueError, not TypeError: pydantic reports only ValueError as a validation error.
        raise ValueError(f"time {value!r} is a number: write times quoted, e.g. '17:00'")  # noqa: TRY004
    return value


ClockTime = Annotated[time, BeforeValidator(_refuse_sexagesimal)]


def _supported_countries() -> dict[str, list[str]]:
    # Imported here, not at the top: only business-day regions need the holiday library, so
    # loading a policy without regions (and everything that imports this module) works without it.
    import holidays  # noqa: PLC0415

    return holidays.list_supported_countries()


@functools.lru_cache(maxsize=256)
def public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """The public holidays (observed days included) of ``country``/``subdivision`` in ``year``."""
    import holidays  # noqa: PLC0415  # see _supported_countries

    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


class Region(BaseModel):
    """Where and when a collections team works: business hours, time zone, holiday calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    country: str = Field(description="ISO 3166 code for the holiday calendar, e.g. US, GB.")
    subdivision: str | None = Field(
        default=None, description="State or nation within the country, e.g. CA, ENG."
    )
    time_zone: str = Field(description="IANA time zone, e.g. America/New_York.")
    start: ClockTime = time(9, 0)
    end: ClockTime = time(17, 0)
    weekdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    extra_closed_days: tuple[date, ...] = Field(
        default=(), description="Company closures beyond the public holidays."
    )

    @field_validator("time_zone")
    @classmethod
    def _check_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"time zone {value!r} is unknown; use an IANA name such as Europe/London"
            ) from None
        return value

    @field_validator("weekdays")
    @classmethod
    def _check_weekdays(cls, value: tuple[Weekday, ...]) -> tuple[Weekday, ...]:
        if not value:
            raise ValueError("weekdays is empty; a region must work at least one day a week")
        if len(set(value)) != len(value):
            raise ValueError(f"weekdays {list(value)} names a day twice")
        return value

    @model_validator(mode="after")
    def _check_calendar(self) -> Region:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end:%H:%M} must be after start {self.start:%H:%M} "
                "(business hours past midnight are not supported)"
            )
        supported = _supported_countries()
        if self.country not in supported:
            raise ValueError(
                f"country {self.country!r} has no holiday calendar; use an ISO 3166 code "
                "such as US, GB, DE"
            )
        subdivisions = supported[self.country]
        if self.subdivision is not None and self.subdivision not in subdivisions:
            raise ValueError(
                f"subdivision {self.subdivision!r} is not one of {self.country}'s: "
                + ", ".join(subdivisions)
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The region's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def day_seconds(self) -> int:
        """Length of one working day, in seconds."""
        start = self.start.hour * 3600 + self.start.minute * 60 + self.start.second
        end = self.end.hour * 3600 + self.end.minute * 60 + self.end.second
        return end - start

    def is_working_day(self, day: date) -> bool:
        """A configured weekday that is neither a public holiday nor an extra closed day."""
        return (
            WEEKDAYS[day.weekday()] in self.weekdays
            and day not in self.extra_closed_days
            and day not in public_holidays(self.country, self.subdivision, day.year)
        )


DEFAULT_TASK_SUBJECT = "Escalation ({level}): {customer}, case {case_number}, {age_days} {age_unit}"
DEFAULT_CHATTER = (
    "Escalated to {level}: open {age_days} {age_unit}, {currency} {past_due:,.2f} past due. "
    "Why: {reasons}."
)


class EscalationLevel(BaseModel):
    """One rung of the escalation ladder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$",
        description="Unique id of the level, part of the escalation key: lowercase, digits, _.",
    )
    after_days: int = Field(ge=1, le=3650, description="Age (in `mode` days) that escalates.")
    mode: Mode = "calendar"
    region: str | None = Field(
        default=None, description="Region whose business hours count (business mode)."
    )
    status: str = Field(default="Escalated", min_length=1, max_length=255)
    assign_to: AssigneeField = Assignee("manager")
    fallback: AssigneeField = Assignee("queue", "Collections_Managers")
    task_subject: str = Field(
        default=DEFAULT_TASK_SUBJECT, min_length=1, max_length=TASK_SUBJECT_MAX_LENGTH
    )
    task_priority: Priority = Priority.HIGH
    chatter: str = Field(default=DEFAULT_CHATTER, min_length=1, max_length=FEED_BODY_MAX_LENGTH)

    @field_validator("task_subject")
    @classmethod
    def _check_subject(cls, value: str) -> str:
        return check_template(value, ESCALATION_FIELDS, "task_subject")

    @field_validator("chatter")
    @classmethod
    def _check_chatter(cls, value: str) -> str:
        return check_template(value, ESCALATION_FIELDS, "chatter")

    @field_validator("fallback")
    @classmethod
    def _check_fallback(cls, value: Assignee) -> Assignee:
        if value.kind == "manager":
            raise ValueError("fallback must be queue:<name> or user:<username>, not manager")
        return value


class EscalationPolicy(BaseModel):
    """The ``escalation:`` section of ``config/policy.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str | None = Field(
        default=None, description="Default region of business-mode levels without their own."
    )
    regions: dict[str, Region] = Field(default_factory=dict)
    no_response_attempts: int = Field(default=3, ge=1, le=100)
    levels: tuple[EscalationLevel, ...] = Field(
        default=(EscalationLevel(name="manager", after_days=14),), min_length=1
    )

    @field_validator("levels")
    @classmethod
    def _check_ladder(cls, levels: tuple[EscalationLevel, ...]) -> tuple[EscalationLevel, ...]:
        seen: set[str] = set()
        for level in levels:
            if level.name in seen:
                raise ValueError(f"level name {level.name!r} is used twice; names must be unique")
            seen.add(level.name)
        for lower, higher in itertools.pairwise(levels):
            if higher.after_days <= lower.after_days:
                raise ValueError(
                    f"level {higher.name!r} (after_days {higher.after_days}) must come after "
                    f"{lower.name!r} (after_days {lower.after_days}): list levels in strictly "
                    "increasing after_days"
                )
        return levels

    @model_validator(mode="after")
    def _check_regions(self) -> EscalationPolicy:
        if self.region is not None and self.region not in self.regions:
            raise ValueError(f"region {self.region!r} is not defined under regions")
        for level in self.levels:
            name = level.region or self.region
            if level.region is not None and level.region not in self.regions:
                raise ValueError(
                    f"level {level.name!r}: region {level.region!r} is not defined under regions"
                )
            if level.mode == "business" and name is None:
                raise ValueError(
                    f"level {level.name!r} counts business days but names no region: set "
                    "region on the level or on escalation"
                )
        return self

    def region_of(self, level: EscalationLevel) -> Region | None:
        """The level's region (its own, else the policy default), or ``None`` without one."""
        name = level.region or self.region
        return None if name is None else self.regions[name]


# --- age ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Age:
    """How old a Case is: whole ``days`` and the ``seconds`` counted, in ``mode``."""

    mode: Mode
    days: int
    seconds: int

    @property
    def unit(self) -> str:
        """``calendar days`` or ``business days``, for texts."""
        return f"{self.mode} days"


def _require_aware(moment: datetime, label: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{label} {moment.isoformat()} has no time zone; pass an aware datetime")


def case_age(created: datetime, now: datetime, mode: Mode, calendar: Region | None) -> Age:
    """Age of a Case created at ``created`` as of ``now`` (both time-zone aware).

    Calendar: whole 24-hour periods elapsed. Business: working seconds in ``calendar`` (its
    weekdays and hours, in its time zone, minus holidays) divided by the working-day length.
    ``now`` before ``created`` (clock skew between org and service) is age zero.
    """
    _require_aware(created, "created")
    _require_aware(now, "now")
    if mode == "calendar":
        # In UTC: Python subtracts two datetimes of the same zone by wall clock, not real time.
        elapsed = now.astimezone(UTC) - created.astimezone(UTC)
        seconds = max(0, int(elapsed.total_seconds()))
        return Age(mode, seconds // 86_400, seconds)
    if calendar is None:
        raise ValueError("business age needs a region (business hours and holiday calendar)")
    seconds = working_seconds(created, now, calendar)
    return Age(mode, seconds // calendar.day_seconds, seconds)


def working_seconds(start: datetime, end: datetime, region: Region) -> int:
    """Seconds of working time in ``region`` between two aware instants (0 if ``end <= start``).

    In the region's local calendar, each working day contributes the overlap of its opening
    hours (local wall-clock times, so daylight-saving changes are followed) with the interval.
    The first and last days are cut exactly; the whole days between come from per-year running
    totals, so a Case open for years costs no more than one open for days.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0
    zone = region.zone
    first = start.astimezone(zone).date()
    last = end.astimezone(zone).date()
    if first == last:
        return _day_overlap(region, first, start, end)
    return (
        _day_overlap(region, first, start, end)
        + _whole_days_between(region, first, last)
        + _day_overlap(region, last, start, end)
    )


def _day_overlap(region: Region, day: date, start: datetime, end: datetime) -> int:
    """Working seconds of local ``day`` inside ``[start, end]`` (UTC instants)."""
    if not region.is_working_day(day):
        return 0
    opens, closes = _opening_hours(region, day)
    # In UTC: Python subtracts two datetimes of the same zone by wall clock, not real time.
    return max(0, int((min(closes, end) - max(opens, start)).total_seconds()))


def _opening_hours(region: Region, day: date) -> tuple[datetime, datetime]:
    zone = region.zone
    opens = datetime.combine(day, region.start, zone).astimezone(UTC)
    closes = datetime.combine(day, region.end, zone).astimezone(UTC)
    return opens, closes


def _whole_days_between(region: Region, first: date, last: date) -> int:
    """Working seconds of the days strictly after ``first`` and strictly before ``last``."""
    before_last = last - timedelta(days=1)
    if first.year == before_last.year:
        return _running_total(region, before_last) - _running_total(region, first)
    total = _year_total(region, first.year) - _running_total(region, first)
    total += sum(_year_total(region, year) for year in range(first.year + 1, before_last.year))
    return total + _running_total(region, before_last)


def _running_total(region: Region, day: date) -> int:
    """Working seconds from 1 January of ``day``'s year through ``day``."""
    return _year_table(region, day.year)[day.timetuple().tm_yday - 1]


def _year_total(region: Region, year: int) -> int:
    return _year_table(region, year)[-1]


@functools.lru_cache(maxsize=512)
def _year_table(region: Region, year: int) -> tuple[int, ...]:
    """Running total of working seconds at the end of each day of ``year``."""
    totals: list[int] = []
    total = 0
    day = date(year, 1, 1)
    while day.year == year:
        if region.is_working_day(day):
            opens, closes = _opening_hours(region, day)
            total += int((closes - opens).total_seconds())
        totals.append(total)
        day += timedelta(days=1)
    return tuple(totals)


# --- reasons ------------------------------------------------------------------------------------


class ReasonKind(StrEnum):
    """Why a Case is stale, in the order reasons are listed."""

    NO_CONTACT = "no_contact"
    PROMISE_BROKEN = "promise_broken"
    DISPUTE_OPEN = "dispute_open"
    NO_RESPONSE = "no_response"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason a Case is stale, with its human text."""

    kind: ReasonKind
    text: str


@dataclass(frozen=True, slots=True)
class CaseLedger:
    """What the local ledger knows about a Case's collections history.

    ``attempts``: the contact attempts logged (completed Tasks with their outcome);
    ``promises``: promises to pay with their judged status; ``disputed_invoices``: open invoices
    under dispute.
    """

    attempts: tuple[Outcome, ...] = ()
    promises: tuple[Promise, ...] = ()
    disputed_invoices: int = 0

    @property
    def last_contact(self) -> datetime | None:
        """When the latest contact attempt was logged, ``None`` if never."""
        return max((attempt.recorded_at for attempt in self.attempts), default=None)


def stale_reasons(ledger: CaseLedger, no_response_attempts: int) -> tuple[Reason, ...]:
    """Why a Case is stale, from its ledger; never empty.

    In order: no contact logged; the latest broken promise (with the count if several); open
    disputes; the unanswered attempts since the customer last responded, when there are at least
    ``no_response_attempts`` of them. With none of these, the Case is simply unresolved.
    """
    reasons: list[Reason] = []
    if not ledger.attempts:
        reasons.append(Reason(ReasonKind.NO_CONTACT, "no contact logged"))
    broken = sorted(p.promised_date for p in ledger.promises if p.status is PromiseStatus.BROKEN)
    if len(broken) == 1:
        reasons.append(
            Reason(ReasonKind.PROMISE_BROKEN, f"promise broken on {broken[0].isoformat()}")
        )
    elif broken:
        text = f"{len(broken)} promises broken, last on {broken[-1].isoformat()}"
        reasons.append(Reason(ReasonKind.PROMISE_BROKEN, text))
    if ledger.disputed_invoices > 0:
        noun = "invoice" if ledger.disputed_invoices == 1 else "invoices"
        text = f"dispute open on {ledger.disputed_invoices} {noun}"
        reasons.append(Reason(ReasonKind.DISPUTE_OPEN, text))
    unanswered = unanswered_attempts(ledger.attempts)
    if unanswered >= no_response_attempts:
        text = f"no response after {unanswered} attempts"
        reasons.append(Reason(ReasonKind.NO_RESPONSE, text))
    if not reasons:
        reasons.append(Reason(ReasonKind.UNRESOLVED, "contacted but still unresolved"))
    return tuple(reasons)


def unanswered_attempts(attempts: Iterable[Outcome]) -> int:
    """Attempts since the customer last responded (no answer, voicemail, wrong contact)."""
    count = 0
    for attempt in sorted(attempts, key=lambda outcome: outcome.recorded_at):
        count = count + 1 if attempt.kind in UNANSWERED_OUTCOMES else 0
    return count


def truncate_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary, ending with ``…``.

    A cut never splits a word when a space falls in the last half of the kept text; trailing
    separators are dropped so the text does not end in ``; …``.
    """
    if len(text) <= limit:
        return text
    kept = text[: limit - len(ELLIPSIS)]
    space = kept.rfind(" ")
    if space >= len(kept) // 2:
        kept = kept[:space]
    return kept.rstrip(" ;,.:") + ELLIPSIS


def reason_sentence(age: Age, reasons: Sequence[Reason]) -> str:
    """The ``Escalation_Reason__c`` text: age and reasons, at most 255 characters."""
    why = "; ".join(reason.text for reason in reasons)
    return truncate_text(f"Open {age.days} {age.unit}: {why}.", REASON_MAX_LENGTH)


# --- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenCaseFacts:
    """One collections Case as the orchestrator read it from the org and the store.

    ``case_key`` is the Case's ``Collections_Key__c``. ``manager_id``/``manager_name`` are the
    owner's manager (``None`` when the owner is a queue or has none). ``created`` is the Case's
    ``CreatedDate`` (aware). ``status`` is the Case's current Status, for the orchestrator's
    log; the escalation sets the level's status whatever it is.
    """

    case_key: str
    case_id: str
    case_number: str
    created: datetime
    status: str
    account_name: str
    currency: str
    past_due: Decimal
    owner_id: str
    owner_name: str
    owner_active: bool = True
    manager_id: str | None = None
    manager_name: str | None = None
    is_closed: bool = False
    is_escalated: bool = False
    ledger: CaseLedger = CaseLedger()

    def __post_init__(self) -> None:
        _require_aware(self.created, f"case {self.case_key} created")


TaskOwnerKind = Literal["user_id", "queue", "username"]


@dataclass(frozen=True, slots=True)
class TaskOwner:
    """A resolved owner: a Salesforce user id, or a queue / username the gateway looks up."""

    kind: TaskOwnerKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class EscalatedCaseValues:
    """The Case update: ``IsEscalated``, ``Status``, ``Escalation_Reason__c``.

    ``reassign_to`` is set when the owner left: the Case moves to the level's fallback.
    """

    status: str
    reason: str
    is_escalated: bool = True
    reassign_to: TaskOwner | None = None


@dataclass(frozen=True, slots=True)
class EscalationTask:
    """The escalation Task for the manager (or the queue), keyed like the escalation."""

    subject: str
    priority: Priority
    owner: TaskOwner
    activity_date: date


@dataclass(frozen=True, slots=True)
class EscalationAlert:
    """The fields alert notifiers render, named as :class:`sfsync.alerts.model.StaleCaseAlert`.

    The orchestrator adds what only the org knows (``case_url``, the owner's username, a queue
    owning the Case) and builds the alert from these fields; ``threshold`` is the level name.
    ``last_contact`` is when a contact attempt was last logged (``None``: never).
    """

    case_id: str
    case_number: str
    account_name: str
    currency: str
    past_due_amount: Decimal
    age_days: int
    age_mode: Mode
    owner_id: str
    owner_name: str
    owner_active: bool
    reason: str
    threshold: str
    last_contact: datetime | None


@dataclass(frozen=True, slots=True)
class Escalation:
    """Escalate one Case to ``level``: Case update, Task, Chatter post and alert.

    ``key`` (``<case key>:esc:<level>``) is the idempotency key of the whole change and the
    Task's ``Collections_Key__c``. ``done_keys`` are every level key this change settles: its own
    and those of lower levels crossed at the same time, which are never emitted afterwards.
    """

    key: str
    case_key: str
    case_id: str
    case_number: str
    account: str
    level: str
    age: Age
    reasons: tuple[Reason, ...]
    case: EscalatedCaseValues
    task: EscalationTask
    feed_body: str
    alert: EscalationAlert
    done_keys: tuple[str, ...]
    owner_inactive: bool
    routed_to_fallback: bool
    content_hash: str


@dataclass(frozen=True, slots=True)
class SkippedEscalation:
    """A Case past a threshold that is deliberately not escalated, and why."""

    case_key: str
    case_number: str
    account: str
    reason: str


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """Every escalation due now, sorted by Case key, and the Cases skipped on purpose."""

    escalations: tuple[Escalation, ...] = ()
    skipped: tuple[SkippedEscalation, ...] = ()

    @property
    def done_keys(self) -> frozenset[str]:
        """Every level key the plan settles once applied (to add to ``already``)."""
        return frozenset(key for item in self.escalations for key in item.done_keys)


def escalation_key(case_key: str, level: str) -> str:
    """``<case key>:esc:<level>``; level names cannot hold ``:``, so keys never collide."""
    return f"{case_key}:esc:{level}"


def plan_escalations(
    cases: Sequence[OpenCaseFacts], already: frozenset[str], now: datetime, policy: EscalationPolicy
) -> EscalationPlan:
    """The escalations due at ``now`` for open collections Cases not yet escalated that far.

    ``already`` holds the escalation keys the store recorded as done. Closed Cases are ignored;
    a Case key seen twice is planned once (the first facts win). The same input always gives an
    equal plan, whatever the order of ``cases``.
    """
    _require_aware(now, "now")
    unique: dict[str, OpenCaseFacts] = {}
    for facts in cases:
        unique.setdefault(facts.case_key, facts)
    escalations: list[Escalation] = []
    skipped: list[SkippedEscalation] = []
    for key in sorted(unique):
        facts = unique[key]
        if facts.is_closed:
            continue
        level_keys = [escalation_key(key, level.name) for level in policy.levels]
        done = [index for index, level_key in enumerate(level_keys) if level_key in already]
        top = _highest_crossed(facts, now, policy)
        if top is None or (done and max(done) >= top):
            continue
        by_hand = facts.is_escalated and not done
        if by_hand and top == 0:
            skipped.append(
                SkippedEscalation(
                    key,
                    facts.case_number,
                    facts.account_name,
                    "already escalated in Salesforce outside sfsync",
                )
            )
            continue
        first = 1 if by_hand else 0  # a hand escalation stands for the first level only
        settles = tuple(k for k in level_keys[first : top + 1] if k not in already)
        escalations.append(_escalate(facts, policy, top, settles, now))
    return EscalationPlan(tuple(escalations), tuple(skipped))


def _highest_crossed(facts: OpenCaseFacts, now: datetime, policy: EscalationPolicy) -> int | None:
    """Index of the highest level whose threshold the Case's age has reached, if any."""
    top: int | None = None
    for index, level in enumerate(policy.levels):
        age = case_age(facts.created, now, level.mode, policy.region_of(level))
        if age.days >= level.after_days:
            top = index
    return top


def _route(facts: OpenCaseFacts, level: EscalationLevel) -> tuple[TaskOwner, bool]:
    """The Task owner, and whether the level's fallback had to be used."""
    rule = level.assign_to
    if rule.kind == "manager":
        if facts.owner_active and facts.manager_id:
            return TaskOwner("user_id", facts.manager_id), False
        rule = level.fallback
        return _resolved(rule), True
    return _resolved(rule), False


def _resolved(rule: Assignee) -> TaskOwner:
    return TaskOwner("queue" if rule.kind == "queue" else "username", rule.name)


def _escalate(
    facts: OpenCaseFacts,
    policy: EscalationPolicy,
    index: int,
    settles: tuple[str, ...],
    now: datetime,
) -> Escalation:
    level = policy.levels[index]
    region = policy.region_of(level)
    age = case_age(facts.created, now, level.mode, region)
    reasons = stale_reasons(facts.ledger, policy.no_response_attempts)
    sentence = reason_sentence(age, reasons)
    task_owner, fallback_used = _route(facts, level)
    fields: dict[str, object] = {
        "customer": facts.account_name,
        "case_number": facts.case_number,
        "level": level.name,
        "age_days": age.days,
        "age_unit": age.unit,
        "currency": facts.currency,
        "past_due": facts.past_due,
        "owner": facts.owner_name,
        "reasons": "; ".join(reason.text for reason in reasons),
    }
    reassign = None if facts.owner_active else _resolved(level.fallback)
    case = EscalatedCaseValues(level.status, sentence, reassign_to=reassign)
    local_today = now.astimezone(region.zone if region is not None else UTC).date()
    task = EscalationTask(
        truncate_text(level.task_subject.format(**fields), TASK_SUBJECT_MAX_LENGTH),
        level.task_priority,
        task_owner,
        local_today,
    )
    feed_body = truncate_text(level.chatter.format(**fields), FEED_BODY_MAX_LENGTH)
    alert = EscalationAlert(
        case_id=facts.case_id,
        case_number=facts.case_number,
        account_name=facts.account_name,
        currency=facts.currency,
        past_due_amount=facts.past_due,
        age_days=age.days,
        age_mode=age.mode,
        owner_id=facts.owner_id,
        owner_name=facts.owner_name,
        owner_active=facts.owner_active,
        reason=sentence,
        threshold=level.name,
        last_contact=facts.ledger.last_contact,
    )
    key = escalation_key(facts.case_key, level.name)
    parts: tuple[Canonical, ...] = (
        key,
        case.status,
        case.reason,
        None if reassign is None else str(reassign),
        task.subject,
        task.priority.value,
        str(task.owner),
        task.activity_date.isoformat(),
        feed_body,
        canonical_money(facts.past_due),
        *settles,
    )
    return Escalation(
        key=key,
        case_key=facts.case_key,
        case_id=facts.case_id,
        case_number=facts.case_number,
        account=facts.account_name,
        level=level.name,
        age=age,
        reasons=reasons,
        case=case,
        task=task,
        feed_body=feed_body,
        alert=alert,
        done_keys=settles,
        owner_inactive=not facts.owner_active,
        routed_to_fallback=fallback_used,
        content_hash=content_hash("escalation", parts),
    )


# --- dry run ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationRow:
    """One line of ``sfsync escalate --dry-run``."""

    action: Literal["escalate", "skip"]
    case_number: str
    account: str
    age: str
    level: str
    reasons: str
    assign_to: str
    note: str


def describe_escalations(plan: EscalationPlan) -> list[EscalationRow]:
    """What would be escalated and why, then what is skipped and why: rows for the CLI."""
    rows = [
        EscalationRow(
            action="escalate",
            case_number=item.case_number,
            account=item.account,
            age=f"{item.age.days} {item.age.unit}",
            level=item.level,
            reasons="; ".join(reason.text for reason in item.reasons),
            assign_to=str(item.task.owner),
            note=_note(item),
        )
        for item in plan.escalations
    ]
    rows.extend(
        EscalationRow(
            action="skip",
            case_number=item.case_number,
            account=item.account,
            age="",
            level="",
            reasons=item.reason,
            assign_to="",
            note="",
        )
        for item in plan.skipped
    )
    return rows


def _note(item: Escalation) -> str:
    notes: list[str] = []
    if item.owner_inactive:
        notes.append(f"owner inactive: Case reassigned to {item.case.reassign_to}")
    elif item.routed_to_fallback:
        notes.append("owner has no manager: Task to the fallback")
    if len(item.done_keys) > 1:
        notes.append(f"also settles {len(item.done_keys) - 1} lower level(s)")
    return "; ".join(notes)
