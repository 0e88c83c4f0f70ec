"""What the tasks do, without Celery: claim a window, fan out shards, sync one shard, reconcile.

Each function takes its dependencies (store sessions, clock, a way to enqueue) so the same code
runs in a worker, in a test and in ``sfsync status``. The tasks in :mod:`sfsync.jobs.tasks` only
build those dependencies and call one function here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sfsync.clock import Clock
from sfsync.jobs.ledger import (
    TICK_KIND,
    DueWork,
    claim_run,
    claim_scheduled,
    claim_shard,
    due_work,
    finish_scheduled,
    latest_tick,
    mark_queued,
    queued_at,
    schedule_key,
    shard_key,
    shard_rows,
    supersede_ticks,
    window_start,
    window_text,
)
from sfsync.jobs.locks import exclusive
from sfsync.jobs.shards import Shard, shard_of
from sfsync.logs import get_logger
from sfsync.store.models import AccountLease, RunStatus
from sfsync.store.repositories import promises_due
from sfsync.sync import CycleDeps, CycleReport, run_cycle

_log = get_logger(__name__)

#: Sends one shard task for (window, shard).
EnqueueShard = Callable[[datetime, Shard], None]
#: Sends one cycle task for a window.
EnqueueCycle = Callable[[datetime], None]
#: The shard messages Redis holds (waiting or delivered unacknowledged) as
#: ``(window text, index, count)``; None when Redis cannot be read.
QueuedShards = Callable[[], "set[tuple[str, int, int]] | None"]
Sessions = sessionmaker[Session]
#: The job of a shard run sent by the cycle; ``promise_checks`` sends its own shard runs.
CYCLE_JOB = "cycle"
PROMISE_CHECKS_JOB = "promise_checks"
SHARD_JOBS = frozenset({CYCLE_JOB, PROMISE_CHECKS_JOB})


def start_cycle(
    sessions: Sessions,
    clock: Clock,
    *,
    source: str,
    interval_seconds: int,
    shards: int,
    enqueue: EnqueueShard,
    window: datetime | None = None,
) -> int:
    """Claim this window's cycle and send one task per shard; returns the shards sent.

    A window already claimed (a second beat, a duplicate delivery) sends nothing: 0.
    """
    now = clock.now()
    window = window or window_start(now, interval_seconds)
    with sessions() as session:
        run = claim_scheduled(
            session,
            kind=TICK_KIND,
            job="cycle",
            source=source,
            window=window,
            now=now,
            facts={"shards": shards, "queued": _queued_marks(range(shards), shards, now)},
        )
        if run is None:
            _log.info("cycle_already_claimed", window=window_text(window))
            return 0
        supersede_ticks(session, source=source, current=run, now=now)
    for index in range(shards):
        enqueue(window, Shard(index, shards))
    _log.info("cycle_dispatched", window=window_text(window), shards=shards, run_id=run.id)
    return shards


class ShardResult(StrEnum):
    """How a shard task ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALREADY_DONE = "already_done"
    BUSY = "busy"
    DROPPED = "dropped"


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    """A shard task's result: what happened and the shard's run row (if it ran)."""

    result: ShardResult
    run_id: int | None = None


def sync_shard(
    deps: CycleDeps,
    *,
    window: datetime,
    shard: Shard,
    holder: str,
    worker: str,
    lease_ttl: timedelta,
    configured_count: int | None = None,
    job: str = CYCLE_JOB,
) -> ShardOutcome:
    """Run the cycle for one shard, as its only writer.

    1. Take the shard's lease (:func:`sfsync.jobs.locks.exclusive`: the store lease held by
       the task id, so a task redelivered after its worker was killed takes it over at once,
       plus a PostgreSQL advisory lock, so no two executions ever overlap); ``BUSY`` if
       another holds it (the task retries later).
    2. Claim the shard's row for ``window`` (``ALREADY_DONE`` if it succeeded before).
    3. Run the cycle on the shard's customers, record the outcome, release the lease.
    """
    with exclusive(
        deps.sessions,
        keys=[shard.lease_key],
        holder=holder,
        now=deps.clock.now(),
        ttl=lease_ttl,
    ) as held:
        if not held:
            _log.info("shard_busy", shard=shard.label, window=window_text(window))
            return ShardOutcome(ShardResult.BUSY)
        with deps.sessions() as session:
            conflict = writer_conflict(
                session,
                source=deps.source.name,
                shard=shard,
                now=deps.clock.now(),
                configured_count=configured_count,
            )
        if conflict is not None:
            return ShardOutcome(conflict)
        return _run_shard(deps, window=window, shard=shard, holder=holder, worker=worker, job=job)


def current_shard_count(session: Session, source: str, configured: int | None) -> int | None:
    """The shard count of the latest dispatched cycle (``configured`` before any cycle)."""
    tick = latest_tick(session, source)
    return int(tick.counts.get("shards", 0)) if tick is not None else configured


def promise_shards(
    session: Session, *, source: str, today: date, grace_days: int, count: int
) -> list[Shard]:
    """The shards of the customers whose pending promise is due for judgement (its date plus
    ``grace_days`` has passed): the same test the shard's read-back uses to judge it."""
    due_by = today - timedelta(days=grace_days + 1)
    prefix = f"{source}:"
    customers = {
        promise.customer_id
        for promise in promises_due(session, due_by)
        if promise.case_key.startswith(prefix)
    }
    return [Shard(index, count) for index in sorted({shard_of(c, count) for c in customers})]


def writer_conflict(
    session: Session,
    *,
    source: str,
    shard: Shard,
    now: datetime,
    configured_count: int | None = None,
) -> ShardResult | None:
    """Why ``shard`` (whose lease the caller holds) must not write now; None when it may.

    A shard lease names its count (``shard:<n>/<N>``), so two layouts (a rolling change of
    ``jobs.shards``) would not exclude each other although their shards share accounts:

    * ``DROPPED``: ``shard.count`` is not the current count, the one the latest cycle recorded
      when it was dispatched (or, before any cycle, ``configured_count``). The current layout's
      shards cover its customers.
    * ``BUSY``: a live lease of another count is held (a shard of the old layout still runs):
      wait for it. Both sides check *after* taking their own lease, so at least one sees the
      other.
    """
    current = current_shard_count(session, source, configured_count)
    if current is not None and current != shard.count:
        _log.warning("shard_count_changed", shard=shard.label, current=current)
        return ShardResult.DROPPED
    others = session.scalars(
        select(AccountLease.lease_key).where(
            AccountLease.lease_key.startswith("shard:"),
            AccountLease.expires_at > now,
        )
    ).all()
    busy = [key for key in others if not key.endswith(f"/{shard.count}")]
    if busy:
        _log.info("shard_busy_other_count", shard=shard.label, held=busy[:5])
        return ShardResult.BUSY
    return None


def _run_shard(
    deps: CycleDeps, *, window: datetime, shard: Shard, holder: str, worker: str, job: str
) -> ShardOutcome:
    """Steps 2 and 3 of :func:`sync_shard`, under the shard's lease."""
    with deps.sessions() as session:
        claim = claim_shard(
            session,
            source=deps.source.name,
            window=window,
            shard=shard,
            now=deps.clock.now(),
            job=job,
        )
    if claim is None:
        _log.info("shard_already_done", shard=shard.label, window=window_text(window))
        return ShardOutcome(ShardResult.ALREADY_DONE)
    facts = {"shard": shard.index, "shards": shard.count, "worker": worker, "holder": holder}
    before = deps.gateway.calls
    try:
        report, disputes = _collections_cycle(deps, shard)
    except Exception as error:
        with deps.sessions() as session:
            finish_scheduled(
                session,
                claim.run_id,
                succeeded=False,
                now=deps.clock.now(),
                counts=facts,
                error=f"{type(error).__name__}: {error}",
            )
        raise
    succeeded = report.status == RunStatus.SUCCEEDED.value
    after = deps.gateway.calls
    usage = deps.gateway.usage
    if usage is not None:  # what ``sfsync status`` shows as the budget left
        facts = {**facts, "api_used": usage.used, "api_max": usage.allocation}
    with deps.sessions() as session:
        finish_scheduled(
            session,
            claim.run_id,
            succeeded=succeeded,
            now=deps.clock.now(),
            counts={
                **report.counts,
                **{f"dispute_cases_{action}": n for action, n in disputes.items()},
                **facts,
                "api_reads": after.read - before.read,
                "api_writes": after.write - before.write,
                "cycle_run_id": report.run_id,
            },
            api_calls=after.total - before.total,
            error=report.error,
        )
    return ShardOutcome(ShardResult.SUCCEEDED if succeeded else ShardResult.FAILED, claim.run_id)


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a periodic job's body reports for its run row."""

    succeeded: bool
    counts: dict[str, int]
    api_calls: int = 0
    error: str | None = None


def run_exclusive(
    sessions: Sessions,
    clock: Clock,
    *,
    job: str,
    source: str,
    window: datetime,
    holder: str,
    lease_keys: Sequence[str],
    lease_ttl: timedelta,
    body: Callable[[], JobResult],
) -> ShardOutcome:
    """Run a periodic job once per window, holding every lease in ``lease_keys`` meanwhile.

    The run is claimed as a ``scheduled_<job>`` row keyed ``<job>:<source>:<window>`` (a
    duplicate delivery or a second beat finds it done; the job's own run record is separate);
    the leases keep it from writing an account a shard task is writing
    (escalation takes every shard's lease). ``BUSY`` when any lease is held elsewhere: the
    caller retries later. A body that raises is recorded as failed and re-raised.
    """
    with exclusive(
        sessions, keys=lease_keys, holder=holder, now=clock.now(), ttl=lease_ttl
    ) as held:
        if not held:
            _log.info("job_busy", job=job, window=window_text(window))
            return ShardOutcome(ShardResult.BUSY)
        with sessions() as session:
            claim = claim_run(
                session,
                kind=f"scheduled_{job}",
                key=schedule_key(job, source, window),
                source=source,
                now=clock.now(),
                facts={"window": window_text(window)},
            )
        if claim is None:
            _log.info("job_already_done", job=job, window=window_text(window))
            return ShardOutcome(ShardResult.ALREADY_DONE)
        try:
            result = body()
        except Exception as error:
            with sessions() as session:
                finish_scheduled(
                    session,
                    claim.run_id,
                    succeeded=False,
                    now=clock.now(),
                    counts={},
                    error=f"{type(error).__name__}: {error}",
                )
            raise
        with sessions() as session:
            finish_scheduled(
                session,
                claim.run_id,
                succeeded=result.succeeded,
                now=clock.now(),
                counts=result.counts,
                api_calls=result.api_calls,
                error=result.error,
            )
        return ShardOutcome(
            ShardResult.SUCCEEDED if result.succeeded else ShardResult.FAILED, claim.run_id
        )


def _collections_cycle(deps: CycleDeps, shard: Shard) -> tuple[CycleReport, dict[str, int]]:
    """The shard's cycle as ``sfsync run`` does it: seen through what reps did (promises due are
    judged, outcomes and disputes overlaid), then the shard's dispute Cases.

    Promises are judged here, by the shard's one writer (a verdict changes the Case and may
    create a Task); the ``sfsync.promise_checks`` task only makes the shards with a promise due
    run now (:func:`promise_shards`).
    """
    from sfsync.disputes import apply_dispute_cases  # noqa: PLC0415 - heavy, workers only
    from sfsync.writeback import with_read_back  # noqa: PLC0415

    cycle_deps, overlay = with_read_back(deps, part=shard)
    report = run_cycle(cycle_deps, part=shard)
    disputes = apply_dispute_cases(
        deps, overlay.dispute_ledgers, queue=deps.settings.sync.dispute_queue
    )
    return report, disputes


def reconcile(
    sessions: Sessions,
    clock: Clock,
    *,
    source: str,
    interval_seconds: int,
    grace: timedelta,
    visibility: timedelta,
    enqueue_cycle: EnqueueCycle,
    enqueue_shard: EnqueueShard,
    queued_shards: QueuedShards,
) -> DueWork:
    """Re-enqueue what the store says is due and neither done, being done nor still queued.

    * this window's cycle, if no beat message claimed it (lost in a Redis flush, beat down);
    * shards of the latest cycle not succeeded (no row; ``running`` but its worker died and the
      message is gone with Redis; ``failed``, e.g. terminated by a broker connection loss)
      whose lease is free and whose last message is not waiting in the queue. A shard whose
      lease is held is being run (or its message will come back to its holder), so it is left
      alone.

    Every sent shard message is recorded as a "queued" marker on the cycle's row (the
    dispatch's and each re-send's). A shard queued behind a backlog has no run row and no
    lease, so without the marker every pass would send it again and duplicates would pile up.
    A marked shard is sent again only when its message was consumed (its run started after the
    marker), or is provably lost (Redis, read by ``queued_shards``, does not hold it), or, when
    Redis cannot be read, once the marker is older than the visibility timeout.

    Only the latest cycle is reconciled: a newer cycle supersedes an older one, so a shard that
    keeps failing is retried at most until the next cycle.
    """
    now = clock.now()
    with sessions() as session:
        due = due_work(
            session, source=source, now=now, interval_seconds=interval_seconds, grace=grace
        )
        candidates = [(w, shard) for w, shard in due.shards if _lost(session, shard, now)]
        lost = _not_queued(
            session,
            source,
            candidates,
            now=now,
            visibility=visibility,
            queued_shards=queued_shards,
        )
        if lost:
            mark_queued(session, source=source, shards=[shard for _, shard in lost], now=now)
    if due.window is not None:
        enqueue_cycle(due.window)
    for window, shard in lost:
        enqueue_shard(window, shard)
    if due.window is not None or lost:
        _log.warning(
            "work_reenqueued",
            cycle=window_text(due.window) if due.window else None,
            shards=[shard.label for _, shard in lost],
        )
    return DueWork(due.window, tuple(lost))


def _lost(session: Session, shard: Shard, now: datetime) -> bool:
    """Whether a due shard has nobody working on it: no live lease."""
    lease = session.get(AccountLease, shard.lease_key)
    return lease is None or lease.expires_at <= now


def _not_queued(
    session: Session,
    source: str,
    candidates: Sequence[tuple[datetime, Shard]],
    *,
    now: datetime,
    visibility: timedelta,
    queued_shards: QueuedShards,
) -> list[tuple[datetime, Shard]]:
    """The candidates whose last message is not waiting in the queue (see :func:`reconcile`)."""
    tick = latest_tick(session, source)
    if not candidates or tick is None:
        return list(candidates)
    in_redis = queued_shards()
    lost = []
    for window, shard in candidates:
        marked = queued_at(tick, shard)
        row = shard_rows(session, source, window).get(shard_key(source, window, shard))
        stale = marked is None or now - marked >= visibility
        consumed = row is not None and marked is not None and row.started_at >= marked
        message = (window_text(window), shard.index, shard.count)
        gone = in_redis is not None and message not in in_redis
        if stale or consumed or gone:
            lost.append((window, shard))
    return lost


def _queued_marks(indexes: Iterable[int], count: int, now: datetime) -> dict[str, str]:
    """The dispatch's "queued" marker of each shard: when its message was sent."""
    return {Shard(index, count).label: window_text(now) for index in indexes}
