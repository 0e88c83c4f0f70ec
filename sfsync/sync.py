"""One sync cycle: read → plan → re-check → apply → commit.

:func:`run_cycle` is the product's main job, used by ``sfsync run`` and (later) the Celery task:

1. **Recover** Tasks whose creation is in doubt (ledger rows left ``sent`` by a crash, or
   ``unknown`` after a dropped connection): one query by ``Collections_Key__c`` finds those that
   exist; the others are planned again. This is what makes a replay create no duplicate Task.
2. **Read** the source since the stored watermark (minus the overlap, plus the due-date window;
   the first cycle of a day re-plans every open customer, since aging and the cadence move with
   the calendar), streamed one customer at a time, and **plan** each customer against what the
   store says was written (links, ledger, invoice hashes). Unchanged hashes give empty plans:
   an idle cycle makes no Salesforce call at all.
3. **Re-check** the balance of the accounts about to get a new Task: a second, cheap read of the
   source for rows changed since the run started; an account touched meanwhile is planned again,
   so a Task is never created for a debt that was just paid.
4. **Match** accounts by ``Accounting_Id__c`` (only those not linked yet); unmatched customers are
   listed and skipped, or created when ``sync.create_missing_accounts`` is on.
5. **Apply** (:mod:`sfsync.apply`) in batches of 200 per call.
6. **Commit** in one transaction: links, invoice links, ledger transitions, dead letters,
   quarantined rows, the run record, the watermark and the **held list**. What a cycle leaves
   behind — a refused write, a Task in doubt, an unmatched customer, the customers a spent API
   budget kept it from writing — never holds the watermark for everyone (a customer who paid
   everything would then never be read again): the watermark moves, and those customers are
   listed in the store (stream ``<stream>:held``) with the read they were first left behind
   in, and read again **by key** on every cycle until they are written. Only a cycle that
   failed with an error keeps the watermark where it was.

Customers are processed in chunks (:data:`CHUNK_CUSTOMERS`) so a ledger of 10,000 accounts and
100,000 invoices never sits in memory as plans at once; the outcomes kept for the final commit
are small values.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfsync.apply import AccountWork, Applier, Outcomes, SessionFactory
from sfsync.bulkstore import mark_tasks_created, put_account_links
from sfsync.cases import plan_customer
from sfsync.clock import Clock
from sfsync.domain import (
    ISO_CURRENCIES,
    AccountKey,
    AccountPlan,
    AccountState,
    Customer,
    Promise,
    PromiseStatus,
    TaskAction,
)
from sfsync.errors import SfsyncError
from sfsync.logs import get_logger, run_context
from sfsync.mappers.compile import CompiledMappings
from sfsync.owners import OwnerResolver
from sfsync.policy import Policy
from sfsync.salesforce.ports import CallCounts, SalesforceGateway
from sfsync.settings import Settings
from sfsync.sources.base import (
    INVOICE_STREAM,
    CustomerRecords,
    InvoiceSource,
    SkippedRow,
    Watermark,
)
from sfsync.store import models
from sfsync.store.models import RunStatus, TaskState
from sfsync.store.repositories import (
    AccountLinkValues,
    advance_watermark,
    finish_run,
    get_watermark,
    list_dead_letters,
    list_quarantined,
    mark_closed,
    mark_created,
    mark_failed,
    mark_unknown,
    put_invoice_links,
    put_watermark_cursor,
    quarantine_row,
    record_dead_letter,
    release_quarantined,
    replan_task,
    resolve_dead_letters_for,
    start_run,
    unknown_outcomes,
)

_log = get_logger(__name__)

#: Customers planned and applied together: big enough that batches of 200 stay full, small
#: enough that a chunk's plans are a few megabytes.
CHUNK_CUSTOMERS = 2_000
#: ``on_progress`` hears at least this often (customers planned), within a chunk too.
PROGRESS_EVERY = 200
#: Run kind recorded in ``sync_runs``.
CYCLE_KIND = "cycle"
#: Status of a run that stopped writing because the API budget reached its reserve.
STOPPED_BUDGET = RunStatus.STOPPED_BUDGET.value
#: Suffix of the watermark stream whose cursor lists the customers a cycle left behind.
HELD_SUFFIX = ":held"
#: Row key prefix of the quarantine entry that lists an unmatched customer.
UNMATCHED_PREFIX = "account:"
_STORE_IN_CHUNK = 5_000


@dataclass(frozen=True, slots=True)
class HeldCustomer:
    """A customer a cycle left behind: its name (to plan it if the source no longer yields it)
    and the read it was first left behind in (``None``: the first read ever)."""

    name: str
    since: Watermark | None


class SetupCalls:
    """Salesforce calls the process spent getting ready (login, describe) before its first run.

    They come out of the same daily allowance, so the first cycle that commits adds them to its
    reported count (run record, ``sync_run_finished``, summary); later cycles add nothing."""

    def __init__(self, counts: CallCounts | None = None) -> None:
        self._pending = counts

    def take(self) -> CallCounts:
        """The setup calls not reported yet (zero after the first call)."""
        counts, self._pending = self._pending, None
        return counts or CallCounts()


@dataclass(frozen=True)
class CycleDeps:
    """Everything a cycle talks to: ports and configuration, built once by the caller."""

    source: InvoiceSource
    gateway: SalesforceGateway
    sessions: SessionFactory
    mappings: CompiledMappings
    policy: Policy
    clock: Clock
    settings: Settings
    #: What getting ready cost (``runner.open_cycle`` sets it); reported by the first cycle.
    setup_calls: SetupCalls = field(default_factory=SetupCalls)


@dataclass
class CycleReport:
    """What one cycle did: the summary table, the canonical log line and the run record."""

    run_id: int
    source: str
    status: str
    counts: dict[str, int]
    calls: CallCounts
    duration_seconds: float
    unmatched: tuple[str, ...] = ()
    watermark_advanced: bool = False
    error: str | None = None
    #: Customers left behind (refused write, Task in doubt, unmatched, budget): the next
    #: cycle reads them again by key.
    held: tuple[str, ...] = ()

    @property
    def settled(self) -> bool:
        """Everything read was written: the watermark moved and nobody is left behind."""
        return self.watermark_advanced and not self.held

    @property
    def writes(self) -> int:
        """Salesforce write requests this cycle sent."""
        return self.calls.write


#: Called after each planned batch (at most PROGRESS_EVERY customers) with the customers
#: read and planned so far in the run.
ProgressCallback = Callable[[int], None]


class CyclePart(Protocol):
    """A slice of the customers (a shard in distributed mode) with its own watermark stream."""

    @property
    def stream(self) -> str:
        """The watermark stream this part reads from and advances."""
        ...

    def includes(self, customer_id: str) -> bool:
        """Whether this part owns ``customer_id``."""
        ...


def run_cycle(
    deps: CycleDeps,
    *,
    full: bool = False,
    part: CyclePart | None = None,
    on_progress: ProgressCallback | None = None,
    on_finished: Callable[[CycleReport], None] | None = None,
) -> CycleReport:
    """Run one cycle (see the module docstring); ``full`` re-plans every open customer, as the
    first cycle of each day does anyway.

    ``on_finished`` gets the report (even of a failed cycle, before the error is re-raised)
    instead of the cycle logging ``sync_run_finished`` itself: a caller whose run goes on after
    the cycle (the collections job) logs the one canonical line with the whole run's calls
    (:func:`log_run_finished`); the cycle's own figures then go to a debug ``cycle_finished``.

    ``part`` limits the cycle to the customers it includes (one shard's writer), reading and
    advancing its own watermark stream and recovering only its own Tasks in doubt.

    Returns the report; a failure other than a spent budget is recorded on the run and
    re-raised after what was applied is committed.
    """
    started = deps.clock.now()
    tick = time.perf_counter()
    calls_before = deps.gateway.calls
    source = deps.source.name
    with deps.sessions() as session:
        run = start_run(session, kind=CYCLE_KIND, source=source, started_at=started)
        if run is None:  # pragma: no cover - only scheduled runs carry a key
            raise SfsyncError("the run could not be recorded")
        run_id = run.id
        session.commit()
    with run_context(run_id=str(run_id), source=source):
        cycle = _Cycle(deps, run_id, started, part)
        error: BaseException | None = None
        try:
            cycle.run(full=full, on_progress=on_progress)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then re-raised below
            error = exc
        report = cycle.commit(calls_before, time.perf_counter() - tick, error)
        if on_finished is None:
            log_run_finished(report)
        else:
            _log.debug("cycle_finished", **_finished_fields(report))
            on_finished(report)
        if error is not None:
            raise error
        return report


@dataclass(frozen=True, slots=True)
class _ChunkProgress:
    """Tells ``on_progress`` the customers planned so far, one planned batch at a time, so a
    long run's progress bar moves at least every :data:`PROGRESS_EVERY` customers rather than
    once per :data:`CHUNK_CUSTOMERS` chunk."""

    callback: ProgressCallback | None
    before: int

    def reached(self, in_chunk: int) -> None:
        if self.callback is not None:
            self.callback(self.before + in_chunk)


class _Cycle:
    """The state of one running cycle."""

    def __init__(
        self, deps: CycleDeps, run_id: int, started: datetime, part: CyclePart | None
    ) -> None:
        self.deps = deps
        self.part = part
        self.stream = INVOICE_STREAM if part is None else part.stream
        self.run_id = run_id
        self.started = started
        self.as_of = started.date()
        self.applier = Applier(
            deps.gateway,
            deps.mappings,
            deps.sessions,
            deps.clock.now,
            batch_size=deps.settings.salesforce.batch_size,
            owners=OwnerResolver(
                deps.gateway,
                task_queue_fallback=deps.policy.owners.task_queue_fallback,
                rules=deps.policy.owner_rules,
                case_external_id=deps.mappings.case.external_id,
            ),
        )
        self.counts: dict[str, int] = defaultdict(int)
        self.quarantine: dict[str, SkippedRow] = {}
        self.unmatched: list[str] = []
        self.matched: list[str] = []
        self.watermark: Watermark | None = None
        self.open_letters: set[tuple[str, str]] = set()
        self.held_rows: set[str] = set()
        self.fixed_rows: set[str] = set()
        #: The read this cycle started from, and the customers earlier cycles left behind.
        self.since: Watermark | None = None
        self.held_before: dict[str, HeldCustomer] = {}
        #: Customers this cycle leaves behind (refused, in doubt, unmatched or not reached),
        #: with their names.
        self.left_behind: dict[str, str] = {}
        self.names: dict[str, str] = {}

    # --- the cycle ------------------------------------------------------------------------------

    def run(self, *, full: bool, on_progress: ProgressCallback | None) -> None:
        deps = self.deps
        self._recover_tasks()
        with deps.sessions() as session:
            stored = get_watermark(session, deps.source.name, self.stream)
            since = (
                None if stored is None else Watermark.from_stored(stored.value_at, stored.cursor)
            )
            self.open_letters = {
                (letter.sobject, letter.record_key) for letter in list_dead_letters(session)
            }
            self.held_rows = {row.row_key for row in list_quarantined(session, deps.source.name)}
            held = get_watermark(session, deps.source.name, self.stream + HELD_SUFFIX)
            self.held_before = _held_from_cursor(None if held is None else held.cursor)
        self.since = since
        # Customers listed as unmatched before held lists existed are read again too.
        for key in self.held_rows:
            if key.startswith(UNMATCHED_PREFIX):
                customer = key.removeprefix(UNMATCHED_PREFIX)
                self.held_before.setdefault(customer, HeldCustomer(customer, None))
        overlap = timedelta(seconds=deps.settings.sync.overlap_seconds)
        lookahead = _reminder_lookahead(deps.policy)
        batch = deps.source.read_changes(since, self.as_of, overlap, lookahead=lookahead)
        customers, self.watermark, orphans = batch.customers, batch.watermark, batch.orphans
        # The first cycle of a day re-plans every open customer: aging, days past due and the
        # next cadence step move with the calendar, not only when the ledger changes.
        if since is not None and (full or since.as_of < self.as_of):
            self.counts["full_read"] = 1
            customers = _union(customers, deps.source.iter_customers(self.as_of))
        customers = _union(customers, self._read_held(overlap, lookahead))
        if self.part is None:
            self._set_aside(orphans)  # rows of no customer: the whole-source run keeps them
        else:
            customers = (c for c in customers if self.part.includes(c.customer.id))
        done = 0
        for chunk in _chunked(customers, CHUNK_CUSTOMERS):
            self._process(chunk, lookahead, _ChunkProgress(on_progress, done))
            done += len(chunk)
            if self.applier.stopped_budget:
                # The rest waits for the budget: listed by key, so the watermark can move.
                for records in itertools.chain(chunk, customers):
                    self.left_behind[records.customer.id] = records.customer.name
                break

    def _read_held(self, overlap: timedelta, lookahead: timedelta) -> Iterator[CustomerRecords]:
        """The customers earlier cycles left behind, read again by key (after the main read).

        A customer whose write failed may have nothing open any more (its Case close was
        refused, or it paid meanwhile), so the changes since the oldest read it was left behind
        in are read for it first, then the open customers. One the source yields in neither has
        nothing open at all: it is planned with no rows, as the planner does for any account
        with an open Case and no rows today, so its Case still closes.
        """
        wanted = set(self.held_before)
        if self.part is not None:
            wanted = {customer for customer in wanted if self.part.includes(customer)}
        if not wanted:
            return
        self.counts["accounts_held"] = len(wanted)
        windows = [held.since for c, held in self.held_before.items() if c in wanted]
        oldest = min(
            (since for since in windows if since is not None), key=_read_order, default=None
        )
        if oldest is not None:
            batch = self.deps.source.read_changes(oldest, self.as_of, overlap, lookahead=lookahead)
            yield from _taking(batch.customers, wanted)
        if wanted:
            yield from _taking(self.deps.source.iter_customers(self.as_of), wanted)
        for customer in sorted(wanted):
            yield CustomerRecords(Customer(customer, self.held_before[customer].name))

    def _process(
        self, chunk: list[CustomerRecords], lookahead: timedelta, progress: _ChunkProgress
    ) -> None:
        deps = self.deps
        source = deps.source.name
        self.counts["accounts_read"] += len(chunk)
        with deps.sessions() as session:
            view = _StoreView.load(session, source, chunk)
        plans: list[AccountPlan] = []
        for start in range(0, len(chunk), PROGRESS_EVERY):
            batch = chunk[start : start + PROGRESS_EVERY]
            plans.extend(self._plan(batch, view))
            progress.reached(start + len(batch))
        if any(_creates_task(plan) for plan in plans):
            plans = self._recheck(plans, view, lookahead)
        plans = [plan for plan in plans if not plan.is_empty]
        self.counts["accounts_planned"] += len(plans)
        if not plans:
            return
        accounts = self._match(plans, view)
        owners = {key: plan.account.customer_id for plan in plans for key in _plan_keys(plan)}
        self.names.update(view.names)
        before = self._failure_marks()
        work = [
            AccountWork(
                plan=plan,
                link=view.link_values(plan.account, accounts[plan.account.customer_id]),
                account_id=accounts[plan.account.customer_id],
                task_ids=view.task_ids(plan.account),
                task_states=view.task_states,
            )
            for plan in plans
            if plan.account.customer_id in accounts
        ]
        self.applier.apply(work)
        for key in self._failures_since(before):
            customer = owners.get(key) or _customer_of(key)
            self.left_behind[customer] = self.names.get(customer, customer)

    def _failure_marks(self) -> tuple[int, int, int]:
        outcomes = self.applier.outcomes
        return (
            len(outcomes.dead_letters),
            len(outcomes.tasks_failed),
            len(outcomes.tasks_unknown),
        )

    def _failures_since(self, marks: tuple[int, int, int]) -> list[str]:
        """Keys of the writes refused or left in doubt since ``marks`` (this chunk's)."""
        outcomes = self.applier.outcomes
        letters, failed, unknown = marks
        return [
            *(letter.record_key for letter in outcomes.dead_letters[letters:]),
            *(key for key, _ in outcomes.tasks_failed[failed:]),
            *outcomes.tasks_unknown[unknown:],
        ]

    def _plan(self, chunk: Sequence[CustomerRecords], view: _StoreView) -> list[AccountPlan]:
        plans: list[AccountPlan] = []
        source = self.deps.source.name
        for records in chunk:
            self._set_aside(records.skipped)
            if self.held_rows:  # rows fixed at the source leave the quarantine
                ids = [i.id for i in records.invoices] + [p.id for p in records.payments]
                self.fixed_rows.update(
                    key for key in (f"{source}:{ident}" for ident in ids) if key in self.held_rows
                )
            planned = plan_customer(
                self.deps.source.name,
                records.customer,
                records.invoices,
                records.payments,
                states=view.states_for(records),
                policy=self.deps.policy,
                as_of=self.as_of,
            )
            self._set_aside(SkippedRow(skip.key, skip.reason, {}) for skip in planned.skipped)
            plans.extend(planned.plans)
        return plans

    def _set_aside(self, rows: Iterable[SkippedRow]) -> None:
        """Keep bad rows for quarantine (a row read twice in one run is kept once)."""
        for row in rows:
            self.quarantine.setdefault(row.key, row)

    def _recheck(
        self, plans: list[AccountPlan], view: _StoreView, lookahead: timedelta
    ) -> list[AccountPlan]:
        """Plan again the accounts about to get a Task whose customer changed since the read."""
        watermark = self.watermark
        assert watermark is not None  # noqa: S101 - set by run() before any chunk
        # Rows changed since this run started: what the first read may not have seen.
        latest = self.deps.source.read_changes(
            Watermark(self.started, self.as_of, watermark.snapshot), self.as_of, timedelta(0),
            lookahead=lookahead,
        )  # fmt: skip
        wanted = {plan.account.customer_id for plan in plans if _creates_task(plan)}
        fresh = {
            records.customer.id: records
            for records in latest.customers
            if records.customer.id in wanted
        }
        if not fresh:
            return plans
        self.counts["accounts_rechecked"] += len(fresh)
        replanned = {plan.account: plan for plan in self._plan(list(fresh.values()), view)}
        kept = [plan for plan in plans if plan.account.customer_id not in fresh]
        return kept + list(replanned.values())

    def _match(self, plans: Sequence[AccountPlan], view: _StoreView) -> dict[str, str]:
        """customer id → Salesforce Account id, for every customer that has one (or gets one)."""
        found: dict[str, str] = {}
        missing: dict[str, str] = {}
        for plan in plans:
            customer = plan.account.customer_id
            known = view.account_id(plan.account)
            if known:
                found[customer] = known
            else:
                missing[customer] = view.names.get(customer, customer)
        if not missing:
            return found
        mapping = self.deps.mappings.account
        rows = list(
            self.deps.gateway.query_in(
                mapping.sobject,
                ["Id", mapping.external_id, "OwnerId", "Owner.IsActive"],
                mapping.external_id,
                list(missing),
            )
        )
        # The owners come with the match: an account_owner rule then costs no second query.
        self.applier.owners.remember_account_owners(rows)
        by_key = {str(row[mapping.external_id]).lower(): str(row["Id"]) for row in rows}
        unmatched: list[str] = []
        for customer in missing:
            account_id = by_key.get(customer.lower())
            if account_id is None:
                unmatched.append(customer)
            else:
                found[customer] = account_id
                self.matched.append(customer)
        if unmatched and self.deps.settings.sync.create_missing_accounts:
            found.update(self._create_accounts({c: missing[c] for c in unmatched}))
            unmatched = [customer for customer in unmatched if customer not in found]
        if unmatched:
            self.unmatched.extend(unmatched)
            self.left_behind.update({c: view.names.get(c, c) for c in unmatched})
            _log.warning(
                "accounts_unmatched",
                count=len(unmatched),
                customers=unmatched[:20],
                field=f"{mapping.sobject}.{mapping.external_id}",
            )
        return found

    def _create_accounts(self, names: Mapping[str, str]) -> dict[str, str]:
        """Upsert an Account per unmatched customer (keyed, so a replay creates no duplicate)."""
        mapping = self.deps.mappings.account
        customers = list(names)
        records = [{mapping.external_id: c, "Name": names[c][:255] or c} for c in customers]
        results = self.deps.gateway.upsert(
            mapping.sobject, records, external_id_field=mapping.external_id
        )
        created: dict[str, str] = {}
        for customer, result in zip(customers, results, strict=True):
            if result.ok and result.id:
                created[customer] = result.id
                self.matched.append(customer)
                self.counts["accounts_created"] += 1
        return created

    def _recover_tasks(self) -> None:
        """Settle Tasks whose creation is in doubt before anything is sent (ledger protocol)."""
        deps = self.deps
        with deps.sessions() as session:
            doubtful = unknown_outcomes(session)
            if self.part is not None:
                linked = _linked_readings(session, [entry.task_key for entry in doubtful])
                doubtful = [
                    entry
                    for entry in doubtful
                    if self.part.includes(_customer_of(entry.task_key, linked))
                ]
            if not doubtful:
                return
            keys = [entry.task_key for entry in doubtful]
            external = deps.mappings.task.external_id
            rows = deps.gateway.query_in(
                deps.mappings.task.sobject, ["Id", external], external, keys
            )
            existing = {str(row[external]): str(row["Id"]) for row in rows}
            now = deps.clock.now()
            for entry in doubtful:
                task_id = existing.get(entry.task_key)
                if task_id is not None:
                    mark_created(session, entry.task_key, task_id, at=now)
                    continue
                if entry.state is TaskState.SENT:
                    mark_unknown(session, entry.task_key, at=now)
                replan_task(session, entry.task_key, at=now)
            session.commit()
            _log.info(
                "tasks_recovered", found=len(existing), replanned=len(doubtful) - len(existing)
            )

    # --- the final transaction ------------------------------------------------------------------

    def commit(
        self, calls_before: CallCounts, duration: float, error: BaseException | None
    ) -> CycleReport:
        deps = self.deps
        outcomes = self.applier.outcomes
        now = deps.clock.now()
        counts = dict(self.counts)
        counts.update(outcomes.counts)
        counts["unmatched"] = len(self.unmatched)
        counts["quarantined"] = len(self.quarantine)
        # Only an error holds the watermark: what is left behind is listed and read by key.
        blocked = error is not None or self.watermark is None
        held = self._held_after(error)
        counts["held"] = len(held)
        if error is not None:
            status = RunStatus.FAILED.value
        elif self.applier.stopped_budget:
            status = STOPPED_BUDGET
            _log.warning("sync_writes_stopped", reason="api_budget_reserve_reached")
        else:
            status = RunStatus.SUCCEEDED.value
        with deps.sessions() as session:
            self._write_outcomes(session, outcomes, now)
            if not blocked and self.watermark is not None:
                self._advance(session, self.watermark, now)
            if held or self.held_before:
                put_watermark_cursor(
                    session,
                    source=deps.source.name,
                    stream=self.stream + HELD_SUFFIX,
                    cursor=_held_cursor(held),
                    at=now,
                    run_id=self.run_id,
                )
            calls = _plus(_delta(deps.gateway.calls, calls_before), deps.setup_calls.take())
            finish_run(
                session,
                self.run_id,
                status=RunStatus(status),
                finished_at=now,
                counts={**counts, "reads": calls.read, "writes": calls.write},
                api_calls=calls.total,
                error=_error_text(error, status),
            )
            session.commit()
        if not blocked and self.watermark is not None:
            deps.source.confirm_read(self.watermark)
        return CycleReport(
            run_id=self.run_id,
            source=deps.source.name,
            status=status,
            counts=counts,
            calls=calls,
            duration_seconds=duration,
            unmatched=tuple(self.unmatched),
            watermark_advanced=not blocked,
            error=_error_text(error, status),
            held=tuple(sorted(held)),
        )

    def _held_after(self, error: BaseException | None) -> dict[str, HeldCustomer]:
        """The customers the next cycle reads again by key, each with the oldest read it was
        left behind in (the changes since then are read for it: its Case may have to close)."""
        behind = dict(self.left_behind)
        if error is not None:  # nothing is known to be written: keep every one listed
            for customer, held in self.held_before.items():
                behind.setdefault(customer, held.name)
        held_now: dict[str, HeldCustomer] = {}
        for customer in sorted(behind):
            if not customer:
                continue
            before = self.held_before.get(customer)
            since = before.since if before is not None and before.since is not None else None
            held_now[customer] = HeldCustomer(behind[customer], since or self.since)
        return held_now

    def _write_outcomes(self, session: Session, outcomes: Outcomes, now: datetime) -> None:
        source = self.deps.source.name
        put_account_links(session, list(outcomes.links.values()), at=now)
        for start in range(0, len(outcomes.invoice_links), _STORE_IN_CHUNK):
            put_invoice_links(
                session, outcomes.invoice_links[start : start + _STORE_IN_CHUNK], at=now
            )
        mark_tasks_created(session, outcomes.tasks_created, at=now)
        for key, reason in outcomes.tasks_failed:
            mark_failed(session, key, reason, at=now)
        for key in outcomes.tasks_unknown:
            mark_unknown(session, key, at=now)
        for key in outcomes.tasks_closed:
            mark_closed(session, key, at=now)
        for letter in outcomes.dead_letters:
            record_dead_letter(
                session,
                sobject=letter.sobject,
                record_key=letter.record_key,
                operation=letter.operation,
                payload=letter.payload,
                error_code=letter.error_code,
                message=letter.message,
                at=now,
                run_id=self.run_id,
            )
        for sobject, key in outcomes.succeeded:
            if (sobject, key) in self.open_letters:
                resolve_dead_letters_for(session, sobject=sobject, record_key=key, at=now)
        for row in self.quarantine.values():
            quarantine_row(
                session,
                source=source,
                row_key=row.key,
                reason=row.reason,
                raw=dict(row.raw),
                at=now,
                run_id=self.run_id,
            )
        field_name = (
            f"{self.deps.mappings.account.sobject}.{self.deps.mappings.account.external_id}"
        )
        for customer in self.unmatched:
            quarantine_row(
                session,
                source=source,
                row_key=UNMATCHED_PREFIX + customer,
                reason=f"no Salesforce Account has {field_name} = {customer!r}; create it or "
                "set sync.create_missing_accounts",
                raw={"customer_id": customer},
                at=now,
                run_id=self.run_id,
            )
        for customer in self.matched:
            release_quarantined(session, source=source, row_key=UNMATCHED_PREFIX + customer)
        for key in self.fixed_rows - set(self.quarantine):
            release_quarantined(session, source=source, row_key=key)

    def _advance(self, session: Session, watermark: Watermark, now: datetime) -> None:
        source = self.deps.source.name
        put_watermark_cursor(
            session,
            source=source,
            stream=self.stream,
            cursor=watermark.cursor,
            at=now,
            run_id=self.run_id,
        )
        if watermark.updated_at is not None:
            advance_watermark(
                session,
                source=source,
                stream=self.stream,
                value=watermark.updated_at,
                run_started_at=self.started,
                at=now,
                run_id=self.run_id,
            )


# --------------------------------------------------------------------------------------------
# What the store knows about a chunk of customers


@dataclass
class _StoreView:
    """Links, ledger rows, invoice hashes and promises of one chunk of customers."""

    source: str
    links: dict[tuple[str, str], models.AccountLink]
    tasks: dict[str, list[models.TaskLedgerEntry]]
    invoice_hashes: dict[str, str]
    promises: dict[str, Promise]
    names: dict[str, str]
    task_states: dict[str, TaskState] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, source: str, chunk: Sequence[CustomerRecords]) -> _StoreView:
        customers = [records.customer.id for records in chunk]
        links: dict[tuple[str, str], models.AccountLink] = {}
        for part in _parts(customers):
            statement = select(models.AccountLink).where(
                models.AccountLink.source == source, models.AccountLink.customer_id.in_(part)
            )
            for link in session.scalars(statement):
                links[(link.customer_id, link.currency)] = link
        ledger_keys = {link.case_key for link in links.values() if link.case_key}
        for records in chunk:
            currencies = {invoice.currency for invoice in records.invoices}
            currencies |= {cur for (cust, cur) in links if cust == records.customer.id}
            ledger_keys |= {
                AccountKey(source, records.customer.id, currency).text for currency in currencies
            }
        tasks: dict[str, list[models.TaskLedgerEntry]] = defaultdict(list)
        for part in _parts(sorted(ledger_keys)):
            by_case = select(models.TaskLedgerEntry).where(
                models.TaskLedgerEntry.case_key.in_(part)
            )
            for entry in session.scalars(by_case):
                tasks[entry.case_key].append(entry)
        invoice_keys = [f"{source}:{i.id}" for records in chunk for i in records.invoices]
        hashes: dict[str, str] = {}
        for part in _parts(invoice_keys):
            written = select(models.InvoiceLink.invoice_key, models.InvoiceLink.content_hash).where(
                models.InvoiceLink.invoice_key.in_(part)
            )
            hashes.update((key, digest) for key, digest in session.execute(written) if digest)
        promises = _load_promises(session, [k for k in ledger_keys if k])
        view = cls(
            source,
            links,
            dict(tasks),
            hashes,
            promises,
            {records.customer.id: records.customer.name for records in chunk},
        )
        view.task_states = {
            entry.task_key: entry.state for entries in tasks.values() for entry in entries
        }
        return view

    def states_for(self, records: CustomerRecords) -> dict[str, AccountState]:
        """currency → state for one customer (currencies never written are absent: new)."""
        customer = records.customer.id
        states: dict[str, AccountState] = {}
        currencies = {cur for (cust, cur) in self.links if cust == customer}
        currencies |= {invoice.currency for invoice in records.invoices}
        for currency in currencies:
            key = AccountKey(self.source, customer, currency)
            link = self.links.get((customer, currency))
            entries = self._entries(key, link)
            made = frozenset(
                e.task_key for e in entries if e.state in (TaskState.CREATED, TaskState.CLOSED)
            )
            still_open = frozenset(e.task_key for e in entries if e.state is TaskState.CREATED)
            if link is None and not made:
                continue
            case_key = (link.case_key or "") if link is not None else ""
            states[currency] = AccountState(
                episode=(link.episode if link is not None and link.case_key else 0),
                case_open=bool(link is not None and link.case_open),
                case_key=case_key,
                case_hash=(link.case_hash or "") if link is not None else "",
                invoice_hashes=self.invoice_hashes,
                task_keys=made,
                open_task_keys=still_open,
                promise=self.promises.get(case_key) if case_key else None,
            )
        return states

    def _entries(
        self, key: AccountKey, link: models.AccountLink | None
    ) -> list[models.TaskLedgerEntry]:
        entries = list(self.tasks.get(key.text, ()))
        if link is not None and link.case_key:
            entries.extend(self.tasks.get(link.case_key, ()))
        return entries

    def task_ids(self, key: AccountKey) -> dict[str, str]:
        """Salesforce ids of the account's created Tasks, by key."""
        link = self.links.get((key.customer_id, key.currency))
        return {
            entry.task_key: entry.salesforce_id
            for entry in self._entries(key, link)
            if entry.salesforce_id and entry.state is TaskState.CREATED
        }

    def account_id(self, key: AccountKey) -> str | None:
        """The Account id stored for the customer (any of its currencies)."""
        for (customer, _), link in self.links.items():
            if customer == key.customer_id and link.salesforce_account_id:
                return link.salesforce_account_id
        return None

    def link_values(self, key: AccountKey, account_id: str) -> AccountLinkValues:
        """The stored link as values (a fresh one before the account's first Case)."""
        link = self.links.get((key.customer_id, key.currency))
        if link is None:
            return AccountLinkValues(
                source=key.source,
                customer_id=key.customer_id,
                currency=key.currency,
                salesforce_account_id=account_id,
                episode=0,
            )
        return AccountLinkValues(
            source=link.source,
            customer_id=link.customer_id,
            currency=link.currency,
            salesforce_account_id=account_id,
            episode=link.episode if link.case_key else 0,
            case_key=link.case_key,
            case_id=link.case_id,
            case_open=link.case_open,
            case_hash=link.case_hash,
        )


@dataclass(frozen=True)
class StoredAccounts:
    """What the store says was written for a chunk of customers, as a cycle plans with it."""

    #: customer id → currency → state (currencies never written are absent).
    states: dict[str, dict[str, AccountState]]
    #: customer id → the Salesforce Account id stored for it (linked customers only).
    account_ids: dict[str, str]


def load_stored_accounts(
    session: Session, source: str, chunk: Sequence[CustomerRecords]
) -> StoredAccounts:
    """The states and stored Account ids a cycle would plan ``chunk`` against (reads only).

    The same store view :func:`run_cycle` uses, exposed so ``sfsync plan`` previews exactly
    what a cycle would do instead of keeping a second copy of the state loading."""
    view = _StoreView.load(session, source, chunk)
    states = {records.customer.id: view.states_for(records) for records in chunk}
    account_ids: dict[str, str] = {}
    for records in chunk:
        key = AccountKey(source, records.customer.id, "")
        account_id = view.account_id(key)
        if account_id:
            account_ids[records.customer.id] = account_id
    return StoredAccounts(states, account_ids)


def _load_promises(session: Session, case_keys: Sequence[str]) -> dict[str, Promise]:
    """The promise in force per Case: the latest recorded one (read back by the writeback)."""
    found: dict[str, Promise] = {}
    for part in _parts(list(case_keys)):
        statement = (
            select(models.Promise)
            .where(models.Promise.case_key.in_(part))
            .order_by(models.Promise.created_at, models.Promise.id)
        )
        for row in session.scalars(statement):
            try:
                found[row.case_key] = Promise(
                    id=_promise_id(row.promise_key),
                    currency=row.currency,
                    amount=row.amount,
                    promised_date=row.promised_date,
                    made_on=row.created_at.date(),
                    status=PromiseStatus(row.status.value),
                )
            except ValueError:
                _log.warning("promise_unusable", promise_key=row.promise_key)
    return found


def _promise_id(promise_key: str) -> str:
    """The last part of a stored promise key: planning uses it inside a Task key."""
    return promise_key.rsplit(":", 1)[-1].strip()


# --------------------------------------------------------------------------------------------
# Helpers


def _held_cursor(held: Mapping[str, HeldCustomer]) -> str:
    """The held list as the text kept in ``watermarks.cursor``."""
    return json.dumps(
        {
            customer: {
                "name": entry.name,
                "since": None
                if entry.since is None
                else {
                    "value_at": None
                    if entry.since.updated_at is None
                    else entry.since.updated_at.isoformat(),
                    "cursor": entry.since.cursor,
                },
            }
            for customer, entry in held.items()
        },
        sort_keys=True,
    )


def _held_from_cursor(text: str | None) -> dict[str, HeldCustomer]:
    """The held list back from the store; a row that does not parse lists nobody."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    held: dict[str, HeldCustomer] = {}
    for customer, entry in data.items():
        values = entry if isinstance(entry, dict) else {}
        since = values.get("since")
        watermark: Watermark | None = None
        if isinstance(since, dict):
            value = since.get("value_at")
            try:
                moment = None if value is None else datetime.fromisoformat(str(value))
            except ValueError:
                moment = None
            watermark = Watermark.from_stored(moment, since.get("cursor"))
        held[str(customer)] = HeldCustomer(str(values.get("name") or customer), watermark)
    return held


def _read_order(watermark: Watermark) -> tuple[bool, datetime, object]:
    """Oldest read first: no timestamp at all, then by timestamp, then by planning date."""
    moment = watermark.updated_at or _EPOCH
    return (watermark.updated_at is not None, moment, watermark.as_of)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _taking(read: Iterable[CustomerRecords], wanted: set[str]) -> Iterator[CustomerRecords]:
    """The customers of ``read`` still ``wanted``, each once (found ones leave ``wanted``)."""
    for records in read:
        if records.customer.id in wanted:
            wanted.discard(records.customer.id)
            yield records


def _plan_keys(plan: AccountPlan) -> Iterator[str]:
    """Every key an account plan writes (the Case, its invoices and Tasks)."""
    if plan.case is not None:
        yield plan.case.key
    yield from (change.key for change in plan.invoices)
    yield from (task.key for task in plan.tasks)


def _key_readings(task_key: str) -> list[tuple[str, str, str]]:
    """Every way to read ``task_key`` as ``<source>:<customer>:<currency>:<rest>``, shortest
    customer first.

    Source names and currency codes never hold ``:``, but a customer id from an accounting
    system might, so the customer is whatever lies between the source and a currency code
    that is followed by the rest of the key.
    """
    parts = task_key.split(":")
    return [
        (parts[0], ":".join(parts[1:end]), parts[end])
        for end in range(2, len(parts) - 1)
        if parts[end] in ISO_CURRENCIES
    ]


def _linked_readings(session: Session, task_keys: Sequence[str]) -> set[tuple[str, str, str]]:
    """The (source, customer, currency) readings of ambiguous ``task_keys`` that the store has
    an account link for: the account the Task was planned for."""
    ambiguous = [r for key in task_keys if len(rs := _key_readings(key)) > 1 for r in rs]
    if not ambiguous:
        return set()
    found: set[tuple[str, str, str]] = set()
    for part in _parts(sorted({customer for _, customer, _ in ambiguous})):
        statement = select(
            models.AccountLink.source, models.AccountLink.customer_id, models.AccountLink.currency
        ).where(models.AccountLink.customer_id.in_(part))
        found.update((str(a), str(b), str(c)) for a, b, c in session.execute(statement))
    return found & set(ambiguous)


def _customer_of(task_key: str, linked: Iterable[tuple[str, str, str]] = ()) -> str:
    """The customer of a Task key (``<source>:<customer>:<currency>:...``).

    When a customer id holding ``:`` makes the key ambiguous, the reading with a stored account
    link (``linked``, from :func:`_linked_readings`) wins; otherwise the shortest reading.
    """
    readings = _key_readings(task_key)
    known = set(linked)
    chosen = next((r for r in readings if r in known), readings[0] if readings else None)
    return chosen[1] if chosen is not None else ""


def _creates_task(plan: AccountPlan) -> bool:
    return any(task.action is TaskAction.CREATE for task in plan.tasks)


def _reminder_lookahead(policy: Policy) -> timedelta:
    """How far ahead the source must look for invoices coming due (pre-due reminders)."""
    earliest = min((step.offset_days for step in policy.cadence.reminder_steps), default=0)
    return timedelta(days=max(0, -earliest))


def _union(
    changed: Iterable[CustomerRecords], every: Iterable[CustomerRecords]
) -> Iterator[CustomerRecords]:
    """The changed customers (some may have nothing open left), then every other open one."""
    seen: set[str] = set()
    for records in changed:
        seen.add(records.customer.id)
        yield records
    for records in every:
        if records.customer.id not in seen:
            yield records


def _chunked(items: Iterable[CustomerRecords], size: int) -> Iterator[list[CustomerRecords]]:
    chunk: list[CustomerRecords] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _parts(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _STORE_IN_CHUNK):
        yield values[start : start + _STORE_IN_CHUNK]


def _plus(first: CallCounts, second: CallCounts) -> CallCounts:
    return CallCounts(
        auth=first.auth + second.auth,
        read=first.read + second.read,
        write=first.write + second.write,
    )


def _delta(after: CallCounts, before: CallCounts) -> CallCounts:
    return CallCounts(
        auth=after.auth - before.auth,
        read=after.read - before.read,
        write=after.write - before.write,
    )


def _error_text(error: BaseException | None, status: str) -> str | None:
    if error is not None:
        return f"{type(error).__name__}: {error}"
    if status == STOPPED_BUDGET:
        return "stopped_budget: the Salesforce API budget reached its reserve; writes stopped"
    return None


def log_run_finished(
    report: CycleReport, *, other_calls: Mapping[str, CallCounts] | None = None
) -> None:
    """The one canonical ``sync_run_finished`` line per run.

    ``other_calls`` are the Salesforce calls the run spent outside the cycle, by phase (the
    writeback, the dispute Cases): added to ``api_reads|writes|auth`` so the line carries the
    whole run's calls (``api_calls`` their sum), each phase's total kept as ``api_calls_<phase>``.
    """
    fields = _finished_fields(report)
    if other_calls:
        total = report.calls
        fields["api_calls_cycle"] = report.calls.total
        for phase, calls in other_calls.items():
            fields[f"api_calls_{phase}"] = calls.total
            total = _plus(total, calls)
        fields.update(api_reads=total.read, api_writes=total.write, api_auth=total.auth)
    fields["api_calls"] = fields["api_reads"] + fields["api_writes"] + fields["api_auth"]
    _log.info("sync_run_finished", **fields)


def _finished_fields(report: CycleReport) -> dict[str, Any]:
    """The cycle's fields of the canonical line."""
    counts = report.counts
    fields: dict[str, Any] = {
        "run_id": report.run_id,
        "source": report.source,
        "status": report.status,
        **{name: counts.get(name, 0) for name in SUMMARY_COUNTS},
        "api_reads": report.calls.read,
        "api_writes": report.calls.write,
        "api_auth": report.calls.auth,
        "duration_s": round(report.duration_seconds, 3),
        "watermark_advanced": report.watermark_advanced,
        "held": len(report.held),
    }
    if report.error:
        fields["error"] = report.error
    return fields


#: The counts of the summary table and the canonical log line, in display order.
SUMMARY_COUNTS = (
    "accounts_read",
    "accounts_planned",
    "cases_opened",
    "cases_updated",
    "cases_closed",
    "tasks_created",
    "tasks_closed",
    "invoices_upserted",
    "skipped",
    "dead_lettered",
    "unmatched",
    "quarantined",
)


__all__ = [
    "CHUNK_CUSTOMERS",
    "PROGRESS_EVERY",
    "STOPPED_BUDGET",
    "SUMMARY_COUNTS",
    "CycleDeps",
    "CyclePart",
    "CycleReport",
    "ProgressCallback",
    "log_run_finished",
    "run_cycle",
]
