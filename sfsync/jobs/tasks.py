"""The tasks: plain values in (a window, a shard), dependencies from the runtime, one call into
:mod:`sfsync.jobs.work` (which calls :func:`sfsync.sync.run_cycle`).

Names are explicit and stable: a message queued by one release is understood by the next.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sfsync.jobs.app import app, house_task
from sfsync.jobs.crash import AFTER_COMMIT, crashpoint
from sfsync.jobs.ledger import close_finished_tick, parse_window, window_text
from sfsync.jobs.runtime import runtime
from sfsync.jobs.schedule import CYCLE_TASK, RECONCILE_TASK, SHARD_TASK
from sfsync.jobs.shards import Shard
from sfsync.jobs.work import ShardResult, reconcile, start_cycle, sync_shard
from sfsync.logs import get_logger

_log = get_logger(__name__)


def send_shard(window: datetime, shard: Shard) -> None:
    """Queue the shard task of ``window``."""
    app.send_task(SHARD_TASK, args=[window_text(window), shard.index, shard.count])


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
def cycle_shard(self: Any, window: str, index: int, count: int) -> str:
    """Sync one shard of one cycle as its only writer; retry later while the shard is busy."""
    rt = runtime()
    shard = Shard(index, count)
    if count != rt.jobs.shards:
        # Sent before a change of SFSYNC_JOBS__SHARDS: its shard overlaps the new ones, so it
        # must not run beside them; the next cycle covers its customers.
        _log.warning("shard_count_changed", shard=shard.label, configured=rt.jobs.shards)
        return "dropped"
    moment = parse_window(window)
    outcome = sync_shard(
        rt.deps,
        window=moment,
        shard=shard,
        holder=str(self.request.id),
        worker=rt.worker_name,
        lease_ttl=timedelta(seconds=rt.jobs.lease_ttl_seconds),
    )
    if outcome.result is ShardResult.BUSY:
        raise self.retry(countdown=rt.jobs.lease_retry_seconds, max_retries=rt.jobs.lease_retry_max)
    with rt.sessions() as session:
        close_finished_tick(session, source=rt.deps.source.name, window=moment, now=rt.clock.now())
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
        enqueue_cycle=send_cycle,
        enqueue_shard=send_shard,
    )
    return {
        "cycle": window_text(due.window) if due.window else None,
        "shards": [shard.label for _, shard in due.shards],
    }
