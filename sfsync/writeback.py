"""Writeback: what reps did in Salesforce comes back into the ledger, and then into planning.

:func:`run_writeback` reads the collections Tasks and Cases changed since the writeback
watermark (``SystemModstamp`` minus ``sync.writeback_overlap_seconds``) and:

* reads completed Tasks a rep logged by hand on an open collections Case (no key of ours) too;
* records each completed Task's **outcome** once per Task id (``Collections_Outcome__c``, else
  ``CallDisposition``; a recognised label or synonym maps to its outcome, anything else is
  recorded as ``other`` with the rep's label; the Task's ``Description`` is the note) and
  closes its ledger row;
* records a **promise to pay** from a Task's ``Promise_Date__c`` / ``Promise_Amount__c``, and a
  promise a rep typed on the Case itself; an edited promise goes back to ``pending``;
* records a **dispute** when the outcome is *Disputed*: the rep names the invoice (its number or
  id) in the Task's comments (``Description``), matched against the Case's invoice records;
* writes a **note** to the accounting source, once per outcome, where the source supports one;
* advances the writeback watermark last: the highest ``SystemModstamp`` seen, capped at the
  run's start. An idle writeback costs two queries (Tasks, Cases), plus one per few hundred
  open collections Cases for the calls reps logged on them by hand, and writes nothing.

:func:`run_collections` is the whole job: writeback, then one sync cycle through a
:class:`ReadBackSource` — the source seen through the ledger: customers touched by the writeback
(or whose promise is due for judgement) are read even if nothing changed at the source; pending
promises are judged (:func:`sfsync.policy.judge_promise`) against the customer's payments
before the customer is planned; rep disputes mark their invoices disputed, so they leave the
chase — then the dispute Cases (:mod:`sfsync.disputes`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table
from simple_salesforce.format import format_soql
from sqlalchemy import select
from sqlalchemy.orm import Session

from sfsync.cases import DISPUTE_CASE_SUFFIX, AccountLedger, build_ledgers
from sfsync.clock import Clock
from sfsync.disputes import apply_dispute_cases
from sfsync.domain import AccountKey, Invoice, OutcomeKind, Promise, PromiseStatus
from sfsync.errors import SfsyncError
from sfsync.logs import get_logger, run_context
from sfsync.policy import Policy, judge_promise
from sfsync.salesforce.ports import CallCounts, Record
from sfsync.sources.base import CustomerRecords, InvoiceSource, SourceBatch, Watermark
from sfsync.store import models
from sfsync.store.disputes import (
    DisputeCase,
    DisputeValues,
    InvoiceDispute,
    clear_dispute,
    mark_seen_in_source,
    open_dispute,
)
from sfsync.store.models import RunStatus, TaskState
from sfsync.store.repositories import (
    OutcomeValues,
    PromiseValues,
    advance_watermark,
    finish_run,
    get_task,
    get_watermark,
    last_run,
    mark_closed,
    mark_written_back,
    promises_due,
    record_outcome,
    start_run,
    upsert_promise,
)
from sfsync.store.repositories import judge_promise as record_verdict
from sfsync.sync import (
    CYCLE_KIND,
    CycleDeps,
    CyclePart,
    CycleReport,
    ProgressCallback,
    log_run_finished,
    run_cycle,
)
from sfsync.syncview import print_report

_log = get_logger(__name__)

#: Run kind recorded in ``sync_runs`` and the watermark stream of the read-back.
WRITEBACK_KIND = "writeback"
WRITEBACK_STREAM = "salesforce_writeback"
#: Fields read from Tasks and Cases (names of the shipped metadata in ``salesforce/``).
TASK_FIELDS = (
    "Id",
    "Status",
    "IsClosed",
    "Collections_Outcome__c",
    "CallDisposition",
    "Description",
    "Promise_Date__c",
    "Promise_Amount__c",
    "WhatId",
    "SystemModstamp",
)
CASE_FIELDS = ("Id", "Promise_Date__c", "Promise_Amount__c", "SystemModstamp")
#: The invoice record's number field, matched against what a rep names in a dispute.
INVOICE_NUMBER_FIELD = "Invoice_Number__c"
#: Outcome code stored for a completed collections Task whose outcome is not recognised: it is
#: still a contact a rep logged, kept with the rep's own label and notes.
OTHER_OUTCOME = OutcomeKind.OTHER.value
#: Recognised outcome labels (normalised: lower case, words joined by ``_``) → the outcome. The
#: picklist values, plus what reps type in ``CallDisposition`` for the same thing.
_OUTCOMES: dict[str, OutcomeKind] = {
    **{kind.value: kind for kind in OutcomeKind},
    "ptp": OutcomeKind.PROMISE_TO_PAY,
    "promise": OutcomeKind.PROMISE_TO_PAY,
    "promised_to_pay": OutcomeKind.PROMISE_TO_PAY,
    "promise_of_payment": OutcomeKind.PROMISE_TO_PAY,
    "voicemail": OutcomeKind.LEFT_VOICEMAIL,
    "voice_mail": OutcomeKind.LEFT_VOICEMAIL,
    "vm": OutcomeKind.LEFT_VOICEMAIL,
    "left_vm": OutcomeKind.LEFT_VOICEMAIL,
    "left_message": OutcomeKind.LEFT_VOICEMAIL,
    "left_a_message": OutcomeKind.LEFT_VOICEMAIL,
    "not_answered": OutcomeKind.NO_ANSWER,
    "no_response": OutcomeKind.NO_ANSWER,
    "no_reply": OutcomeKind.NO_ANSWER,
    "dispute": OutcomeKind.DISPUTED,
    "in_dispute": OutcomeKind.DISPUTED,
    "already_paid": OutcomeKind.PAID,
    "payment_made": OutcomeKind.PAID,
    "payment_received": OutcomeKind.PAID,
    "wrong_number": OutcomeKind.WRONG_CONTACT,
    "wrong_person": OutcomeKind.WRONG_CONTACT,
    "refused_to_pay": OutcomeKind.REFUSED,
    "refusal": OutcomeKind.REFUSED,
    "payment_arrangement": OutcomeKind.PAYMENT_PLAN,
    "installment_plan": OutcomeKind.PAYMENT_PLAN,
    "instalment_plan": OutcomeKind.PAYMENT_PLAN,
}
_LABEL_SEPARATORS = re.compile(r"[^a-z0-9]+")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NOTE_LIMIT = 4000


class WritebackError(SfsyncError):
    """The read-back could not finish; nothing after the failure was recorded."""


@dataclass
class WritebackReport:
    """What one writeback did (the summary table and the run record)."""

    run_id: int
    counts: dict[str, int]
    calls: CallCounts
    customers: frozenset[str]
    watermark_advanced: bool


@dataclass(frozen=True, slots=True)
class _TaskRow:
    """A completed collections Task as read back, tied to its account and Case."""

    task_id: str
    task_key: str
    account: AccountKey
    case_key: str | None
    what_id: str | None
    #: The recognised outcome; None: recorded as :data:`OTHER_OUTCOME`.
    kind: OutcomeKind | None
    #: The rep's own label (``Collections_Outcome__c``, else ``CallDisposition``), as typed.
    disposition: str
    notes: str
    promise_date: date | None
    promise_amount: Decimal | None
    modified: datetime


def run_writeback(deps: CycleDeps) -> WritebackReport:
    """Read back Tasks and Cases changed since the watermark (see the module docstring)."""
    started = deps.clock.now()
    calls_before = deps.gateway.calls
    source = deps.source.name
    with deps.sessions() as session:
        run = start_run(session, kind=WRITEBACK_KIND, source=source, started_at=started)
        if run is None:  # pragma: no cover - only scheduled runs carry a key
            raise WritebackError("the writeback run could not be recorded")
        run_id = run.id
        stored = get_watermark(session, source, WRITEBACK_STREAM)
        since = None if stored is None else stored.value_at
        session.commit()
    with run_context(run_id=str(run_id), source=source):
        reader = _Reader(deps, started)
        error: Exception | None = None
        try:
            reader.read(since)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then re-raised
            error = exc
        now = deps.clock.now()
        calls = _delta(deps.gateway.calls, calls_before)
        with deps.sessions() as session:
            advanced = error is None and reader.highest is not None
            if advanced and reader.highest is not None:
                advance_watermark(
                    session,
                    source=source,
                    stream=WRITEBACK_STREAM,
                    value=reader.highest,
                    run_started_at=started,
                    at=now,
                    run_id=run_id,
                )
            finish_run(
                session,
                run_id,
                status=RunStatus.FAILED if error is not None else RunStatus.SUCCEEDED,
                finished_at=now,
                counts=dict(reader.counts),
                api_calls=calls.total,
                error=None if error is None else f"{type(error).__name__}: {error}",
            )
            session.commit()
        _log.debug(
            "writeback_finished",
            run_id=run_id,
            source=source,
            **reader.counts,
            api_reads=calls.read,
            watermark_advanced=advanced,
        )
        if error is not None:
            raise error
        return WritebackReport(
            run_id, dict(reader.counts), calls, frozenset(reader.customers), advanced
        )


class _Reader:
    """One writeback: the queries, what they recorded, and the highest timestamp seen."""

    def __init__(self, deps: CycleDeps, started: datetime) -> None:
        self.deps = deps
        self.started = started
        self.source = deps.source.name
        self.counts: dict[str, int] = defaultdict(int)
        self.customers: set[str] = set()
        self.highest: datetime | None = None

    def read(self, since: datetime | None) -> None:
        overlap = timedelta(seconds=self.deps.settings.sync.writeback_overlap_seconds)
        window = None if since is None else since - overlap
        tasks = self._read_tasks(window)
        cases = self._query_changed(self.deps.mappings.case.sobject, CASE_FIELDS, window)
        self.counts["tasks_read"] += len(tasks)
        disputed = self._named_invoices([row for row in tasks if row.kind is OutcomeKind.DISPUTED])
        now = self.deps.clock.now()
        with self.deps.sessions() as session:
            for row in tasks:
                self._record_task(session, row, disputed.get(row.task_id, ()), now)
            for record in cases:
                self._record_case_promise(session, record, now)
            session.commit()
        self._write_notes()

    # --- reading --------------------------------------------------------------------------------

    def _query_changed(
        self, sobject: str, fields: Sequence[str], window: datetime | None
    ) -> list[Record]:
        """Collections rows of ``sobject`` changed in the window (all of them the first time)."""
        key_field = (
            self.deps.mappings.task.external_id
            if sobject == self.deps.mappings.task.sobject
            else self.deps.mappings.case.external_id
        )
        names = ", ".join(dict.fromkeys((key_field, *fields)))
        where = _prefix_filter(key_field, self.source)
        if sobject == self.deps.mappings.task.sobject:
            where += " AND IsClosed = true"
        if window is not None:
            where += format_soql(" AND SystemModstamp > {}", window.replace(microsecond=0))
        rows = list(self.deps.gateway.query(f"SELECT {names} FROM {sobject} WHERE {where}"))  # noqa: S608 - names are the mapping's checked identifiers; values via format_soql
        for row in rows:
            self._saw(row.get("SystemModstamp"))
        return [dict(row, _key=row.get(key_field)) for row in rows]

    def _saw(self, value: object) -> None:
        moment = _timestamp(value)
        if moment is not None and (self.highest is None or moment > self.highest):
            self.highest = min(moment, self.started)

    def _read_tasks(self, window: datetime | None) -> list[_TaskRow]:
        records = self._query_changed(self.deps.mappings.task.sobject, TASK_FIELDS, window)
        rows: list[_TaskRow] = []
        with self.deps.sessions() as session:
            for record in records:
                row = self._task_row(session, record)
                if row is None:
                    self.counts["tasks_ignored"] += 1
                else:
                    rows.append(row)
            rows.extend(self._manual_tasks(session, window))
        return rows

    def _manual_tasks(self, session: Session, window: datetime | None) -> list[_TaskRow]:
        """Completed Tasks a rep logged by hand on an open collections Case (no key of ours).

        A call logged straight on the Case is a contact attempt like any other: it is read by
        the Case ids the ledger holds (``query_in`` splits and escapes them), changed in the
        same window as the keyed Tasks, and recorded under the Case's key.
        """
        task = self.deps.mappings.task
        cases = {
            link.case_id: link.case_key
            for link in session.scalars(
                select(models.AccountLink).where(
                    models.AccountLink.source == self.source,
                    models.AccountLink.case_open.is_(True),
                    models.AccountLink.case_id.is_not(None),
                    models.AccountLink.case_key.is_not(None),
                )
            )
            if link.case_id and link.case_key
        }
        if not cases:
            return []
        where = f"IsClosed = true AND {task.external_id} = null"
        args: list[object] = []
        if window is not None:
            where += " AND SystemModstamp > {}"
            args.append(window.replace(microsecond=0))
        fields = list(dict.fromkeys((task.external_id, *TASK_FIELDS)))
        rows: list[_TaskRow] = []
        for record in self.deps.gateway.query_in(
            task.sobject, fields, "WhatId", sorted(cases), extra_where=where, extra_args=args
        ):
            self._saw(record.get("SystemModstamp"))
            case_key = cases.get(_text(record.get("WhatId")))
            account = None if case_key is None else _account_of(case_key, self.source)
            if case_key is None or account is None:
                continue
            self.counts["manual_tasks_read"] += 1
            rows.append(_task_row_of(record, "", account, case_key, self.started))
        return rows

    def _task_row(self, session: Session, record: Mapping[str, Any]) -> _TaskRow | None:
        key = str(record.get("_key") or "")
        entry = get_task(session, key)
        owner_key = entry.case_key if entry is not None else _case_key_of(key)
        account = _account_of(owner_key, self.source)
        if account is None:
            return None
        case_key = owner_key if owner_key.count(":") == 3 else None
        return _task_row_of(record, key, account, case_key, self.started)

    def _named_invoices(self, rows: Sequence[_TaskRow]) -> dict[str, tuple[str, ...]]:
        """Task id → invoice keys the rep named in a *Disputed* outcome (one query in all)."""
        cases = sorted({row.what_id for row in rows if row.what_id})
        if not cases:
            return {}
        by_case = self._invoices_by_case(cases)
        named: dict[str, tuple[str, ...]] = {}
        for row in rows:
            tokens = {token.lower() for token in _TOKEN.findall(row.notes)}
            found = tuple(
                key
                for key, number in by_case.get(row.what_id or "", ())
                if number.lower() in tokens or key.rsplit(":", 1)[-1].lower() in tokens
            )
            named[row.task_id] = found
        return named

    def _invoices_by_case(self, cases: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        mapping = self.deps.mappings.invoice
        fields = ["Id", "Case__c", mapping.external_id, INVOICE_NUMBER_FIELD]
        by_case: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for record in self.deps.gateway.query_in(mapping.sobject, fields, "Case__c", cases):
            by_case[_text(record.get("Case__c"))].append(
                (_text(record.get(mapping.external_id)), _text(record.get(INVOICE_NUMBER_FIELD)))
            )
        return by_case

    # --- recording ------------------------------------------------------------------------------

    def _record_task(
        self, session: Session, row: _TaskRow, disputed: Sequence[str], now: datetime
    ) -> None:
        entry = get_task(session, row.task_key)
        if entry is not None and entry.state is TaskState.CREATED:
            mark_closed(session, row.task_key, at=now)
        elif (
            entry is not None
            and entry.state is TaskState.CLOSED
            and row.kind is None
            and not row.disposition
        ):
            # sfsync closed it (its Case closed) before any rep gave it an outcome: no contact.
            self.counts["tasks_closed_by_sync"] += 1
            return
        ledger_key = row.case_key or row.account.text
        fresh = record_outcome(
            session,
            OutcomeValues(
                salesforce_task_id=row.task_id,
                case_key=ledger_key,
                outcome_code=OTHER_OUTCOME if row.kind is None else row.kind.value,
                completed_at=row.modified,
                task_key=row.task_key or None,
                notes=_note_text(row, disputed),
            ),
            at=now,
        )
        if fresh:
            self.counts["outcomes_recorded"] += 1
            if row.kind is None:
                self.counts["outcomes_other"] += 1
            self.customers.add(row.account.customer_id)
        if row.promise_date is not None and row.promise_amount is not None and row.case_key:
            self._record_promise(session, f"{row.case_key}:{row.task_id}", row, now)
        elif row.kind is OutcomeKind.PROMISE_TO_PAY and fresh:
            self.counts["promises_incomplete"] += 1
            _log.warning(
                "promise_incomplete",
                task_id=row.task_id,
                hint="a promise needs Promise_Date__c and a positive Promise_Amount__c on a "
                "Task of a collections Case; the outcome was recorded without it",
            )
        for invoice_key in disputed:
            recorded = open_dispute(
                session,
                DisputeValues(
                    invoice_key=invoice_key,
                    account_key=row.account.text,
                    reason=_dispute_reason(row.notes),
                    salesforce_task_id=row.task_id,
                ),
                at=now,
            )
            if recorded:
                self.counts["disputes_recorded"] += 1
                self.customers.add(row.account.customer_id)
        if row.kind is OutcomeKind.DISPUTED and not disputed and fresh:
            self.counts["disputes_without_invoice"] += 1
            _log.warning(
                "dispute_invoice_not_named",
                task_id=row.task_id,
                hint="name the invoice number in the Task's comments",
            )

    def _record_promise(self, session: Session, key: str, row: _TaskRow, now: datetime) -> None:
        assert row.promise_date is not None  # noqa: S101 - checked by the caller
        assert row.promise_amount is not None  # noqa: S101 - checked by the caller
        before = session.scalars(
            select(models.Promise).where(models.Promise.promise_key == key)
        ).first()
        old = None if before is None else (before.promised_date, before.amount)
        upsert_promise(
            session,
            PromiseValues(
                promise_key=key,
                customer_id=row.account.customer_id,
                case_key=row.case_key or row.account.text,
                promised_date=row.promise_date,
                amount=row.promise_amount,
                currency=row.account.currency,
                source_task_id=row.task_id,
            ),
            at=now,
        )
        if old != (row.promise_date, row.promise_amount):
            self.counts["promises_recorded"] += 1
            self.customers.add(row.account.customer_id)

    def _record_case_promise(
        self, session: Session, record: Mapping[str, Any], now: datetime
    ) -> None:
        """A promise a rep typed or edited on the Case.

        The Case also comes back after sfsync's own writes: its promise fields then hold a
        promise the ledger knows (maybe an older one, if a newer promise was logged on a Task
        since). Only values matching no known promise of the Case are a rep's edit, applied to
        the promise in force (which goes back to pending) or recorded as a new one.
        """
        case_key = str(record.get("_key") or "")
        account = _account_of(case_key, self.source)
        promised, amount = (
            _day(record.get("Promise_Date__c")),
            _money(record.get("Promise_Amount__c")),
        )
        if (
            account is None
            or case_key.endswith(DISPUTE_CASE_SUFFIX)
            or promised is None
            or amount is None
        ):
            return
        known = list(
            session.scalars(
                select(models.Promise)
                .where(models.Promise.case_key == case_key)
                .order_by(models.Promise.created_at.desc(), models.Promise.id.desc())
            )
        )
        if any((row.promised_date, row.amount) == (promised, amount) for row in known):
            return
        latest = known[0] if known else None
        key = latest.promise_key if latest is not None else f"{case_key}:{record['Id']}"
        row = _TaskRow(
            task_id=str(record["Id"]),
            task_key="",
            account=account,
            case_key=case_key,
            what_id=None,
            kind=OutcomeKind.PROMISE_TO_PAY,
            disposition="",
            notes="",
            promise_date=promised,
            promise_amount=amount,
            modified=now,
        )
        self._record_promise(session, key, row, now)

    def _write_notes(self) -> None:
        """Each recorded outcome once to the source, where it keeps notes."""
        source = self.deps.source
        if not source.supports_notes:
            return
        with self.deps.sessions() as session:
            for outcome in _unwritten_outcomes(session, self.source):
                account = _account_of(outcome.case_key, self.source)
                if account is None:  # another source's outcome: its own writeback writes it
                    continue
                source.write_note(
                    account.customer_id,
                    _disputed_invoice(session, outcome.salesforce_task_id),
                    (outcome.notes or "")[:_NOTE_LIMIT],
                    outcome.completed_at,
                )
                mark_written_back(session, outcome.salesforce_task_id, at=self.deps.clock.now())
                session.commit()
                self.counts["notes_written"] += 1


# --- the whole job: writeback, then a cycle that sees it -------------------------------------


@dataclass
class CollectionsReport:
    """A writeback, the cycle after it, and what became of promises and disputes."""

    writeback: WritebackReport
    cycle: CycleReport
    verdicts: list[tuple[str, PromiseStatus]] = field(default_factory=list)
    dispute_cases: dict[str, int] = field(default_factory=dict)


def run_collections(
    deps: CycleDeps,
    *,
    full: bool = False,
    on_progress: ProgressCallback | None = None,
    dispute_queue: str | None = None,
) -> CollectionsReport:
    """Writeback, then one cycle that plans what reps did, then the dispute Cases.

    The run logs one canonical ``sync_run_finished`` at its end (or when the cycle fails),
    carrying every Salesforce call of the run: the writeback's, the cycle's (with the process's
    setup calls on its first run) and the dispute Cases'; the phases' own lines are debug detail.
    """
    writeback = run_writeback(deps)
    cycle_deps, overlay = with_read_back(deps, extra_customers=writeback.customers)
    finished: list[CycleReport] = []
    try:
        cycle = run_cycle(
            cycle_deps, full=full, on_progress=on_progress, on_finished=finished.append
        )
    except Exception:
        for report in finished:
            log_run_finished(report, other_calls={"writeback": writeback.calls})
        raise
    before = deps.gateway.calls
    try:
        cases = apply_dispute_cases(deps, overlay.dispute_ledgers, queue=dispute_queue)
    finally:
        log_run_finished(
            cycle,
            other_calls={
                "writeback": writeback.calls,
                "disputes": _delta(deps.gateway.calls, before),
            },
        )
    return CollectionsReport(writeback, cycle, list(overlay.verdicts), cases)


def with_read_back(
    deps: CycleDeps, *, extra_customers: Iterable[str] = (), part: CyclePart | None = None
) -> tuple[CycleDeps, ReadBackSource]:
    """``deps`` whose source is seen through the ledger, for a plain :func:`run_cycle`.

    For callers that schedule the writeback apart from the cycle (``sfsync run``, the
    distributed jobs): the customers to read again are found in the store — pending promises
    due for judgement, and outcomes, promises and disputes recorded since the last successful
    cycle started — plus ``extra_customers``. After the cycle, pass
    ``overlay.dispute_ledgers`` to :func:`sfsync.disputes.apply_dispute_cases`. With a
    ``part`` (a shard), only that part's customers are judged, overlaid and added.
    """
    overlay = ReadBackSource(
        deps.source,
        deps.sessions,
        deps.policy,
        deps.clock,
        extra_customers=set(extra_customers) | customers_to_replan(deps),
        part=part,
    )
    return replace(deps, source=overlay), overlay


def customers_to_replan(deps: CycleDeps) -> set[str]:
    """Customers whose plan depends on what reps did, though their books may not have changed."""
    source = deps.source.name
    grace = deps.policy.promises.grace_days
    due_by = deps.clock.now().date() - timedelta(days=grace + 1)
    with deps.sessions() as session:
        found = {row.customer_id for row in promises_due(session, due_by)}
        last = last_run(session, kind=CYCLE_KIND, source=source)
        if last is None:
            return found  # no cycle yet: the next one reads every open customer anyway
        prefix = f"{source}:"
        recorded = session.scalars(
            select(models.Outcome.case_key).where(
                models.Outcome.recorded_at >= last.started_at,
                models.Outcome.case_key.startswith(prefix, autoescape=True),
            )
        )
        disputed = session.scalars(
            select(InvoiceDispute.account_key).where(
                InvoiceDispute.opened_at >= last.started_at,
                InvoiceDispute.account_key.startswith(prefix, autoescape=True),
            )
        )
        promised = session.scalars(
            select(models.Promise.customer_id).where(
                models.Promise.created_at >= last.started_at,
                models.Promise.case_key.startswith(prefix, autoescape=True),
            )
        )
        for key in (*recorded, *disputed):
            account = _account_of(key, source)
            if account is not None:
                found.add(account.customer_id)
        found.update(promised)
    return found


def print_collections(report: CollectionsReport, console: Console | None = None) -> None:
    """The writeback's counts, the promises judged, the dispute Cases, then the cycle's table."""
    out = console or Console(highlight=False)
    table = Table(title=f"writeback run {report.writeback.run_id}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name in _WRITEBACK_COUNTS:
        table.add_row(name.replace("_", " "), str(report.writeback.counts.get(name, 0)))
    for status in (PromiseStatus.KEPT, PromiseStatus.PARTIALLY_KEPT, PromiseStatus.BROKEN):
        judged = sum(1 for _, verdict in report.verdicts if verdict is status)
        table.add_row(f"promises {status.value.replace('_', ' ')}", str(judged))
    for action, count in report.dispute_cases.items():
        table.add_row(f"dispute Cases {action}", str(count))
    out.print(table)
    print_report(report.cycle, out)


#: The writeback counts shown by ``sfsync writeback``, in display order.
_WRITEBACK_COUNTS = (
    "tasks_read",
    "outcomes_recorded",
    "outcomes_other",
    "promises_recorded",
    "disputes_recorded",
    "disputes_without_invoice",
    "promises_incomplete",
    "notes_written",
)


class ReadBackSource:
    """The accounting source seen through what reps did (an :class:`InvoiceSource`).

    Wraps the real source for one cycle:

    * ``extra_customers`` are read even if nothing changed at the source (they got a promise,
      an outcome or a dispute in Salesforce, or their promise is due for judgement), once, in
      the first read;
    * before a customer is handed to the planner, its pending promises are judged against its
      payments and the verdict is committed, so the planner sees it (a broken promise raises
      the Case priority and creates the follow-up Task);
    * invoices a rep disputed are marked disputed (out of the chase) until the dispute clears:
      the invoice is closed, or the source took the dispute over and later cleared its flag;
    * the ledgers of accounts with a disputed invoice or an open dispute Case are kept in
      :attr:`dispute_ledgers` for :func:`sfsync.disputes.apply_dispute_cases`.
    """

    def __init__(
        self,
        inner: InvoiceSource,
        sessions: Any,
        policy: Policy,
        clock: Clock,
        *,
        extra_customers: Iterable[str] = (),
        part: CyclePart | None = None,
    ) -> None:
        self._inner = inner
        self._sessions = sessions
        self._policy = policy
        self._clock = clock
        self._part = part
        self._extra = {c for c in extra_customers if part is None or part.includes(c)}
        self.verdicts: list[tuple[str, PromiseStatus]] = []
        self.dispute_ledgers: dict[AccountKey, AccountLedger] = {}

    @property
    def name(self) -> str:
        """The wrapped source's name."""
        return self._inner.name

    @property
    def supports_notes(self) -> bool:
        """The wrapped source's answer."""
        return self._inner.supports_notes

    def read_changes(
        self,
        since: Watermark | None,
        as_of: date,
        overlap: timedelta,
        *,
        lookahead: timedelta = timedelta(0),
    ) -> SourceBatch:
        """The source's read plus the extra customers (first read only), through the ledger."""
        batch = self._inner.read_changes(since, as_of, overlap, lookahead=lookahead)
        extra, self._extra = self._extra, set()
        return SourceBatch(
            self._stream(batch.customers, extra, as_of), batch.watermark, batch.orphans
        )

    def iter_customers(self, as_of: date) -> Iterator[CustomerRecords]:
        """Every customer with anything open, seen through the ledger."""
        return self._stream(self._inner.iter_customers(as_of), set(), as_of)

    def confirm_read(self, watermark: Watermark) -> None:
        """Passed to the wrapped source."""
        self._inner.confirm_read(watermark)

    def write_note(self, customer_id: str, invoice_id: str | None, text: str, at: datetime) -> None:
        """Passed to the wrapped source."""
        self._inner.write_note(customer_id, invoice_id, text, at)

    def _stream(
        self, customers: Iterator[CustomerRecords], extra: set[str], as_of: date
    ) -> Iterator[CustomerRecords]:
        known = _Known.load(self._sessions, self.name)
        seen: set[str] = set()
        for records in customers:
            seen.add(records.customer.id)
            yield self._overlay(records, known, as_of)
        missing = extra - seen
        if missing:
            for records in self._inner.iter_customers(as_of):
                if records.customer.id in missing:
                    yield self._overlay(records, known, as_of)

    def _overlay(self, records: CustomerRecords, known: _Known, as_of: date) -> CustomerRecords:
        if self._part is not None and not self._part.includes(records.customer.id):
            return records  # another shard's customer: the cycle drops it, its writer judges it
        now = self._clock.now()
        invoices: list[Invoice] = []
        with self._sessions() as session:
            for invoice in records.invoices:
                invoices.append(self._disputed(session, invoice, known, now))
            self._judge(session, records, known, as_of, now)
            session.commit()
        overlaid = replace(records, invoices=tuple(invoices))
        if records.customer.id in known.dispute_customers or any(
            invoice.disputed for invoice in invoices
        ):
            self._keep_dispute_ledgers(overlaid, known)
        return overlaid

    def _keep_dispute_ledgers(self, records: CustomerRecords, known: _Known) -> None:
        """Keep the accounts that need their dispute Case planned after the cycle."""
        built = build_ledgers(self.name, records.customer, records.invoices, records.payments)
        for ledger in built.ledgers:
            if ledger.key.text in known.open_dispute_cases or any(
                invoice.is_open and invoice.disputed for invoice in ledger.invoices
            ):
                self.dispute_ledgers[ledger.key] = ledger

    def _disputed(
        self, session: Session, invoice: Invoice, known: _Known, now: datetime
    ) -> Invoice:
        key = f"{self.name}:{invoice.id}"
        dispute = known.disputes.get(key)
        if dispute is None:
            return invoice
        if not invoice.is_open:
            clear_dispute(session, key, at=now)
            return invoice
        if invoice.disputed:
            if not dispute.seen_in_source:
                mark_seen_in_source(session, key)
            return invoice
        if dispute.seen_in_source:
            clear_dispute(session, key, at=now)
            return invoice
        return replace(invoice, disputed=True, dispute_reason=dispute.reason)

    def _judge(
        self, session: Session, records: CustomerRecords, known: _Known, as_of: date, now: datetime
    ) -> None:
        for row in known.promises.get(records.customer.id, ()):
            try:
                promise = Promise(
                    id=row.promise_key.rsplit(":", 1)[-1],
                    currency=row.currency,
                    amount=row.amount,
                    promised_date=row.promised_date,
                    made_on=row.created_at.date(),
                )
            except ValueError:
                continue
            verdict = judge_promise(
                promise, records.payments, as_of, self._policy.promises.grace_days
            )
            if verdict is PromiseStatus.PENDING:
                continue
            try:
                record_verdict(
                    session, row.promise_key, models.PromiseStatus(verdict.value), at=now
                )
            except (LookupError, ValueError):
                continue  # judged meanwhile by another writer, or gone: its verdict stands
            self.verdicts.append((row.promise_key, verdict))
            _log.info("promise_judged", promise_key=row.promise_key, status=verdict.value)


@dataclass
class _Known:
    """Pending promises, open rep disputes and open dispute Cases, loaded once per read."""

    promises: dict[str, list[models.Promise]]
    disputes: dict[str, InvoiceDispute]
    open_dispute_cases: set[str]
    #: Customers of :attr:`open_dispute_cases` (keys are ``<source>:<customer>:<currency>``).
    dispute_customers: set[str]

    @classmethod
    def load(cls, sessions: Any, source: str) -> _Known:
        prefix = f"{source}:"
        with sessions() as session:
            promises: dict[str, list[models.Promise]] = defaultdict(list)
            pending = select(models.Promise).where(
                models.Promise.status == models.PromiseStatus.PENDING,
                models.Promise.case_key.startswith(prefix, autoescape=True),
            )
            for row in session.scalars(pending):
                promises[row.customer_id].append(row)
            disputes = {
                row.invoice_key: row
                for row in session.scalars(
                    select(InvoiceDispute).where(
                        InvoiceDispute.cleared_at.is_(None),
                        InvoiceDispute.invoice_key.startswith(prefix, autoescape=True),
                    )
                )
            }
            cases = set(
                session.scalars(
                    select(DisputeCase.account_key).where(
                        DisputeCase.is_open.is_(True),
                        DisputeCase.account_key.startswith(prefix, autoescape=True),
                    )
                )
            )
        return cls(dict(promises), disputes, cases, {key.split(":")[1] for key in cases})


# --- helpers ------------------------------------------------------------------------------------


def _task_row_of(
    record: Mapping[str, Any],
    task_key: str,
    account: AccountKey,
    case_key: str | None,
    started: datetime,
) -> _TaskRow:
    """A completed Task as read back (``task_key`` empty: a Task a rep logged by hand)."""
    return _TaskRow(
        task_id=str(record["Id"]),
        task_key=task_key,
        account=account,
        case_key=case_key,
        what_id=_text(record.get("WhatId")) or None,
        kind=_outcome(record.get("Collections_Outcome__c"))
        or _outcome(record.get("CallDisposition")),
        disposition=_text(record.get("Collections_Outcome__c"))
        or _text(record.get("CallDisposition")),
        notes=_text(record.get("Description")),
        promise_date=_day(record.get("Promise_Date__c")),
        promise_amount=_money(record.get("Promise_Amount__c")),
        modified=_timestamp(record.get("SystemModstamp")) or started,
    )


def _prefix_filter(key_field: str, source: str) -> str:
    """``<key_field> LIKE '<source>:%'`` with the source's own ``_`` and ``%`` escaped, so
    ``erp_eu`` does not also match ``erpXeu``'s rows."""
    return format_soql(f"{key_field} LIKE '{{:like}}:%'", source)


def _case_key_of(task_key: str) -> str:
    """The owner of a Task key not in the ledger: ``<case key>:<step>`` → ``<case key>``."""
    return task_key.rsplit(":", 1)[0]


def _account_of(owner_key: str, source: str) -> AccountKey | None:
    """``<source>:<customer>:<currency>[:<episode>]`` → the account, if it is this source's."""
    parts = owner_key.split(":")
    if len(parts) < 3 or parts[0] != source or not parts[1] or len(parts[2]) != 3:
        return None
    return AccountKey(parts[0], parts[1], parts[2])


def _outcome(value: object) -> OutcomeKind | None:
    """A recognised label (any case, spaces, ``-`` or ``_``; common synonyms) as its outcome."""
    text = _LABEL_SEPARATORS.sub("_", _text(value).lower()).strip("_")
    return _OUTCOMES.get(text)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _day(value: object) -> date | None:
    try:
        return date.fromisoformat(_text(value)[:10]) if value else None
    except ValueError:
        return None


def _money(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and amount > 0 else None


def _timestamp(value: object) -> datetime | None:
    """Salesforce's ``2026-03-16T08:00:00.000+0000`` as an aware datetime."""
    text = _text(value)
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None


def _unwritten_outcomes(session: Session, source: str, limit: int = 500) -> list[models.Outcome]:
    """This source's outcomes not yet written to it, oldest first (like the store's
    ``outcomes_to_write_back``, but one source cannot starve another's notes)."""
    statement = (
        select(models.Outcome)
        .where(
            models.Outcome.written_back.is_(False),
            models.Outcome.case_key.startswith(f"{source}:", autoescape=True),
        )
        .order_by(models.Outcome.completed_at, models.Outcome.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def _disputed_invoice(session: Session, task_id: str) -> str | None:
    """The invoice id a *Disputed* outcome named (the first one), for the source's note."""
    key = session.scalars(
        select(InvoiceDispute.invoice_key)
        .where(InvoiceDispute.salesforce_task_id == task_id)
        .order_by(InvoiceDispute.invoice_key)
    ).first()
    return None if key is None else key.split(":", 1)[-1]


def _note_text(row: _TaskRow, disputed: Sequence[str]) -> str:
    """The note for the source: outcome, promise and the rep's comments (invoice tagged)."""
    if row.kind is not None:
        parts = [row.kind.value.replace("_", " ")]
    else:
        parts = [f"{OTHER_OUTCOME}: {row.disposition}" if row.disposition else OTHER_OUTCOME]
    if row.promise_date is not None and row.promise_amount is not None:
        parts.append(
            f"promise {row.account.currency} {row.promise_amount:,.2f} by "
            f"{row.promise_date.isoformat()}"
        )
    text = "; ".join(parts)
    if row.notes:
        text += f" - {row.notes}"
    if disputed:
        text += f" (invoice {', '.join(key.split(':', 1)[-1] for key in disputed)})"
    return text


def _dispute_reason(notes: str) -> str:
    return (notes or "disputed by the customer (reported by a rep)")[:255]


def _delta(after: CallCounts, before: CallCounts) -> CallCounts:
    return CallCounts(
        auth=after.auth - before.auth,
        read=after.read - before.read,
        write=after.write - before.write,
    )


__all__ = [
    "CASE_FIELDS",
    "OTHER_OUTCOME",
    "TASK_FIELDS",
    "WRITEBACK_KIND",
    "WRITEBACK_STREAM",
    "CollectionsReport",
    "ReadBackSource",
    "WritebackError",
    "WritebackReport",
    "customers_to_replan",
    "print_collections",
    "run_collections",
    "run_writeback",
    "with_read_back",
]
