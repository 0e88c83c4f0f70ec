"""The store's record of scheduled work: which cycles were claimed, which shards finished.

This is what makes Redis a mere carrier (DESIGN.md invariant 3). Every scheduled run is a row in
``sync_runs`` with a unique ``schedule_key``:

* a beat tick claims ``cycle:<source>:<window start>`` (kind ``cycle_tick``) — a second beat or a
  duplicate delivery loses the insert and does nothing;
* each shard of that cycle claims ``cycle:<source>:<window start>:shard:<n>/<N>`` (kind
  ``cycle_shard``) — a shard already ``succeeded`` is never run again for that window, a shard
  left ``running`` or ``failed`` by a crash is resumed by whoever holds its lease;
* writeback, promise checks and escalation claim ``<job>:<source>:<window start>``.

:func:`due_shards` compares these rows with what should exist, so a reconciliation task can
re-enqueue the work a Redis restart or flush lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfsync.jobs.shards import Shard
from sfsync.store.models import RunStatus, SyncRun
from sfsync.store.repositories import finish_run, start_run

TICK_KIND = "cycle_tick"
SHARD_KIND = "cycle_shard"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Shard-run facts that are not counts: a cycle's totals leave them out.
_NOT_SUMMED = frozenset({"shard", "shards", "api_used", "api_max", "cycle_run_id"})


def window_start(now: datetime, interval_seconds: int) -> datetime:
    """The start of the schedule window ``now`` falls in (windows are aligned to the epoch).

    Two beats firing the same interval at different offsets land in the same window, so their
    runs share one schedule key and only one is run.
    """
    elapsed = int((now - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=elapsed - elapsed % interval_seconds)


def window_text(window: datetime) -> str:
    """A window as it appears in schedule keys and task arguments (UTC, seconds)."""
    return window.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_window(text: str) -> datetime:
    """The inverse of :func:`window_text`; refuses anything else with a clear error."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"{text!r} is not a window start like 2026-03-02T09:30:00Z") from None


def schedule_key(job: str, source: str, window: datetime) -> str:
    """``<job>:<source>:<window start>``: the unique key of one scheduled run."""
    return f"{job}:{source}:{window_text(window)}"


def shard_key(source: str, window: datetime, shard: Shard, job: str = "cycle") -> str:
    """The unique key of one shard of one cycle (or of the shard run ``job`` asked for)."""
    return f"{schedule_key(job, source, window)}:shard:{shard.label}"


def claim_scheduled(
    session: Session,
    *,
    kind: str,
    job: str,
    source: str,
    window: datetime,
    now: datetime,
    facts: Mapping[str, Any] | None = None,
) -> SyncRun | None:
    """Claim the scheduled run of ``job`` for ``window``; None when it was already claimed.

    The row's kind is ``kind`` and its key ``<job>:<source>:<window>``; ``facts`` go to its
    counts. Commits at once: the claim must be visible before the work starts.
    """
    key = schedule_key(job, source, window)
    run = start_run(session, kind=kind, source=source, started_at=now, schedule_key=key)
    if run is not None:
        run.counts = {**(facts or {}), "window": window_text(window)}
    session.commit()
    return run


@dataclass(frozen=True, slots=True)
class ShardClaim:
    """A shard run this worker may perform: its row in ``sync_runs``."""

    run_id: int
    resumed: bool


def claim_run(
    session: Session,
    *,
    kind: str,
    key: str,
    source: str,
    now: datetime,
    facts: Mapping[str, Any] | None = None,
) -> ShardClaim | None:
    """Claim the run ``key``; None if it already succeeded.

    A row left ``running`` or ``failed`` (its worker crashed, or the run failed and is retried)
    is taken over: the caller holds the run's lease, so nobody else is running it.
    Commits at once.
    """
    run = start_run(session, kind=kind, source=source, started_at=now, schedule_key=key)
    if run is not None:
        if facts:
            run.counts = dict(facts)
        session.commit()
        return ShardClaim(run.id, resumed=False)
    existing = session.scalars(select(SyncRun).where(SyncRun.schedule_key == key)).one()
    if existing.status is RunStatus.SUCCEEDED:
        session.commit()
        return None
    existing.status = RunStatus.RUNNING
    existing.started_at = now
    existing.finished_at = None
    existing.error = None
    session.commit()
    return ShardClaim(existing.id, resumed=True)


def claim_shard(
    session: Session,
    *,
    source: str,
    window: datetime,
    shard: Shard,
    now: datetime,
    job: str = "cycle",
) -> ShardClaim | None:
    """Claim a shard of a cycle, or of the ``job`` that sent it (see :func:`claim_run`)."""
    key = shard_key(source, window, shard, job)
    return claim_run(session, kind=SHARD_KIND, key=key, source=source, now=now)


def finish_scheduled(
    session: Session,
    run_id: int,
    *,
    succeeded: bool,
    now: datetime,
    counts: Mapping[str, Any],
    api_calls: int = 0,
    error: str | None = None,
) -> None:
    """Close a claimed run (a tick, a shard, a periodic job) and commit."""
    finish_run(
        session,
        run_id,
        status=RunStatus.SUCCEEDED if succeeded else RunStatus.FAILED,
        finished_at=now,
        counts=counts,
        api_calls=api_calls,
        error=error,
    )
    session.commit()


@dataclass(frozen=True, slots=True)
class DueWork:
    """What the store says is due but not done: the reconciler re-enqueues it."""

    window: datetime | None
    """The cycle window whose tick is missing entirely (its beat message was lost)."""
    shards: tuple[tuple[datetime, Shard], ...] = ()
    """Shards of the latest claimed cycle not run to an end (no row, or still running)."""


def latest_tick(session: Session, source: str) -> SyncRun | None:
    """The claimed cycle of ``source`` with the latest window (keys sort by window)."""
    statement = (
        select(SyncRun)
        .where(SyncRun.kind == TICK_KIND, SyncRun.source == source)
        .order_by(SyncRun.schedule_key.desc())
        .limit(1)
    )
    return session.scalars(statement).first()


def shard_rows(session: Session, source: str, window: datetime) -> dict[str, SyncRun]:
    """The shard rows of one cycle, by schedule key."""
    prefix = f"{schedule_key('cycle', source, window)}:shard:"
    statement = select(SyncRun).where(
        SyncRun.kind == SHARD_KIND, SyncRun.schedule_key.startswith(prefix, autoescape=True)
    )
    return {str(row.schedule_key): row for row in session.scalars(statement)}


def due_work(
    session: Session,
    *,
    source: str,
    now: datetime,
    interval_seconds: int,
    grace: timedelta,
) -> DueWork:
    """Compare the store with the schedule: a missing tick, or shards of the latest one undone.

    Only the latest cycle matters: a later cycle re-reads from each shard's watermark, so an
    older unfinished one is superseded, not replayed. A tick whose shards all succeeded is
    closed here. Commits.
    """
    current = window_start(now, interval_seconds)
    tick = latest_tick(session, source)
    missing_window: datetime | None = None
    if (tick is None or _tick_window(tick) < current) and now - current >= grace:
        missing_window = current
    due: list[tuple[datetime, Shard]] = []
    if tick is not None and tick.status is RunStatus.RUNNING:
        window = _tick_window(tick)
        count = int(tick.counts.get("shards", 0))
        rows = shard_rows(session, source, window)
        undone = [
            Shard(index, count)
            for index in range(count)
            if _undone(rows.get(shard_key(source, window, Shard(index, count))))
        ]
        if not undone:
            _close_tick(tick, rows.values(), now)
        elif now - tick.started_at >= grace:
            due.extend((window, shard) for shard in undone)
    session.commit()
    return DueWork(missing_window, tuple(due))


def _undone(row: SyncRun | None) -> bool:
    """Not done: no row, a row still ``running``, or a ``failed`` one (run it again)."""
    return row is None or row.status is not RunStatus.SUCCEEDED


def _tick_window(tick: SyncRun) -> datetime:
    return parse_window(str(tick.counts["window"]))


def _close_tick(tick: SyncRun, shards: Iterable[SyncRun], now: datetime) -> None:
    """Close a cycle whose every shard succeeded, with the summed counts."""
    totals: dict[str, Any] = dict(tick.counts)
    api_calls = 0
    for row in shards:
        api_calls += row.api_calls
        for name, value in (row.counts or {}).items():
            if isinstance(value, int) and name not in _NOT_SUMMED:
                totals[name] = int(totals.get(name, 0) or 0) + value
    tick.status = RunStatus.SUCCEEDED
    tick.finished_at = now
    tick.counts = totals
    tick.api_calls = api_calls


def queued_at(tick: SyncRun, shard: Shard) -> datetime | None:
    """When ``shard``'s last message for the cycle ``tick`` was sent (its "queued" marker)."""
    marks = (tick.counts or {}).get("queued") or {}
    text = marks.get(shard.label) if isinstance(marks, dict) else None
    return parse_window(text) if isinstance(text, str) else None


def mark_queued(session: Session, *, source: str, shards: Iterable[Shard], now: datetime) -> None:
    """Record that ``shards`` of the latest cycle were sent (again) at ``now``. Commits."""
    tick = latest_tick(session, source)
    if tick is None:
        return
    counts = dict(tick.counts or {})
    marks = dict(counts.get("queued") or {})
    marks.update({shard.label: window_text(now) for shard in shards})
    counts["queued"] = marks
    tick.counts = counts  # a new dict: the JSON column sees the change
    session.commit()


def supersede_ticks(session: Session, *, source: str, current: SyncRun, now: datetime) -> int:
    """Close the cycles of earlier windows still running as failed: ``current`` covers them.

    Each shard reads from its own watermark, so whatever an older cycle's unfinished shard did
    not commit is read again by the new cycle's. Returns how many were closed; commits.
    """
    older = session.scalars(
        select(SyncRun).where(
            SyncRun.kind == TICK_KIND,
            SyncRun.source == source,
            SyncRun.status == RunStatus.RUNNING,
            SyncRun.id != current.id,
        )
    ).all()
    older = [tick for tick in older if _tick_window(tick) < _tick_window(current)]
    for tick in older:
        tick.status = RunStatus.FAILED
        tick.finished_at = now
        tick.error = f"superseded by {current.schedule_key} before every shard succeeded"
    session.commit()
    return len(older)


def close_finished_tick(session: Session, *, source: str, window: datetime, now: datetime) -> bool:
    """Close the tick of ``window`` once every shard succeeded; True when it was closed now."""
    tick = session.scalars(
        select(SyncRun).where(SyncRun.schedule_key == schedule_key("cycle", source, window))
    ).one_or_none()
    if tick is None or tick.status is not RunStatus.RUNNING:
        return False
    count = int(tick.counts.get("shards", 0))
    rows = shard_rows(session, source, window)
    if any(
        _undone(rows.get(shard_key(source, window, Shard(index, count)))) for index in range(count)
    ):
        return False
    _close_tick(tick, rows.values(), now)
    session.commit()
    return True
