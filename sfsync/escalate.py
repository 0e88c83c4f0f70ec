"""Stale-case escalation end to end: read the org and the store, plan, apply exactly once, alert.

:func:`run_escalation` is what ``sfsync escalate`` (and a scheduled job) runs:

1. **Read** the open collections Cases from the org (``Collections_Key__c != null AND IsClosed =
   false``, without the child dispute Cases ``<key>:dispute``: the dispute team works those,
   and their parent carries the dispute into its reason), their owners (active? manager?) in
   chunked ``IN`` queries, and the open disputed invoices under them; the contact attempts and
   promises come from the local store.
2. **Plan** with :func:`sfsync.escalation.plan_escalations`; ``already`` is every key the
   ``escalations`` table holds as applied. A Case with an escalation of ours still in flight is
   not taken for "escalated outside sfsync" (we may have set ``IsEscalated`` before a crash).
   ``dry_run`` stops here and returns the rows of :func:`describe_escalations`.
3. **Apply** each escalation exactly once. The key is *claimed* in the store (unique insert,
   committed) before any Salesforce write; a concurrent run loses the insert and skips the key.
   Then: the Case update (``IsEscalated``, ``Status``, ``Escalation_Reason__c``, a new owner
   when the owner left), the manager's Task through the task ledger (``planned → sent →
   created``, looked up by ``Collections_Key__c`` when its outcome is in doubt), and the
   Chatter ``FeedItem`` (the row goes ``sent`` first; a resumed row looks for its post on the
   Case before posting again). Finally the key and the lower levels it settles are recorded.
   A failure releases the claim with the error (``sfsync status`` shows it); the next run
   resumes from the recorded state.
4. **Alert** through :class:`sfsync.alerts.delivery.AlertDispatcher` (de-duplicated per Case,
   threshold and recipient). An alert failure never undoes the escalation; the alert stays due
   and a later run sends it again (at most :data:`MAX_ALERT_RUNS` runs).

:func:`send_escalation_digest` sends each recipient the day's list of stale Cases, once a day.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from simple_salesforce.format import format_soql
from sqlalchemy import select
from sqlalchemy.orm import Session

from sfsync.alerts.delivery import AlertDispatcher, DeliveryOutcome, DeliveryResult
from sfsync.alerts.model import Channel, StaleCaseAlert
from sfsync.alerts.routing import AlertRouting, digest_date_due, parse_recipient
from sfsync.cases import DISPUTE_CASE_SUFFIX
from sfsync.clock import Clock
from sfsync.domain import Outcome, OutcomeKind, Priority, Promise, PromiseStatus
from sfsync.errors import (
    BudgetExhaustedError,
    ConfigError,
    PermanentError,
    RetryableError,
    SfsyncError,
)
from sfsync.escalation import (
    TASK_SUBJECT_MAX_LENGTH,
    CaseLedger,
    Escalation,
    EscalationPlan,
    EscalationPolicy,
    EscalationRow,
    OpenCaseFacts,
    TaskOwner,
    describe_escalations,
    plan_escalations,
    truncate_text,
)
from sfsync.logs import get_logger, run_context
from sfsync.owners import OwnerResolver
from sfsync.runner import GatewayOpener, open_policy_and_store
from sfsync.salesforce.ports import CallCounts, ItemResult, SalesforceGateway
from sfsync.settings import Settings
from sfsync.store import models
from sfsync.store.escalations import (
    EscalationClaim,
    EscalationState,
    alerts_due,
    claim_escalation,
    escalations_for_cases,
    escalations_without_alerts,
    mark_escalation_applied,
    mark_escalation_sent,
    record_alert_result,
    record_task,
    release_escalation,
)
from sfsync.store.models import RunStatus, TaskState
from sfsync.store.repositories import (
    finish_run,
    mark_created,
    mark_failed,
    mark_sent,
    mark_unknown,
    plan_task,
    replan_task,
    start_run,
)

_log = get_logger(__name__)

#: Run kind recorded in ``sync_runs``.
RUN_KIND = "escalation"
#: A claim untouched this long lost its holder (crash) and may be taken again.
DEFAULT_STALE_AFTER = timedelta(minutes=15)
#: Runs that try an escalation's alert before it is left to ``sfsync status`` alone.
MAX_ALERT_RUNS = 5
#: The fix when escalations run with no alert channel.
CONFIGURE_ALERTS = "configure alerts.smtp, alerts.slack or alerts.teams (docs/alerts.md)"
#: Fields read per Case (the default data model, DESIGN.md).
CASE_FIELDS = (
    "Id",
    "CaseNumber",
    "Collections_Key__c",
    "CreatedDate",
    "Status",
    "IsEscalated",
    "IsClosed",
    "OwnerId",
    "Owner.Name",
    "Account.Name",
    "Past_Due_Amount__c",
    "Collections_Currency__c",
)
#: The open collections Cases, without the child dispute Cases (key ending in
#: :data:`~sfsync.cases.DISPUTE_CASE_SUFFIX`, matched as an escaped LIKE literal).
OPEN_CASES_SOQL = format_soql(
    f"SELECT {', '.join(CASE_FIELDS)} FROM Case "  # noqa: S608 - fixed names; the value via format_soql
    "WHERE Collections_Key__c != null AND IsClosed = false "
    "AND (NOT Collections_Key__c LIKE '%{:like}') ORDER BY Collections_Key__c",
    DISPUTE_CASE_SUFFIX,
)
USER_FIELDS = (
    "Id",
    "Name",
    "Username",
    "IsActive",
    "ManagerId",
    "Manager.Name",
    "Manager.IsActive",
)
TASK_KEY_FIELD = "Collections_Key__c"
TASK_STATUS = "Not Started"
TASK_PRIORITIES = {Priority.LOW: "Low", Priority.NORMAL: "Normal", Priority.HIGH: "High"}
USER_PREFIX = "005"
#: Subject prefix of an escalation Task nobody could be assigned (it stays with sfsync's user).
UNASSIGNED_PREFIX = "[Unassigned] "

SessionFactory = Callable[[], Session]


@dataclass(frozen=True)
class EscalationDeps:
    """What an escalation run talks to. ``dispatcher`` None: no alert channel is configured.

    ``holder`` names this run in the claims it takes; ``instance_url`` builds Case links.
    """

    gateway: SalesforceGateway
    sessions: SessionFactory
    policy: EscalationPolicy
    clock: Clock
    dispatcher: AlertDispatcher | None = None
    instance_url: str = ""
    holder: str = field(default_factory=lambda: uuid.uuid4().hex)
    stale_after: timedelta = DEFAULT_STALE_AFTER
    #: ``owners.task_queue_fallback`` of policy.yaml: who gets a Task planned for a queue.
    task_queue_fallback: str | None = None
    #: ``alerts.routing``: when set, a run also sends the day's digest once ``digest_time`` has
    #: passed (:func:`~sfsync.alerts.routing.digest_date_due`); None sends no digest on its own.
    digest_routing: AlertRouting | None = None
    #: ``alerts.routing.fallback``: an address here that is an active Salesforce user's e-mail
    #: takes a ``manager`` Task the level's queue fallback cannot own (see ``_TaskStandIn``).
    alert_fallback: tuple[str, ...] = ()


@dataclass
class EscalationReport:
    """What one run did (or, dry, would do)."""

    dry_run: bool
    plan: EscalationPlan
    rows: list[EscalationRow]
    cases_read: int = 0
    escalated: list[str] = field(default_factory=list)
    held_elsewhere: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    alerts: list[DeliveryOutcome] = field(default_factory=list)
    digest: list[DeliveryOutcome] = field(default_factory=list)
    #: With no alert channel: applied escalations whose managers were never alerted.
    alerts_unconfigured: int = 0
    calls: CallCounts = field(default_factory=CallCounts)
    run_id: int | None = None
    stopped_budget: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """The summary table and the canonical log line."""
        results = Counter(outcome.status for outcome in self.alerts)
        return {
            "cases_read": self.cases_read,
            "planned": len(self.plan.escalations),
            "skipped": len(self.plan.skipped),
            "escalated": len(self.escalated),
            "held_elsewhere": len(self.held_elsewhere),
            "failed": len(self.failed),
            "alerts_sent": results[DeliveryResult.SENT],
            "alerts_failed": results[DeliveryResult.FAILED],
            "alerts_duplicate": results[DeliveryResult.DUPLICATE],
            "digests_sent": sum(item.status is DeliveryResult.SENT for item in self.digest),
            "digests_failed": sum(item.status is DeliveryResult.FAILED for item in self.digest),
        }


@dataclass(frozen=True)
class CaseExtras:
    """What an alert needs beyond the plan's facts: the owner's username, a queue owning it."""

    owner_username: str | None
    queue: str | None


@dataclass(frozen=True)
class OpenCases:
    """The open collections Cases as plan facts, and per Case id what alerts add to them."""

    facts: list[OpenCaseFacts]
    extras: dict[str, CaseExtras]


# --------------------------------------------------------------------------------------------
# The run


def run_escalation(deps: EscalationDeps, *, dry_run: bool) -> EscalationReport:
    """Escalate the stale Cases once each (see the module docstring); ``dry_run`` writes nothing."""
    tick = time.perf_counter()
    before = deps.gateway.calls
    now = deps.clock.now()
    cases = read_open_cases(deps.gateway, deps.sessions)
    plan = _plan(deps, cases, now)
    report = EscalationReport(dry_run, plan, describe_escalations(plan), len(cases.facts))
    if dry_run:
        report.calls = _delta(deps.gateway.calls, before)
        return report
    with deps.sessions() as session:
        run = start_run(session, kind=RUN_KIND, source="salesforce", started_at=now)
        session.commit()
        report.run_id = run.id if run is not None else None
    with run_context(run_id=str(report.run_id)):
        error: Exception | None = None
        try:
            _Applier(deps, cases.extras, report).apply(plan)
            _send_alerts(deps, report)
            report.digest = _send_due_digest(deps, cases, now)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then re-raised
            error = exc
        report.calls = _delta(deps.gateway.calls, before)
        _finish(deps, report, error, time.perf_counter() - tick)
        if error is not None:
            raise error
    return report


def _plan(deps: EscalationDeps, cases: OpenCases, now: datetime) -> EscalationPlan:
    keys = sorted({facts.case_key for facts in cases.facts})
    with deps.sessions() as session:
        rows = escalations_for_cases(session, keys)
    applied = frozenset(row.key for row in rows if row.state is EscalationState.APPLIED)
    in_flight = {row.case_key for row in rows if row.state is not EscalationState.APPLIED}
    facts = [
        replace(item, is_escalated=False) if item.case_key in in_flight else item
        for item in cases.facts
    ]
    return plan_escalations(facts, applied, now, deps.policy)


def _finish(
    deps: EscalationDeps, report: EscalationReport, error: Exception | None, seconds: float
) -> None:
    """Close the run record and write the one canonical log line."""
    status = RunStatus.FAILED if error is not None or report.failed else RunStatus.SUCCEEDED
    counts = report.counts
    text = f"{type(error).__name__}: {error}" if error is not None else None
    if report.run_id is not None:
        with deps.sessions() as session:
            finish_run(
                session,
                report.run_id,
                status=status,
                finished_at=deps.clock.now(),
                counts={**counts, "reads": report.calls.read, "writes": report.calls.write},
                api_calls=report.calls.total,
                error=text or _failures_text(report.failed),
            )
            session.commit()
    _log.info(
        "escalation_run_finished",
        status=status.value,
        **counts,
        api_reads=report.calls.read,
        api_writes=report.calls.write,
        stopped_budget=report.stopped_budget,
        duration_s=round(seconds, 3),
        **({"error": text} if text else {}),
    )


def _failures_text(failed: Sequence[tuple[str, str]]) -> str | None:
    if not failed:
        return None
    return "; ".join(f"{key}: {message}" for key, message in failed[:10])


# --------------------------------------------------------------------------------------------
# Reading the org and the store


def read_open_cases(gateway: SalesforceGateway, sessions: SessionFactory) -> OpenCases:
    """The open collections Cases as plan facts, with their owners and ledgers."""
    rows = list(gateway.query(OPEN_CASES_SOQL))
    user_ids = sorted({str(row["OwnerId"]) for row in rows if _is_user(row.get("OwnerId"))})
    users = {
        str(user["Id"]): user for user in gateway.query_in("User", USER_FIELDS, "Id", user_ids)
    }
    disputes = _open_disputes(gateway, [str(row["Id"]) for row in rows])
    keys = [str(row["Collections_Key__c"]) for row in rows]
    with sessions() as session:
        ledgers = _store_ledgers(session, keys)
    facts: list[OpenCaseFacts] = []
    extras: dict[str, CaseExtras] = {}
    for row in rows:
        case_id = str(row["Id"])
        key = str(row["Collections_Key__c"])
        owner_id = str(row.get("OwnerId") or "")
        user = users.get(owner_id)
        attempts, promises = ledgers.get(key, ((), ()))
        facts.append(
            OpenCaseFacts(
                case_key=key,
                case_id=case_id,
                case_number=str(row.get("CaseNumber") or ""),
                created=parse_salesforce_datetime(str(row["CreatedDate"])),
                status=str(row.get("Status") or ""),
                account_name=_name(row.get("Account")) or "(no account)",
                currency=str(row.get("Collections_Currency__c") or ""),
                past_due=_decimal(row.get("Past_Due_Amount__c")),
                owner_id=owner_id,
                owner_name=_name(row.get("Owner")) or owner_id,
                owner_active=bool(user.get("IsActive", True)) if user is not None else True,
                manager_id=_active_manager(user),
                manager_name=_name(user.get("Manager")) if user is not None else None,
                is_closed=bool(row.get("IsClosed")),
                is_escalated=bool(row.get("IsEscalated")),
                ledger=CaseLedger(attempts, promises, disputes.get(case_id, 0)),
            )
        )
        extras[case_id] = CaseExtras(
            owner_username=str(user["Username"]) if user and user.get("Username") else None,
            queue=None if _is_user(owner_id) else _name(row.get("Owner")),
        )
    return OpenCases(facts, extras)


def _open_disputes(gateway: SalesforceGateway, case_ids: Sequence[str]) -> dict[str, int]:
    """Open invoice records under dispute, counted per Case id."""
    rows = gateway.query_in(
        "AR_Invoice__c",
        ["Id", "Case__c"],
        "Case__c",
        case_ids,
        extra_where="Disputed__c = true AND Status__c = {}",
        extra_args=["Open"],
    )
    return dict(Counter(str(row["Case__c"]) for row in rows))


def _store_ledgers(
    session: Session, case_keys: Sequence[str]
) -> dict[str, tuple[tuple[Outcome, ...], tuple[Promise, ...]]]:
    """Contact attempts (outcomes read back) and judged promises per Case key, from the store."""
    attempts: dict[str, list[Outcome]] = defaultdict(list)
    promises: dict[str, list[Promise]] = defaultdict(list)
    for start in range(0, len(case_keys), 5_000):
        part = case_keys[start : start + 5_000]
        for row in session.scalars(select(models.Outcome).where(models.Outcome.case_key.in_(part))):
            kind = outcome_kind(row.outcome_code)
            if kind is None:
                _log.warning("outcome_code_unknown", case_key=row.case_key, code=row.outcome_code)
                continue
            attempts[row.case_key].append(
                Outcome(row.task_key or "", kind, row.completed_at, row.notes or "")
            )
        for stored in session.scalars(
            select(models.Promise).where(models.Promise.case_key.in_(part))
        ):
            try:
                promises[stored.case_key].append(
                    Promise(
                        id=stored.promise_key.rsplit(":", 1)[-1].strip(),
                        currency=stored.currency,
                        amount=stored.amount,
                        promised_date=stored.promised_date,
                        made_on=stored.created_at.date(),
                        status=PromiseStatus(stored.status.value),
                    )
                )
            except ValueError:
                _log.warning("promise_unusable", promise_key=stored.promise_key)
    keys = set(attempts) | set(promises)
    return {key: (tuple(attempts[key]), tuple(promises[key])) for key in keys}


def outcome_kind(code: str) -> OutcomeKind | None:
    """``Left Voicemail``, ``left-voicemail`` or ``left_voicemail`` as the outcome, else None."""
    normal = "_".join(code.strip().lower().replace("-", " ").split())
    try:
        return OutcomeKind(normal)
    except ValueError:
        return None


def parse_salesforce_datetime(text: str) -> datetime:
    """``2026-03-02T09:00:00.000+0000`` (how Salesforce renders datetimes) as an aware value."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"Salesforce datetime {text!r} has no offset")
    return moment


def _active_manager(user: Mapping[str, Any] | None) -> str | None:
    """The owner's manager, if the owner has one who still works here (else the fallback)."""
    if user is None or not user.get("ManagerId"):
        return None
    manager = user.get("Manager")
    if isinstance(manager, Mapping) and manager.get("IsActive") is False:
        return None
    return str(user["ManagerId"])


def _is_user(owner_id: object) -> bool:
    return isinstance(owner_id, str) and owner_id.startswith(USER_PREFIX)


def _name(parent: object) -> str | None:
    if isinstance(parent, Mapping) and parent.get("Name"):
        return str(parent["Name"])
    return None


def _decimal(value: object) -> Decimal:
    if value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


# --------------------------------------------------------------------------------------------
# Applying


class _Applier:
    """Applies one plan, key by key, recording everything in the report."""

    def __init__(
        self, deps: EscalationDeps, extras: Mapping[str, CaseExtras], report: EscalationReport
    ) -> None:
        self.deps = deps
        self.extras = extras
        self.report = report
        self.owners: dict[TaskOwner, str] = {}
        # Owner hook (sfsync.owners): a queue never owns a Task; its fallback user instead.
        self.task_users = OwnerResolver(deps.gateway, task_queue_fallback=deps.task_queue_fallback)
        self.stand_in = _TaskStandIn(deps.gateway, deps.alert_fallback)

    def apply(self, plan: EscalationPlan) -> None:
        if not plan.escalations:
            return
        check_statuses(self.deps.gateway, {item.case.status for item in plan.escalations})
        self.owners = resolve_owners(self.deps.gateway, _owners_of(plan.escalations))
        self.task_users.check()  # owner hook: an unknown fallback user fails before any write
        for item in plan.escalations:
            try:
                self._apply_one(item)
            except BudgetExhaustedError as error:
                self._release(item, error)
                self.report.stopped_budget = True
                _log.warning("escalation_writes_stopped", reason="api_budget_reserve_reached")
                return
            except ConfigError:
                raise
            except SfsyncError as error:  # refused, in doubt or locked: the next run resumes
                self._release(item, error)

    def _release(self, item: Escalation, error: Exception) -> None:
        text = f"{type(error).__name__}: {error}"
        with self.deps.sessions() as session:
            release_escalation(session, item.key, error=text, at=self.deps.clock.now())
            session.commit()
        self.report.failed.append((item.key, text))
        _log.error("escalation_failed", key=item.key, case=item.case_number, error=text)

    def _apply_one(self, item: Escalation) -> None:
        deps = self.deps
        claim = EscalationClaim(
            key=item.key,
            case_key=item.case_key,
            level=item.level,
            case_id=item.case_id,
            feed_body=item.feed_body,
            alert=alert_payload(self._alert(item)),
        )
        with deps.sessions() as session:
            row = claim_escalation(
                session,
                claim,
                holder=deps.holder,
                now=deps.clock.now(),
                stale_after=deps.stale_after,
            )
            session.commit()
            state = row.state if row is not None else None
            body = (row.feed_body if row is not None else None) or item.feed_body
        if state is None:
            self.report.held_elsewhere.append(item.key)
            _log.info("escalation_held_elsewhere", key=item.key, case=item.case_number)
            return
        if state is EscalationState.PLANNED:
            self._update_case(item)
            task_id = self._ensure_task(item)
            with deps.sessions() as session:
                record_task(session, item.key, task_id=task_id, at=deps.clock.now())
                mark_escalation_sent(session, item.key, at=deps.clock.now())
                session.commit()
        feed_id = self._ensure_post(item, body, resumed=state is EscalationState.SENT)
        with deps.sessions() as session:
            mark_escalation_applied(
                session,
                item.key,
                feed_item_id=feed_id,
                settles=item.done_keys,
                case_key=item.case_key,
                at=deps.clock.now(),
            )
            session.commit()
        self.report.escalated.append(item.key)
        _log.info(
            "case_escalated",
            key=item.key,
            case=item.case_number,
            level=item.level,
            age=f"{item.age.days} {item.age.unit}",
            reasons=[reason.kind.value for reason in item.reasons],
            task_owner=str(item.task.owner),
            owner_inactive=item.owner_inactive,
            routed_to_fallback=item.routed_to_fallback,
            settles=len(item.done_keys),
        )
        if item.owner_inactive:
            _log.warning(
                "case_owner_inactive",
                case=item.case_number,
                owner_id=item.alert.owner_id,
                reassigned_to=str(item.case.reassign_to),
            )

    def _alert(self, item: Escalation) -> StaleCaseAlert:
        return stale_alert(item, self.extras.get(item.case_id), self.deps.instance_url)

    # --- the three writes -----------------------------------------------------------------------

    def _update_case(self, item: Escalation) -> None:
        record: dict[str, Any] = {
            "Id": item.case_id,
            "IsEscalated": item.case.is_escalated,
            "Status": item.case.status,
            "Escalation_Reason__c": item.case.reason,
        }
        if item.task.owner.kind == "queue":  # owner hook: the queue gets the work via the Case
            record["OwnerId"] = self.owners[item.task.owner]
        elif item.case.reassign_to is not None:
            record["OwnerId"] = self.owners[item.case.reassign_to]
        _expect_ok(self.deps.gateway.update("Case", [record])[0], f"Case {item.case_number}")

    def _ensure_task(self, item: Escalation) -> str:
        """The escalation Task's id, created at most once (the task-ledger protocol)."""
        deps = self.deps
        with deps.sessions() as session:
            entry = plan_task(
                session,
                task_key=item.key,
                case_key=item.case_key,
                step=f"esc:{item.level}",
                at=deps.clock.now(),
            )
            state, task_id = entry.state, entry.salesforce_id
            session.commit()
        if state in {TaskState.CREATED, TaskState.CLOSED} and task_id:
            return task_id
        if state in {TaskState.SENT, TaskState.UNKNOWN}:
            found = self._find_task(item.key)
            with deps.sessions() as session:
                if found is not None:
                    mark_created(session, item.key, found, at=deps.clock.now())
                    session.commit()
                    return found
                if state is TaskState.SENT:
                    mark_unknown(session, item.key, at=deps.clock.now())
                replan_task(session, item.key, at=deps.clock.now())
                session.commit()
        elif state is TaskState.FAILED:
            with deps.sessions() as session:
                replan_task(session, item.key, at=deps.clock.now())
                session.commit()
        return self._create_task(item)

    def _find_task(self, key: str) -> str | None:
        rows = self.deps.gateway.query_in("Task", ["Id", TASK_KEY_FIELD], TASK_KEY_FIELD, [key])
        return next((str(row["Id"]) for row in rows), None)

    def _create_task(self, item: Escalation) -> str:
        deps = self.deps
        with deps.sessions() as session:
            mark_sent(session, item.key, at=deps.clock.now())
            session.commit()
        record: dict[str, Any] = {
            "Subject": item.task.subject,
            "ActivityDate": item.task.activity_date.isoformat(),
            "Status": TASK_STATUS,
            "Priority": TASK_PRIORITIES[item.task.priority],
            "WhatId": item.case_id,
            TASK_KEY_FIELD: item.key,
        }
        owner = (  # owner hook: a Task for a queue goes to the fallback user (or stays unset)
            self.task_users.fallback_id
            if item.task.owner.kind == "queue"
            else self.owners[item.task.owner]
        )
        if owner is None and item.routed_to_fallback:
            owner = self._manager_stand_in(item, record)
        if owner is not None:
            record["OwnerId"] = owner
        try:
            result = deps.gateway.create("Task", [record])[0]
        except BudgetExhaustedError:
            self._task_unknown(item.key)
            raise
        with deps.sessions() as session:
            if result.ok and result.id:
                mark_created(session, item.key, result.id, at=deps.clock.now())
                session.commit()
                return result.id
            if result.outcome_unknown:
                mark_unknown(session, item.key, at=deps.clock.now())
                session.commit()
                raise RetryableError(
                    f"escalation Task {item.key} may or may not exist; the next run looks it up"
                )
            mark_failed(session, item.key, f"{result.code}: {result.message}", at=deps.clock.now())
            session.commit()
        raise PermanentError(f"Task {item.key}: {result.message}", result.code, result.fields)

    def _manager_stand_in(self, item: Escalation, record: dict[str, Any]) -> str | None:
        """A ``manager`` Task whose owner has no manager, with a queue as fallback and no
        ``owners.task_queue_fallback``: the alert routing fallback's Salesforce user takes it;
        with none, it stays with the integration user and says so (subject, description, log).
        """
        user_id = self.stand_in.user_id()
        if user_id is not None:
            _log.info(
                "escalation_task_to_alert_fallback",
                key=item.key,
                case=item.case_number,
                user_id=user_id,
            )
            return user_id
        record["Subject"] = truncate_text(
            f"{UNASSIGNED_PREFIX}{item.task.subject}", TASK_SUBJECT_MAX_LENGTH
        )
        record["Description"] = (
            f"Nobody was assigned this escalation: the Case owner has no active manager and the "
            f"level's fallback is {item.task.owner}, and a queue cannot own a Task. Please pass "
            "it to the right manager. To route these Tasks, set owners.task_queue_fallback in "
            "policy.yaml, or list a Salesforce user's e-mail in alerts.routing.fallback."
        )
        _log.warning(
            "escalation_task_unassigned",
            key=item.key,
            case=item.case_number,
            task_owner=str(item.task.owner),
            fix="set owners.task_queue_fallback or a Salesforce user's e-mail in "
            "alerts.routing.fallback",
        )
        return None

    def _task_unknown(self, key: str) -> None:
        with self.deps.sessions() as session:
            mark_unknown(session, key, at=self.deps.clock.now())
            session.commit()

    def _ensure_post(self, item: Escalation, body: str, *, resumed: bool) -> str:
        """The Chatter post's id; a resumed row first looks for the post it may have made."""
        gateway = self.deps.gateway
        if resumed:
            soql = format_soql("SELECT Id, Body FROM FeedItem WHERE ParentId = {}", item.case_id)
            for row in gateway.query(soql):
                if row.get("Body") == body:
                    return str(row["Id"])
        result = gateway.create(
            "FeedItem", [{"ParentId": item.case_id, "Body": body, "Type": "TextPost"}]
        )[0]
        _expect_ok(result, f"Chatter post on Case {item.case_number}")
        return str(result.id)


class _TaskStandIn:
    """The first address of ``alerts.routing.fallback`` that is an active user's e-mail in the
    org, looked up once per run (only when a Task needs it)."""

    def __init__(self, gateway: SalesforceGateway, recipients: Sequence[str]) -> None:
        self._gateway = gateway
        self._emails = [
            str(recipient)
            for recipient in map(parse_recipient, recipients)
            if recipient.channel is Channel.EMAIL
        ]
        self._resolved = False
        self._user_id: str | None = None

    def user_id(self) -> str | None:
        if not self._resolved and self._emails:
            self._resolved = True
            rows = self._gateway.query_in(
                "User", ["Id", "Email"], "Email", self._emails, extra_where="IsActive = true"
            )
            found = {str(row["Email"]).lower(): str(row["Id"]) for row in rows}
            self._user_id = next(
                (found[e.lower()] for e in self._emails if e.lower() in found), None
            )
        return self._user_id


def _expect_ok(result: ItemResult, what: str) -> None:
    """A refused or doubtful write as an error of its group (the claim is released with it)."""
    if result.ok:
        return
    if result.outcome_unknown or result.retryable:
        raise RetryableError(f"{what}: {result.code or 'no answer'} {result.message}".strip())
    raise PermanentError(f"{what}: {result.code}: {result.message}", result.code, result.fields)


def check_statuses(gateway: SalesforceGateway, statuses: Iterable[str]) -> None:
    """Every escalated status must be a Case Status value of the org (ConfigError with a fix)."""
    known = {str(row["ApiName"]) for row in gateway.query("SELECT ApiName FROM CaseStatus")}
    missing = sorted(set(statuses) - known)
    if missing:
        raise ConfigError(
            f"escalation status {', '.join(repr(s) for s in missing)} is not a Case Status value "
            f"in the org (it has: {', '.join(sorted(known))}); add it to the Case Status "
            "picklist in Setup, or change escalation.levels[].status in policy.yaml"
        )


def _owners_of(escalations: Iterable[Escalation]) -> set[TaskOwner]:
    owners: set[TaskOwner] = set()
    for item in escalations:
        owners.add(item.task.owner)
        if item.case.reassign_to is not None:
            owners.add(item.case.reassign_to)
    return owners


def resolve_owners(gateway: SalesforceGateway, owners: Iterable[TaskOwner]) -> dict[TaskOwner, str]:
    """Salesforce ids of Task and Case owners; an unknown queue or user is a ConfigError."""
    resolved: dict[TaskOwner, str] = {}
    for owner in sorted(owners, key=str):
        if owner.kind == "user_id":
            resolved[owner] = owner.value
            continue
        if owner.kind == "queue":
            soql = format_soql(
                "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", owner.value
            )
            fix = "create the queue in Setup or fix its developer name in policy.yaml"
        else:
            soql = format_soql(
                "SELECT Id FROM User WHERE Username = {} AND IsActive = true", owner.value
            )
            fix = "use the username of an active user in policy.yaml"
        found = next(iter(gateway.query(soql)), None)
        if found is None:
            raise ConfigError(
                f"escalation assignee {owner.kind}:{owner.value} does not exist in the org; {fix}"
            )
        resolved[owner] = str(found["Id"])
    return resolved


# --------------------------------------------------------------------------------------------
# Alerts


def stale_alert(item: Escalation, extras: CaseExtras | None, instance_url: str) -> StaleCaseAlert:
    """The alert for one escalation, with what only the org knows added to the plan's fields."""
    alert = item.alert
    return StaleCaseAlert(
        case_id=alert.case_id,
        case_number=alert.case_number,
        case_url=case_url(instance_url, alert.case_id),
        account_name=alert.account_name,
        currency=alert.currency,
        past_due_amount=alert.past_due_amount,
        age_days=alert.age_days,
        age_mode=alert.age_mode,
        owner_id=alert.owner_id,
        owner_name=alert.owner_name,
        reason=alert.reason,
        threshold=alert.threshold,
        owner_username=extras.owner_username if extras is not None else None,
        owner_active=alert.owner_active,
        queue=extras.queue if extras is not None else None,
    )


def case_url(instance_url: str, case_id: str) -> str:
    """The Lightning record page of a Case."""
    return f"{instance_url.rstrip('/')}/lightning/r/Case/{case_id}/view"


def alert_payload(alert: StaleCaseAlert) -> dict[str, Any]:
    """The alert as JSON values, kept on the escalation row until it is sent."""
    return {
        "case_id": alert.case_id,
        "case_number": alert.case_number,
        "case_url": alert.case_url,
        "account_name": alert.account_name,
        "currency": alert.currency,
        "past_due_amount": str(alert.past_due_amount),
        "age_days": alert.age_days,
        "age_mode": alert.age_mode,
        "owner_id": alert.owner_id,
        "owner_name": alert.owner_name,
        "reason": alert.reason,
        "threshold": alert.threshold,
        "owner_username": alert.owner_username,
        "owner_active": alert.owner_active,
        "queue": alert.queue,
    }


def alert_from_payload(payload: Mapping[str, Any]) -> StaleCaseAlert:
    """The alert kept on an escalation row."""
    return StaleCaseAlert(**{**payload, "past_due_amount": Decimal(payload["past_due_amount"])})


def _send_alerts(deps: EscalationDeps, report: EscalationReport) -> None:
    """Send every escalation alert still due: this run's and those earlier runs failed to send.

    With no channel configured the alerts wait on their rows (a channel configured later sends
    them); the run says so once, and ``sfsync status`` counts them.
    """
    if deps.dispatcher is None:
        with deps.sessions() as session:
            waiting = escalations_without_alerts(session)
        report.alerts_unconfigured = waiting
        _log.warning(
            "alerts_not_configured",
            escalations_without_alerts=waiting,
            escalated_now=len(report.escalated),
            fix=CONFIGURE_ALERTS,
        )
        return
    with deps.sessions() as session:
        due = alerts_due(session, max_runs=MAX_ALERT_RUNS)
        payloads = [(row.key, dict(row.alert or {})) for row in due]
    for key, payload in payloads:
        outcomes = deps.dispatcher.send_immediate([alert_from_payload(payload)])
        report.alerts.extend(outcomes)
        sent = bool(outcomes) and all(
            outcome.status is not DeliveryResult.FAILED for outcome in outcomes
        )
        with deps.sessions() as session:
            record_alert_result(session, key, sent=sent, at=deps.clock.now())
            session.commit()


def send_escalation_digest(
    deps: EscalationDeps, *, on: date | None = None
) -> list[DeliveryOutcome]:
    """The daily digest now (``sfsync escalate --digest``): every stale Case, per recipient.

    The operator asked for it, so it goes whatever the hour; the scheduled digest is sent by
    :func:`run_escalation` once ``alerts.routing.digest_time`` has passed. Delivery
    de-duplicates by recipient and date, so either way a recipient gets one digest a day.
    """
    if deps.dispatcher is None:
        raise ConfigError(f"no alert channel is configured; {CONFIGURE_ALERTS}")
    now = deps.clock.now()
    cases = read_open_cases(deps.gateway, deps.sessions)
    return deps.dispatcher.send_digest(digest_alerts(deps, cases, now), on or now.date())


def digest_alerts(deps: EscalationDeps, cases: OpenCases, now: datetime) -> list[StaleCaseAlert]:
    """Every Case past a threshold at ``now``, at the highest level it has crossed.

    Applied or not, escalated by hand or not: the digest is the day's list of stale Cases.
    """
    facts = [replace(item, is_escalated=False) for item in cases.facts]
    plan = plan_escalations(facts, frozenset(), now, deps.policy)
    return [
        stale_alert(item, cases.extras.get(item.case_id), deps.instance_url)
        for item in plan.escalations
    ]


def _send_due_digest(
    deps: EscalationDeps, cases: OpenCases, now: datetime
) -> list[DeliveryOutcome]:
    """The scheduled digest: sent by the first run after ``digest_time`` each day (UTC).

    Later runs the same day find every recipient's digest already delivered (the delivery key
    holds the date) and send nothing; a failed digest is tried again by the next run.
    """
    if deps.dispatcher is None or deps.digest_routing is None:
        return []
    day = digest_date_due(now, deps.digest_routing)
    if day is None:
        return []
    return deps.dispatcher.send_digest(digest_alerts(deps, cases, now), day)


# --------------------------------------------------------------------------------------------
# Wiring and output (the CLI)


@contextmanager
def open_escalation(
    settings: Settings, config_path: Path, clock: Clock, opener: GatewayOpener
) -> Iterator[EscalationDeps]:
    """Everything a run needs, from the settings: store (migrated), org, policy, alerts."""
    from sfsync.alerts.delivery import AlertDispatcher  # noqa: PLC0415 - alerts on demand
    from sfsync.alerts.factory import build_notifiers  # noqa: PLC0415
    from sfsync.alerts.routing import AlertRouter  # noqa: PLC0415
    from sfsync.store.db import create_session_factory  # noqa: PLC0415

    with open_policy_and_store(settings, config_path) as (full_policy, engine):
        sessions = create_session_factory(engine)
        routing = settings.alerts.routing
        notifiers = build_notifiers(settings.alerts, clock)
        dispatcher = (
            AlertDispatcher(
                notifiers=notifiers, router=AlertRouter(routing), sessions=sessions, clock=clock
            )
            if notifiers
            else None
        )
        with opener() as gateway:
            yield EscalationDeps(
                gateway=gateway,
                sessions=sessions,
                policy=full_policy.escalation,
                task_queue_fallback=full_policy.owners.task_queue_fallback,
                clock=clock,
                dispatcher=dispatcher,
                instance_url=gateway.instance_url,
                digest_routing=routing,
                alert_fallback=routing.fallback,
            )


ROW_COLUMNS = ("Action", "Case", "Account", "Age", "Level", "Why", "Assign to", "Note")


def rows_table(rows: Sequence[EscalationRow], title: str) -> Table:
    """The dry-run rows as a rich table."""
    table = Table(title=title)
    for column in ROW_COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.action,
            row.case_number,
            row.account,
            row.age,
            row.level,
            row.reasons,
            row.assign_to,
            row.note,
        )
    return table


def print_report(report: EscalationReport, stream: TextIO | None = None) -> None:
    """What ``sfsync escalate`` prints: the rows, then (for a real run) the counts and failures."""
    console = Console(file=stream, width=160)
    title = "Would escalate (dry run)" if report.dry_run else "Escalations"
    if report.rows:
        console.print(rows_table(report.rows, title))
    else:
        console.print("Nothing to escalate.")
    if report.dry_run:
        return
    console.print(", ".join(f"{name} {value}" for name, value in report.counts.items()))
    if report.alerts_unconfigured:
        console.print(
            f"escalations without alerts: {report.alerts_unconfigured} — {CONFIGURE_ALERTS}"
        )
    for key, message in report.failed:
        console.print(f"failed {key}: {message}")
    for outcome in report.alerts:
        if outcome.status is DeliveryResult.FAILED:
            console.print(f"alert to {outcome.recipient} failed: {outcome.error}")


def _delta(after: CallCounts, before: CallCounts) -> CallCounts:
    return CallCounts(
        auth=after.auth - before.auth,
        read=after.read - before.read,
        write=after.write - before.write,
    )


__all__ = [
    "EscalationDeps",
    "EscalationReport",
    "open_escalation",
    "print_digest",
    "print_report",
    "read_open_cases",
    "run_escalation",
    "send_escalation_digest",
]


def print_digest(outcomes: Sequence[DeliveryOutcome], stream: TextIO | None = None) -> int:
    """One line per digest delivery; the exit status (1 when a delivery failed)."""
    console = Console(file=stream, width=160)
    if not outcomes:
        console.print("No stale Cases: no digest to send.")
    for outcome in outcomes:
        cases = len(outcome.case_numbers)
        detail = f": {outcome.error}" if outcome.error else ""
        console.print(f"digest to {outcome.recipient} ({cases} cases): {outcome.status}{detail}")
    return 1 if any(item.status is DeliveryResult.FAILED for item in outcomes) else 0
