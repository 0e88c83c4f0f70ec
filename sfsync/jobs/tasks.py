"""The tasks: plain values in (a window, a shard), dependencies from the runtime, one call into
:mod:`sfsync.jobs.work` (which calls :func:`sfsync.sync.run_cycle`).

Names are explicit and stable: a message queued by one release is understood by the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sfsync.jobs.app import app, house_task
from sfsync.jobs.crash import AFTER_COMMIT, crashpoint
from sfsync.jobs.ledger import close_finished_tick, parse_window, window_start, window_text
from sfsync.jobs.runtime import runtime
from sfsync.jobs.schedule import (
    CYCLE_TASK,
    ESCALATION_TASK,
    PROMISE_CHECKS_TASK,
    RECONCILE_TASK,
    SHARD_TASK,
    WRITEBACK_TASK,
)
from sfsync.jobs.shards import Shard
from sfsync.jobs.status import queued_shard_messages
from sfsync.jobs.work import (
    CYCLE_JOB,
    PROMISE_CHECKS_JOB,
    SHARD_JOBS,
    JobResult,
    ShardResult,
    current_shard_count,
    promise_shards,
    reconcile,
    run_exclusive,
    start_cycle,
    sync_shard,
)
from sfsync.logs import get_logger

_log = get_logger(__name__)


def send_shard(window: datetime, shard: Shard, job: str = CYCLE_JOB) -> None:
    """Queue the shard task of ``window`` (of the cycle, or of the ``job`` that needs it)."""
    kwargs = {} if job == CYCLE_JOB else {"job": job}
    app.send_task(SHARD_TASK, args=[window_text(window), shard.index, shard.count], kwargs=kwargs)


def send_cycle(window: datetime | None = None) -> None:
    """Queue the cycle task (of ``window``, or of the window current when it runs)."""
    app.send_task(CYCLE_TASK, args=[window_text(window)] if window else [])


@house_task(CYCLE_TASK)
def cycle(self: Any, window: str | None = None) -> int:
    """Claim the window's cycle in the store and fan out one task per shard."""
    del self
    rt = runtime()
    sent = start_cycle(
        rt.sessions,
        rt.clock,
        source=rt.deps.source.name,
        interval_seconds=rt.settings.sync.interval_seconds,
        shards=rt.jobs.shards,
        enqueue=send_shard,
        window=parse_window(window) if window else None,
    )
    crashpoint(AFTER_COMMIT)
    return sent


@house_task(SHARD_TASK)
def cycle_shard(self: Any, window: str, index: int, count: int, job: str = CYCLE_JOB) -> str:
    """Sync one shard of one cycle as its only writer; retry later while the shard is busy.

    ``job`` is ``promise_checks`` when the promise checks sent it: the same shard cycle, claimed
    under that job's window so it runs even if the cycle's shard already ran in the window.
    """
    if job not in SHARD_JOBS:
        raise ValueError(f"a shard run is sent by one of {sorted(SHARD_JOBS)}, not {job!r}")
    rt = runtime()
    shard = Shard(index, count)
    moment = parse_window(window)
    # A shard of another count than the store's current one (recorded by the latest cycle's
    # dispatch) is dropped, and none runs beside a live shard of another count: see
    # sfsync.jobs.work.writer_conflict.
    outcome = sync_shard(
        rt.deps,
        window=moment,
        shard=shard,
        holder=str(self.request.id),
        worker=rt.worker_name,
        lease_ttl=timedelta(seconds=rt.jobs.lease_ttl_seconds),
        configured_count=rt.jobs.shards,
        job=job,
    )
    if outcome.result is ShardResult.BUSY:
        raise self.retry(countdown=rt.jobs.lease_retry_seconds, max_retries=rt.jobs.lease_retry_max)
    if outcome.result is ShardResult.DROPPED:
        return outcome.result.value
    if job == CYCLE_JOB:
        with rt.sessions() as session:
            close_finished_tick(
                session, source=rt.deps.source.name, window=moment, now=rt.clock.now()
            )
    crashpoint(AFTER_COMMIT)
    return outcome.result.value


@house_task(RECONCILE_TASK)
def reconcile_work(self: Any) -> dict[str, Any]:
    """Re-enqueue the cycle or shards the store says are due but nobody is running."""
    del self
    rt = runtime()
    due = reconcile(
        rt.sessions,
        rt.clock,
        source=rt.deps.source.name,
        interval_seconds=rt.settings.sync.interval_seconds,
        grace=timedelta(seconds=rt.jobs.reconcile_grace_seconds),
        visibility=timedelta(seconds=rt.jobs.visibility_timeout_seconds),
        enqueue_cycle=send_cycle,
        enqueue_shard=send_shard,
        queued_shards=lambda: queued_shard_messages(rt.settings.redis.url),
    )
    return {
        "cycle": window_text(due.window) if due.window else None,
        "shards": [shard.label for _, shard in due.shards],
    }


def _window_of(task_window: str | None, interval_seconds: int) -> datetime:
    rt = runtime()
    return (
        parse_window(task_window) if task_window else window_start(rt.clock.now(), interval_seconds)
    )


@house_task(WRITEBACK_TASK)
def writeback(self: Any, window: str | None = None) -> str:
    """Read back outcomes, promises and disputes reps logged (once per window, one at a time)."""
    from sfsync.writeback import run_writeback  # noqa: PLC0415 - heavy, on demand

    rt = runtime()

    def body() -> JobResult:
        report = run_writeback(rt.deps)
        return JobResult(succeeded=True, counts=dict(report.counts), api_calls=report.calls.total)

    outcome = run_exclusive(
        rt.sessions,
        rt.clock,
        job="writeback",
        source=rt.deps.source.name,
        window=_window_of(window, rt.jobs.writeback_interval_seconds),
        holder=str(self.request.id),
        lease_keys=["writeback"],
        lease_ttl=timedelta(seconds=rt.jobs.lease_ttl_seconds),
        body=body,
    )
    if outcome.result is ShardResult.BUSY:
        raise self.retry(countdown=rt.jobs.lease_retry_seconds, max_retries=rt.jobs.lease_retry_max)
    crashpoint(AFTER_COMMIT)
    return outcome.result.value


@house_task(PROMISE_CHECKS_TASK)
def promise_checks(self: Any, window: str | None = None) -> str:
    """Send a shard run, now, for each shard with a promise due for judgement (once per window).

    Judging stays with the shard's one writer (a verdict changes the Case and may create the
    follow-up Task); this task only finds, in the store, the promises whose date plus grace
    passed and makes their shards run without waiting for the next cycle.
    """
    rt = runtime()
    moment = _window_of(window, rt.jobs.writeback_interval_seconds)
    source = rt.deps.source.name

    def body() -> JobResult:
        with rt.sessions() as session:
            count = current_shard_count(session, source, rt.jobs.shards) or rt.jobs.shards
            shards = promise_shards(
                session,
                source=source,
                today=rt.clock.now().date(),
                grace_days=rt.deps.policy.promises.grace_days,
                count=count,
            )
        for shard in shards:
            send_shard(moment, shard, job=PROMISE_CHECKS_JOB)
        _log.info("promise_shards_sent", shards=[shard.label for shard in shards])
        return JobResult(succeeded=True, counts={"shards_sent": len(shards)})

    outcome = run_exclusive(
        rt.sessions,
        rt.clock,
        job=PROMISE_CHECKS_JOB,
        source=source,
        window=moment,
        holder=str(self.request.id),
        lease_keys=[],
        lease_ttl=timedelta(seconds=rt.jobs.lease_ttl_seconds),
        body=body,
    )
    crashpoint(AFTER_COMMIT)
    return outcome.result.value


@house_task(ESCALATION_TASK)
def escalation(self: Any, window: str | None = None) -> str:
    """Escalate stale Cases once per window, holding every shard's lease (it writes Cases)."""
    from sfsync.checks import open_gateway  # noqa: PLC0415 - heavy, on demand
    from sfsync.escalate import open_escalation, run_escalation  # noqa: PLC0415
    from sfsync.settings import resolve_config_path  # noqa: PLC0415

    rt = runtime()

    def body() -> JobResult:
        with open_escalation(
            rt.settings,
            resolve_config_path(None),
            rt.clock,
            lambda: open_gateway(rt.settings, rt.clock),
        ) as deps:
            report = run_escalation(deps, dry_run=False)
        failed = "; ".join(f"{case}: {why}" for case, why in report.failed[:5]) or None
        return JobResult(
            succeeded=not report.failed,
            counts=report.counts,
            api_calls=report.calls.total,
            error=failed,
        )

    shards = [Shard(index, rt.jobs.shards).lease_key for index in range(rt.jobs.shards)]
    outcome = run_exclusive(
        rt.sessions,
        rt.clock,
        job="escalation",
        source=rt.deps.source.name,
        window=_window_of(window, rt.jobs.escalation_interval_seconds),
        holder=str(self.request.id),
        lease_keys=shards,
        lease_ttl=timedelta(seconds=rt.jobs.lease_ttl_seconds),
        body=body,
    )
    if outcome.result is ShardResult.BUSY:
        raise self.retry(countdown=rt.jobs.lease_retry_seconds, max_retries=rt.jobs.lease_retry_max)
    crashpoint(AFTER_COMMIT)
    return outcome.result.value
