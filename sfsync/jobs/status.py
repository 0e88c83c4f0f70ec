"""``sfsync status``: what ran, what waits, what failed, how much API budget is left.

Everything comes from the store except the queue depth (Redis ``LLEN`` of the sfsync queue, plus
the messages delivered but not yet acknowledged). The API budget is the *last recorded* usage:
each shard run stores the ``Sforce-Limit-Info`` figures its gateway saw, so ``status`` costs no
Salesforce call and works while the org is unreachable.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sfsync.jobs.config import QUEUE
from sfsync.store.models import DeadLetter, SyncRun

#: kombu's Redis transport keeps one list per priority step: "<queue>", "<queue>\x06\x163", ...
_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
_UNACKED = "unacked"
STUCK_ALERTS_AFTER = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class RunLine:
    """The latest run of one kind."""

    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    api_calls: int
    error: str | None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Messages waiting in Redis, and delivered but unacknowledged; ``error`` if unreachable."""

    waiting: int | None
    unacknowledged: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ApiBudget:
    """The last daily API usage a run recorded."""

    used: int
    limit: int
    recorded_at: datetime

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything ``sfsync status`` prints."""

    runs: tuple[RunLine, ...]
    queue: QueueDepth
    open_dead_letters: int
    budget: ApiBudget | None
    alert_problems: tuple[str, ...]
    escalation_problems: tuple[str, ...] = ()
    escalations_without_alerts: int = 0
    #: Every open alert problem counted by kind (the lines above are only the newest).
    alert_problem_counts: tuple[tuple[str, int], ...] = ()


def last_runs(session: Session) -> tuple[RunLine, ...]:
    """The latest run of each kind (cycle ticks, shards, cycles, writeback, ...)."""
    latest = (
        select(SyncRun.kind, func.max(SyncRun.id).label("id")).group_by(SyncRun.kind).subquery()
    )
    statement = select(SyncRun).join(latest, SyncRun.id == latest.c.id).order_by(SyncRun.kind)
    return tuple(
        RunLine(
            run.kind,
            run.status.value,
            run.started_at,
            run.finished_at,
            run.api_calls,
            run.error,
        )
        for run in session.scalars(statement)
    )


def open_dead_letters(session: Session) -> int:
    """Writes Salesforce refused that nobody resolved yet."""
    statement = select(func.count()).select_from(DeadLetter).where(DeadLetter.resolved_at.is_(None))
    return int(session.execute(statement).scalar_one())


def last_budget(session: Session) -> ApiBudget | None:
    """The newest API usage recorded on a run (``api_used`` / ``api_max`` in its counts)."""
    statement = (
        select(SyncRun)
        .where(SyncRun.finished_at.is_not(None))
        .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
        .limit(50)
    )
    for run in session.scalars(statement):
        counts = run.counts or {}
        used, limit = counts.get("api_used"), counts.get("api_max")
        if isinstance(used, int) and isinstance(limit, int) and run.finished_at is not None:
            return ApiBudget(used, limit, run.finished_at)
    return None


def queue_depth(redis_url: str | None, queue: str = QUEUE) -> QueueDepth:
    """LLEN of the queue's lists and the size of the unacknowledged set, with 5 s timeouts."""
    if redis_url is None:
        return QueueDepth(None, None, "redis.url is not set (embedded mode)")
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        waiting = sum(int(client.llen(queue + suffix)) for suffix in _PRIORITY_SUFFIXES)
        unacked = int(client.hlen(_UNACKED))
    except redis.RedisError as error:
        return QueueDepth(None, None, f"{type(error).__name__}: {error}")
    finally:
        client.close()
    return QueueDepth(waiting, unacked)


def queued_shard_messages(
    redis_url: str | None, queue: str = QUEUE
) -> set[tuple[str, int, int]] | None:
    """The ``sfsync.cycle_shard`` messages Redis holds, waiting or delivered unacknowledged, as
    ``(window, index, count)``; None when Redis cannot be read (the reconciler then trusts its
    markers' age instead). Reads kombu's Redis layout: JSON envelopes with a base64 JSON body."""
    from sfsync.jobs.schedule import SHARD_TASK  # noqa: PLC0415 - avoids an import cycle

    if redis_url is None:
        return None
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        envelopes: list[bytes | str] = []
        for suffix in _PRIORITY_SUFFIXES:
            envelopes.extend(client.lrange(queue + suffix, 0, -1))
        unacked = [json.loads(value)[0] for value in client.hvals(_UNACKED)]
    except (redis.RedisError, ValueError, IndexError):
        return None
    finally:
        client.close()
    return set(_shard_args(SHARD_TASK, [json.loads(e) for e in envelopes] + unacked))


def _shard_args(task: str, envelopes: Iterable[object]) -> Iterable[tuple[str, int, int]]:
    """The arguments of every ``task`` message among ``envelopes`` (others are skipped)."""
    for envelope in envelopes:
        if not isinstance(envelope, dict) or envelope.get("headers", {}).get("task") != task:
            continue
        try:
            args, kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
            if kwargs.get("job", "cycle") == "cycle":  # the cycle's, not the promise checks'
                yield str(args[0]), int(args[1]), int(args[2])
        except (KeyError, ValueError, IndexError, TypeError, AttributeError):
            continue


def alert_problem_counts(session: Session, now: datetime) -> tuple[tuple[str, int], ...]:
    """Open alert problems by kind (``routing unknown_manager``, ``email failed``, ...)."""
    from sfsync.store.alerts import problem_counts  # noqa: PLC0415 - optional part

    return tuple(problem_counts(session, now=now, stuck_after=STUCK_ALERTS_AFTER).items())


def alert_problems(session: Session, now: datetime, limit: int = 20) -> tuple[str, ...]:
    """The newest failed or stuck alert deliveries, one line each (empty if none)."""
    from sfsync.store.alerts import delivery_problems  # noqa: PLC0415 - optional part

    lines = []
    problems = delivery_problems(session, now=now, stuck_after=STUCK_ALERTS_AFTER, limit=limit)
    for delivery in problems:
        reason = delivery.last_error or delivery.status.value
        lines.append(f"{delivery.channel} → {delivery.recipient}: {reason}")
    return tuple(lines)


def unfinished_escalations(session: Session, limit: int = 20) -> tuple[str, ...]:
    """Escalations left unfinished with an error, newest first, one line each: the Case, the
    level, how far it got and why it stopped (``sfsync escalate`` resumes them)."""
    from sfsync.store.escalations import escalation_problems  # noqa: PLC0415 - optional part

    return tuple(
        f"{record.case_key} {record.level} ({record.state.value}): {record.error}"
        for record in escalation_problems(session)[:limit]
    )


def unalerted_escalations(session: Session) -> int:
    """Escalations applied while no alert channel was configured (their managers never told)."""
    from sfsync.store.escalations import escalations_without_alerts  # noqa: PLC0415

    return escalations_without_alerts(session)


def collect_status(session: Session, redis_url: str | None, now: datetime) -> StatusReport:
    """Gather the status report (reads only)."""
    return StatusReport(
        runs=last_runs(session),
        queue=queue_depth(redis_url),
        open_dead_letters=open_dead_letters(session),
        budget=last_budget(session),
        alert_problems=alert_problems(session, now),
        escalation_problems=unfinished_escalations(session),
        escalations_without_alerts=unalerted_escalations(session),
        alert_problem_counts=alert_problem_counts(session, now),
    )


def render_status(report: StatusReport) -> list[str]:
    """The report as lines of text for a terminal or a log."""
    lines = ["Last runs:"]
    lines.extend(_run_lines(report.runs) or ["  (none yet)"])
    queue = report.queue
    if queue.error is not None:
        lines.append(f"Queue: unknown ({queue.error})")
    else:
        lines.append(
            f"Queue: {queue.waiting} waiting, {queue.unacknowledged} delivered not acknowledged"
        )
    lines.append(f"Dead letters open: {report.open_dead_letters}")
    budget = report.budget
    if budget is None:
        lines.append("API budget: no usage recorded yet")
    else:
        lines.append(
            f"API budget: {budget.remaining} of {budget.limit} calls left "
            f"(as recorded {budget.recorded_at:%Y-%m-%d %H:%M} UTC)"
        )
    if report.escalation_problems:
        lines.append("Escalations left unfinished:")
        lines.extend(f"  {line}" for line in report.escalation_problems)
    if report.escalations_without_alerts:
        lines.append(
            f"Escalations without alerts: {report.escalations_without_alerts} — configure "
            "alerts.smtp/slack/teams"
        )
    if report.alert_problems:
        lines.append(_alert_problems_heading(report))
        lines.extend(f"  {line}" for line in report.alert_problems)
    return lines


def _alert_problems_heading(report: StatusReport) -> str:
    """With more problems than listed, the heading counts them all by kind: the newest lines
    alone could be routing noise hiding a failing channel."""
    counts = report.alert_problem_counts
    total = sum(count for _, count in counts)
    if total <= len(report.alert_problems):
        return "Alert delivery problems:"
    by_kind = ", ".join(f"{kind} {count}" for kind, count in counts)
    shown = len(report.alert_problems)
    return f"Alert delivery problems: {total} open ({by_kind}); newest {shown}:"


def _run_lines(runs: Sequence[RunLine]) -> list[str]:
    lines = []
    for run in runs:
        ended = f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "running"
        text = (
            f"  {run.kind:<12} {run.status:<10} started {run.started_at:%Y-%m-%d %H:%M:%S}"
            f"  ended {ended}  api calls {run.api_calls}"
        )
        if run.error:
            text += f"  error: {run.error[:120]}"
        lines.append(text)
    return lines
