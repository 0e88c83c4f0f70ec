"""Repositories: the typed operations the sync engine performs on the state store.

Every function works inside a caller-provided :class:`~sqlalchemy.orm.Session` and never commits:
the caller decides the transaction, so "one transaction commits links, outcomes, the run record
and the watermark" (DESIGN.md, plan then apply). The one exception in *use*, not in code, is the
task ledger: :func:`mark_sent` must be committed before the Task is sent (see docs/store.md).

Upserts are single ``INSERT ... ON CONFLICT`` statements (SQLite and PostgreSQL dialects, chosen by
the session's dialect), so concurrent writers never lose an update between a read and a write.
Nothing here reads the clock: every timestamp is passed in from the injected clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sfsync.errors import ConfigError, SfsyncError
from sfsync.store.models import (
    AccountLease,
    AccountLink,
    Base,
    DeadLetter,
    InvoiceLink,
    Outcome,
    Promise,
    PromiseStatus,
    QuarantinedRow,
    RunStatus,
    SyncRun,
    TaskLedgerEntry,
    TaskState,
    Watermark,
)

Insert = postgresql.Insert | sqlite.Insert
_POPULATE = {"populate_existing": True}


class TaskStateError(SfsyncError):
    """A task-ledger transition the protocol forbids (e.g. sending a Task already sent).

    Raised instead of writing, because obeying it could create a duplicate Task in Salesforce.
    """


def dialect_insert(session: Session, model: type[Base]) -> Insert:
    """``INSERT`` for the session's dialect, which both offer ``ON CONFLICT`` on."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise ConfigError(f"the state store supports sqlite and postgresql, not {dialect}")


# --- sync runs ----------------------------------------------------------------------------------


def start_run(
    session: Session,
    *,
    kind: str,
    source: str,
    started_at: datetime,
    schedule_key: str | None = None,
) -> SyncRun | None:
    """Record a run as ``running``; None if a run with ``schedule_key`` already exists.

    With a ``schedule_key`` (e.g. ``cycle:erp:2026-01-01T10:05``) two beats firing the same slot
    race on a unique key: exactly one insert wins. Commit right away to claim the slot; a
    concurrent claimant on PostgreSQL waits for that commit and then gets None.
    """
    values: dict[str, Any] = {
        "kind": kind,
        "source": source,
        "started_at": started_at,
        "status": RunStatus.RUNNING,
        "counts": {},
        "api_calls": 0,
        "schedule_key": schedule_key,
    }
    statement = (
        dialect_insert(session, SyncRun)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[SyncRun.schedule_key])
        .returning(SyncRun)
    )
    return session.scalars(statement, execution_options=_POPULATE).one_or_none()


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: RunStatus,
    finished_at: datetime,
    counts: Mapping[str, Any],
    api_calls: int,
    error: str | None = None,
) -> SyncRun:
    """Close a running run with its outcome; a run finishes exactly once."""
    if status is RunStatus.RUNNING:
        raise ValueError("finish_run needs a final status: succeeded or failed")
    run = session.get_one(SyncRun, run_id, populate_existing=True)
    if run.status is not RunStatus.RUNNING:
        raise ValueError(f"run {run_id} already finished as {run.status}")
    run.status = status
    run.finished_at = finished_at
    run.counts = dict(counts)
    run.api_calls = api_calls
    run.error = error
    session.flush()
    return run


def last_run(
    session: Session, *, kind: str, source: str, status: RunStatus | None = RunStatus.SUCCEEDED
) -> SyncRun | None:
    """The latest run of ``kind`` for ``source`` (successful ones by default)."""
    statement = select(SyncRun).where(SyncRun.kind == kind, SyncRun.source == source)
    if status is not None:
        statement = statement.where(SyncRun.status == status)
    statement = statement.order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(1)
    return session.scalars(statement).first()


# --- watermarks ---------------------------------------------------------------------------------


def get_watermark(session: Session, source: str, stream: str) -> Watermark | None:
    """The watermark row for (source, stream), or None before the first successful run."""
    return session.get(Watermark, (source, stream), populate_existing=True)


def advance_watermark(
    session: Session,
    *,
    source: str,
    stream: str,
    value: datetime,
    run_started_at: datetime,
    at: datetime,
    run_id: int | None = None,
) -> datetime:
    """Move the (source, stream) watermark forward to ``value``; return the stored value.

    Two guards make a lost change impossible (DESIGN.md invariant 4): the value is capped at
    ``run_started_at``, because rows committed at the source while the run was reading may carry
    earlier timestamps than rows already seen; and the stored value is the maximum of the old
    and the new one, so a late or replayed run never moves it backwards. Both are enforced in
    one statement, safe against a concurrent writer.
    """
    target = min(value, run_started_at)
    statement = dialect_insert(session, Watermark).values(
        source=source, stream=stream, value_at=target, run_id=run_id, updated_at=at
    )
    moves_forward = or_(
        Watermark.value_at.is_(None), statement.excluded.value_at > Watermark.value_at
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[Watermark.source, Watermark.stream],
        set_={
            "value_at": case(
                (moves_forward, statement.excluded.value_at), else_=Watermark.value_at
            ),
            "run_id": case((moves_forward, statement.excluded.run_id), else_=Watermark.run_id),
            "updated_at": case(
                (moves_forward, statement.excluded.updated_at), else_=Watermark.updated_at
            ),
        },
    ).returning(Watermark.value_at)
    stored = session.execute(upsert).scalar_one()
    if stored is None:  # pragma: no cover - the statement always writes a value
        raise TypeError(f"watermark {source}/{stream} has no timestamp")
    return stored


def put_watermark_cursor(
    session: Session,
    *,
    source: str,
    stream: str,
    cursor: str,
    at: datetime,
    run_id: int | None = None,
) -> None:
    """Store an opaque cursor (a snapshot hash, a CDC token) for sources without timestamps.

    Opaque cursors have no order, so this simply replaces the previous one; like a timestamp
    watermark it belongs in the run's final commit.
    """
    statement = dialect_insert(session, Watermark).values(
        source=source, stream=stream, cursor=cursor, run_id=run_id, updated_at=at
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Watermark.source, Watermark.stream],
        set_={
            "cursor": statement.excluded.cursor,
            "run_id": statement.excluded.run_id,
            "updated_at": statement.excluded.updated_at,
        },
    )
    session.execute(statement)


# --- account links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountLinkValues:
    """Everything stored about one accounting customer's link to Salesforce."""

    source: str
    customer_id: str
    currency: str
    salesforce_account_id: str | None = None
    episode: int = 1
    case_key: str | None = None
    case_id: str | None = None
    case_open: bool = False
    case_hash: str | None = None


def get_account_link(
    session: Session, source: str, customer_id: str, currency: str
) -> AccountLink | None:
    """The link for one customer and currency, or None if it was never linked."""
    statement = select(AccountLink).where(
        AccountLink.source == source,
        AccountLink.customer_id == customer_id,
        AccountLink.currency == currency,
    )
    return session.scalars(statement, execution_options=_POPULATE).one_or_none()


def put_account_link(session: Session, link: AccountLinkValues, *, at: datetime) -> AccountLink:
    """Insert or replace the link for (source, customer, currency) with ``link``.

    There is one row per key, so the account has one current episode and at most one open Case;
    a ``case_key`` already held by another customer's link raises ``IntegrityError``.
    """
    statement = dialect_insert(session, AccountLink).values(**asdict(link), updated_at=at)
    updated = {name: statement.excluded[name] for name in (*asdict(link), "updated_at")}
    upsert = statement.on_conflict_do_update(
        index_elements=[AccountLink.source, AccountLink.customer_id, AccountLink.currency],
        set_=updated,
    ).returning(AccountLink)
    return session.scalars(upsert, execution_options=_POPULATE).one()


def list_account_links(
    session: Session, source: str, *, open_only: bool = False
) -> list[AccountLink]:
    """The source's links, ordered by customer; only those with an open Case if asked."""
    statement = select(AccountLink).where(AccountLink.source == source)
    if open_only:
        statement = statement.where(AccountLink.case_open.is_(True))
    statement = statement.order_by(AccountLink.customer_id, AccountLink.currency)
    return list(session.scalars(statement, execution_options=_POPULATE))


# --- task ledger --------------------------------------------------------------------------------

TASK_TRANSITIONS: Mapping[TaskState, frozenset[TaskState]] = {
    TaskState.PLANNED: frozenset({TaskState.SENT}),
    TaskState.SENT: frozenset({TaskState.CREATED, TaskState.FAILED, TaskState.UNKNOWN}),
    TaskState.UNKNOWN: frozenset({TaskState.CREATED, TaskState.PLANNED}),
    TaskState.FAILED: frozenset({TaskState.PLANNED}),
    TaskState.CREATED: frozenset({TaskState.CLOSED}),
    TaskState.CLOSED: frozenset(),
}
"""Allowed moves of a ledger row. ``unknown → planned`` only after a query by key found nothing."""


def _sources_of(target: TaskState) -> list[TaskState]:
    return [state for state, targets in TASK_TRANSITIONS.items() if target in targets]


def get_task(session: Session, task_key: str) -> TaskLedgerEntry | None:
    """The ledger row for ``task_key``, or None if the Task was never planned."""
    statement = select(TaskLedgerEntry).where(TaskLedgerEntry.task_key == task_key)
    return session.scalars(statement, execution_options=_POPULATE).one_or_none()


def plan_task(
    session: Session, *, task_key: str, case_key: str, step: str, at: datetime
) -> TaskLedgerEntry:
    """Put a Task in the ledger as ``planned``; an existing row is returned unchanged."""
    statement = (
        dialect_insert(session, TaskLedgerEntry)
        .values(
            task_key=task_key,
            case_key=case_key,
            step=step,
            state=TaskState.PLANNED,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing(index_elements=[TaskLedgerEntry.task_key])
    )
    session.execute(statement)
    entry = get_task(session, task_key)
    if entry is None:  # pragma: no cover - the row was inserted or already there
        raise TaskStateError(f"task {task_key} vanished from the ledger")
    return entry


def _transition(
    session: Session, task_key: str, target: TaskState, at: datetime, **changes: Any
) -> TaskLedgerEntry | None:
    """Compare-and-set: move the row to ``target`` only from a state the protocol allows."""
    statement = (
        update(TaskLedgerEntry)
        .where(
            TaskLedgerEntry.task_key == task_key,
            TaskLedgerEntry.state.in_(_sources_of(target)),
        )
        .values(state=target, updated_at=at, **changes)
        .returning(TaskLedgerEntry)
    )
    return session.scalars(statement, execution_options=_POPULATE).one_or_none()


def _refuse(session: Session, task_key: str, target: TaskState) -> TaskStateError:
    entry = get_task(session, task_key)
    if entry is None:
        return TaskStateError(f"task {task_key} is not in the ledger; plan it first")
    return TaskStateError(
        f"task {task_key} is {entry.state}, cannot become {target} "
        f"(allowed from: {', '.join(_sources_of(target))})"
    )


def mark_sent(session: Session, task_key: str, *, at: datetime) -> TaskLedgerEntry:
    """``planned → sent``. Commit this before the Salesforce call that creates the Task.

    Refused for a row already ``sent``: its outcome is unknown until Salesforce is queried by key.
    """
    entry = _transition(session, task_key, TaskState.SENT, at, error=None)
    if entry is None:
        raise _refuse(session, task_key, TaskState.SENT)
    return entry


def mark_created(
    session: Session, task_key: str, salesforce_id: str, *, at: datetime
) -> TaskLedgerEntry:
    """``sent | unknown → created`` with the Task's Salesforce id; repeating it is harmless.

    Recording a *different* id for a created Task is refused: it means a duplicate exists.
    """
    entry = _transition(
        session, task_key, TaskState.CREATED, at, salesforce_id=salesforce_id, error=None
    )
    if entry is not None:
        return entry
    current = get_task(session, task_key)
    if (
        current is not None
        and current.state in (TaskState.CREATED, TaskState.CLOSED)
        and current.salesforce_id == salesforce_id
    ):
        return current
    if current is not None and current.state is TaskState.CREATED:
        raise TaskStateError(
            f"task {task_key} was created as {current.salesforce_id}; "
            f"{salesforce_id} would be a duplicate"
        )
    raise _refuse(session, task_key, TaskState.CREATED)


def mark_failed(session: Session, task_key: str, error: str, *, at: datetime) -> TaskLedgerEntry:
    """``sent → failed``: Salesforce refused the Task (it goes to the dead letters too)."""
    entry = _transition(session, task_key, TaskState.FAILED, at, error=error)
    if entry is None:
        raise _refuse(session, task_key, TaskState.FAILED)
    return entry


def mark_unknown(session: Session, task_key: str, *, at: datetime) -> TaskLedgerEntry:
    """``sent → unknown``: the call failed in a way that leaves its outcome in doubt."""
    entry = _transition(session, task_key, TaskState.UNKNOWN, at)
    if entry is None:
        raise _refuse(session, task_key, TaskState.UNKNOWN)
    return entry


def replan_task(session: Session, task_key: str, *, at: datetime) -> TaskLedgerEntry:
    """``unknown | failed → planned``: a query by key found no Task, or a failure is replayed."""
    entry = _transition(session, task_key, TaskState.PLANNED, at)
    if entry is None:
        raise _refuse(session, task_key, TaskState.PLANNED)
    return entry


def mark_closed(session: Session, task_key: str, *, at: datetime) -> TaskLedgerEntry:
    """``created → closed`` (the Case closed or the step is done); repeating it is harmless."""
    entry = _transition(session, task_key, TaskState.CLOSED, at)
    if entry is not None:
        return entry
    current = get_task(session, task_key)
    if current is not None and current.state is TaskState.CLOSED:
        return current
    raise _refuse(session, task_key, TaskState.CLOSED)


def keys_for_case(session: Session, case_key: str) -> list[str]:
    """Every Task key the ledger holds for a Case, in key order."""
    statement = (
        select(TaskLedgerEntry.task_key)
        .where(TaskLedgerEntry.case_key == case_key)
        .order_by(TaskLedgerEntry.task_key)
    )
    return list(session.scalars(statement))


def tasks_for_case(
    session: Session, case_key: str, states: Iterable[TaskState] | None = None
) -> list[TaskLedgerEntry]:
    """A Case's ledger rows (optionally only in ``states``), in key order."""
    statement = select(TaskLedgerEntry).where(TaskLedgerEntry.case_key == case_key)
    if states is not None:
        statement = statement.where(TaskLedgerEntry.state.in_(list(states)))
    statement = statement.order_by(TaskLedgerEntry.task_key)
    return list(session.scalars(statement, execution_options=_POPULATE))


def unknown_outcomes(session: Session) -> list[TaskLedgerEntry]:
    """Tasks whose creation may or may not have happened: query Salesforce by key first.

    These are rows marked ``unknown`` and rows left in ``sent`` without an id by a crash. Call
    it at the start of a cycle, before sending anything, when no other writer holds ``sent`` rows.
    """
    in_doubt = or_(
        TaskLedgerEntry.state == TaskState.UNKNOWN,
        and_(TaskLedgerEntry.state == TaskState.SENT, TaskLedgerEntry.salesforce_id.is_(None)),
    )
    statement = select(TaskLedgerEntry).where(in_doubt).order_by(TaskLedgerEntry.task_key)
    return list(session.scalars(statement, execution_options=_POPULATE))


# --- invoice links ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLinkValues:
    """An invoice's AR_Invoice__c record as last written."""

    invoice_key: str
    status: str
    salesforce_id: str | None = None
    case_key: str | None = None
    content_hash: str | None = None


def put_invoice_links(
    session: Session, links: Sequence[InvoiceLinkValues], *, at: datetime
) -> None:
    """Insert or replace many invoice links in one batched statement."""
    if not links:
        return
    statement = dialect_insert(session, InvoiceLink)
    columns = ("salesforce_id", "case_key", "content_hash", "status", "updated_at")
    statement = statement.on_conflict_do_update(
        index_elements=[InvoiceLink.invoice_key],
        set_={name: statement.excluded[name] for name in columns},
    )
    session.execute(statement, [{**asdict(link), "updated_at": at} for link in links])


def get_invoice_links(session: Session, invoice_keys: Iterable[str]) -> dict[str, InvoiceLink]:
    """The stored links for ``invoice_keys`` by key (keys never written are absent)."""
    keys = list(invoice_keys)
    if not keys:
        return {}
    statement = select(InvoiceLink).where(InvoiceLink.invoice_key.in_(keys))
    return {
        link.invoice_key: link for link in session.scalars(statement, execution_options=_POPULATE)
    }


def invoice_links_for_case(session: Session, case_key: str) -> list[InvoiceLink]:
    """A Case's invoice links, in key order."""
    statement = (
        select(InvoiceLink)
        .where(InvoiceLink.case_key == case_key)
        .order_by(InvoiceLink.invoice_key)
    )
    return list(session.scalars(statement, execution_options=_POPULATE))


# --- promises -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromiseValues:
    """A promise to pay as read back from Salesforce."""

    promise_key: str
    customer_id: str
    case_key: str
    promised_date: date
    amount: Decimal
    currency: str
    source_task_id: str | None = None


def upsert_promise(session: Session, promise: PromiseValues, *, at: datetime) -> Promise:
    """Record a promise, or update it when the rep edited it.

    A changed date, amount or currency is a new promise in substance: it goes back to
    ``pending`` and its judgement is cleared. An unchanged re-read keeps its status.
    """
    statement = dialect_insert(session, Promise).values(
        **asdict(promise), status=PromiseStatus.PENDING, created_at=at
    )
    excluded = statement.excluded
    changed = or_(
        Promise.promised_date != excluded.promised_date,
        Promise.amount != excluded.amount,
        Promise.currency != excluded.currency,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[Promise.promise_key],
        set_={
            "customer_id": excluded.customer_id,
            "case_key": excluded.case_key,
            "promised_date": excluded.promised_date,
            "amount": excluded.amount,
            "currency": excluded.currency,
            "source_task_id": excluded.source_task_id,
            "status": case((changed, excluded.status), else_=Promise.status),
            "judged_at": case((changed, None), else_=Promise.judged_at),
        },
    ).returning(Promise)
    return session.scalars(upsert, execution_options=_POPULATE).one()


def judge_promise(
    session: Session, promise_key: str, status: PromiseStatus, *, at: datetime
) -> Promise:
    """Record the verdict on a pending promise; a promise is judged once."""
    if status is PromiseStatus.PENDING:
        raise ValueError("a verdict is kept, partially_kept or broken")
    statement = (
        update(Promise)
        .where(Promise.promise_key == promise_key, Promise.status == PromiseStatus.PENDING)
        .values(status=status, judged_at=at)
        .returning(Promise)
    )
    judged = session.scalars(statement, execution_options=_POPULATE).one_or_none()
    if judged is not None:
        return judged
    current = session.scalars(select(Promise).where(Promise.promise_key == promise_key)).first()
    if current is None:
        raise LookupError(f"no promise {promise_key}")
    raise ValueError(f"promise {promise_key} was already judged {current.status}")


def promises_due(session: Session, on_or_before: date) -> list[Promise]:
    """Pending promises whose date is ``on_or_before`` (pass today minus the grace days)."""
    statement = (
        select(Promise)
        .where(Promise.status == PromiseStatus.PENDING, Promise.promised_date <= on_or_before)
        .order_by(Promise.promised_date, Promise.promise_key)
    )
    return list(session.scalars(statement, execution_options=_POPULATE))


# --- outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeValues:
    """A completed Task's outcome as read back from Salesforce."""

    salesforce_task_id: str
    case_key: str
    outcome_code: str
    completed_at: datetime
    task_key: str | None = None
    notes: str | None = None


def record_outcome(session: Session, outcome: OutcomeValues, *, at: datetime) -> bool:
    """Store an outcome once per Salesforce Task; False if it was already recorded.

    Read-back re-covers an overlap window, so the same Task arrives more than once.
    """
    statement = (
        dialect_insert(session, Outcome)
        .values(**asdict(outcome), recorded_at=at, written_back=False)
        .on_conflict_do_nothing(index_elements=[Outcome.salesforce_task_id])
        .returning(Outcome.id)
    )
    return session.execute(statement).scalar_one_or_none() is not None


def outcomes_to_write_back(session: Session, limit: int = 500) -> list[Outcome]:
    """Outcomes not yet written to the accounting system, oldest first."""
    statement = (
        select(Outcome)
        .where(Outcome.written_back.is_(False))
        .order_by(Outcome.completed_at, Outcome.id)
        .limit(limit)
    )
    return list(session.scalars(statement, execution_options=_POPULATE))


def mark_written_back(session: Session, salesforce_task_id: str, *, at: datetime) -> None:
    """Flag an outcome as written to the accounting system."""
    statement = (
        update(Outcome)
        .where(Outcome.salesforce_task_id == salesforce_task_id)
        .values(written_back=True, written_back_at=at)
        .returning(Outcome.id)
    )
    if session.execute(statement).scalar_one_or_none() is None:
        raise LookupError(f"no outcome for Salesforce Task {salesforce_task_id}")


# --- dead letters -------------------------------------------------------------------------------


def record_dead_letter(
    session: Session,
    *,
    sobject: str,
    record_key: str,
    operation: str,
    payload: Mapping[str, Any],
    error_code: str,
    message: str,
    at: datetime,
    run_id: int | None = None,
) -> DeadLetter:
    """Keep a refused write with Salesforce's code and message, for the admin to replay.

    A write that fails again while its dead letter is open updates that row (attempts + 1,
    latest error and payload) instead of adding another.
    """
    statement = dialect_insert(session, DeadLetter).values(
        run_id=run_id,
        sobject=sobject,
        record_key=record_key,
        operation=operation,
        payload=dict(payload),
        error_code=error_code,
        message=message,
        attempts=1,
        first_failed_at=at,
        last_failed_at=at,
    )
    excluded = statement.excluded
    open_only: ColumnElement[bool] = DeadLetter.resolved_at.is_(None)
    upsert = statement.on_conflict_do_update(
        index_elements=[DeadLetter.sobject, DeadLetter.record_key, DeadLetter.operation],
        index_where=open_only,
        set_={
            "attempts": DeadLetter.attempts + 1,
            "last_failed_at": excluded.last_failed_at,
            "payload": excluded.payload,
            "error_code": excluded.error_code,
            "message": excluded.message,
            "run_id": excluded.run_id,
        },
    ).returning(DeadLetter)
    return session.scalars(upsert, execution_options=_POPULATE).one()


def list_dead_letters(
    session: Session,
    *,
    include_resolved: bool = False,
    sobject: str | None = None,
    limit: int | None = None,
) -> list[DeadLetter]:
    """Dead letters, oldest failure first; open ones only unless ``include_resolved``."""
    statement = select(DeadLetter)
    if not include_resolved:
        statement = statement.where(DeadLetter.resolved_at.is_(None))
    if sobject is not None:
        statement = statement.where(DeadLetter.sobject == sobject)
    statement = statement.order_by(DeadLetter.first_failed_at, DeadLetter.id).limit(limit)
    return list(session.scalars(statement, execution_options=_POPULATE))


def resolve_dead_letter(session: Session, dead_letter_id: int, *, at: datetime) -> bool:
    """Mark one dead letter resolved; False if it already was. Unknown ids raise LookupError."""
    statement = (
        update(DeadLetter)
        .where(DeadLetter.id == dead_letter_id, DeadLetter.resolved_at.is_(None))
        .values(resolved_at=at)
        .returning(DeadLetter.id)
    )
    if session.execute(statement).scalar_one_or_none() is not None:
        return True
    if session.get(DeadLetter, dead_letter_id) is None:
        raise LookupError(f"no dead letter {dead_letter_id}")
    return False


def resolve_dead_letters_for(
    session: Session, *, sobject: str, record_key: str, at: datetime
) -> int:
    """Resolve every open dead letter of a record (a later write of it succeeded)."""
    statement = (
        update(DeadLetter)
        .where(
            DeadLetter.sobject == sobject,
            DeadLetter.record_key == record_key,
            DeadLetter.resolved_at.is_(None),
        )
        .values(resolved_at=at)
        .returning(DeadLetter.id)
    )
    return len(session.execute(statement).all())


# --- quarantined source rows --------------------------------------------------------------------


def quarantine_row(
    session: Session,
    *,
    source: str,
    row_key: str,
    reason: str,
    raw: Mapping[str, Any],
    at: datetime,
    run_id: int | None = None,
) -> QuarantinedRow:
    """Set a bad source row aside with its reason; seen again, it keeps its first sighting."""
    statement = dialect_insert(session, QuarantinedRow).values(
        source=source,
        row_key=row_key,
        reason=reason,
        raw=dict(raw),
        run_id=run_id,
        first_seen=at,
        last_seen=at,
    )
    excluded = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[QuarantinedRow.source, QuarantinedRow.row_key],
        set_={
            "reason": excluded.reason,
            "raw": excluded.raw,
            "run_id": excluded.run_id,
            "last_seen": excluded.last_seen,
        },
    ).returning(QuarantinedRow)
    return session.scalars(upsert, execution_options=_POPULATE).one()


def list_quarantined(session: Session, source: str | None = None) -> list[QuarantinedRow]:
    """Quarantined rows (of one source if given), by source and key."""
    statement = select(QuarantinedRow)
    if source is not None:
        statement = statement.where(QuarantinedRow.source == source)
    statement = statement.order_by(QuarantinedRow.source, QuarantinedRow.row_key)
    return list(session.scalars(statement, execution_options=_POPULATE))


def release_quarantined(session: Session, *, source: str, row_key: str) -> bool:
    """Take a row out of quarantine (it was fixed at the source); False if it was not there."""
    statement = (
        delete(QuarantinedRow)
        .where(QuarantinedRow.source == source, QuarantinedRow.row_key == row_key)
        .returning(QuarantinedRow.id)
    )
    return session.execute(statement).scalar_one_or_none() is not None


# --- account leases -----------------------------------------------------------------------------


def acquire_lease(
    session: Session, *, lease_key: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease on an account (or shard) for ``ttl``; False if another holds it.

    A lease is free when absent or expired; the holder may renew its own. One statement, so
    two workers racing for the same key cannot both win.
    """
    if ttl <= timedelta(0):
        raise ValueError("a lease needs a positive ttl")
    statement = dialect_insert(session, AccountLease).values(
        lease_key=lease_key, holder=holder, expires_at=now + ttl
    )
    excluded = statement.excluded
    upsert = statement.on_conflict_do_update(
        index_elements=[AccountLease.lease_key],
        set_={"holder": excluded.holder, "expires_at": excluded.expires_at},
        where=or_(AccountLease.expires_at <= now, AccountLease.holder == holder),
    ).returning(AccountLease.holder)
    return session.execute(upsert).scalar_one_or_none() is not None


def release_lease(session: Session, *, lease_key: str, holder: str) -> bool:
    """Give a lease back early; False if ``holder`` did not hold it."""
    statement = (
        delete(AccountLease)
        .where(AccountLease.lease_key == lease_key, AccountLease.holder == holder)
        .returning(AccountLease.lease_key)
    )
    return session.execute(statement).scalar_one_or_none() is not None
