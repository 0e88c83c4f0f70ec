"""The store's record of scheduled work, on SQLite and PostgreSQL: claims, resumes, due work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sfsync.clock import FixedClock
from sfsync.jobs.ledger import (
    SHARD_KIND,
    TICK_KIND,
    claim_shard,
    close_finished_tick,
    finish_scheduled,
    latest_tick,
    window_text,
)
from sfsync.jobs.shards import Shard
from sfsync.jobs.work import ShardResult, reconcile, start_cycle, writer_conflict
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import RunStatus, SyncRun
from sfsync.store.repositories import acquire_lease, release_lease
from tests.jobs.conftest import fresh_database

WINDOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW = WINDOW + timedelta(seconds=20)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    upgrade_database(url)
    engine = create_engine_from_url(url)
    yield create_session_factory(engine)
    engine.dispose()


class Sent:
    """Records what would have been sent to the queue."""

    def __init__(self) -> None:
        self.shards: list[tuple[datetime, Shard]] = []
        self.cycles: list[datetime] = []

    def shard(self, window: datetime, shard: Shard) -> None:
        self.shards.append((window, shard))

    def cycle(self, window: datetime) -> None:
        self.cycles.append(window)


def _start(sessions: sessionmaker[Session], sent: Sent, shards: int = 3) -> int:
    return start_cycle(
        sessions,
        FixedClock(NOW),
        source="erp",
        interval_seconds=300,
        shards=shards,
        enqueue=sent.shard,
    )


def test_a_window_is_dispatched_once_however_often_it_is_triggered(
    sessions: sessionmaker[Session],
) -> None:
    sent = Sent()

    assert _start(sessions, sent) == 3
    assert _start(sessions, sent) == 0

    assert sent.shards == [(WINDOW, Shard(0, 3)), (WINDOW, Shard(1, 3)), (WINDOW, Shard(2, 3))]
    with sessions() as session:
        tick = latest_tick(session, "erp")
        assert tick is not None
        assert tick.schedule_key == "cycle:erp:2026-03-02T09:30:00Z"
        queued = dict.fromkeys(("0/3", "1/3", "2/3"), "2026-03-02T09:30:20Z")
        assert tick.counts == {"shards": 3, "window": "2026-03-02T09:30:00Z", "queued": queued}


def test_a_shard_that_succeeded_is_not_claimed_again_but_a_crashed_one_is_resumed(
    sessions: sessionmaker[Session],
) -> None:
    shard = Shard(1, 3)
    with sessions() as session:
        first = claim_shard(session, source="erp", window=WINDOW, shard=shard, now=NOW)
    assert first is not None
    assert not first.resumed
    with sessions() as session:  # the worker died: the row is still running
        again = claim_shard(session, source="erp", window=WINDOW, shard=shard, now=NOW)
    assert again is not None
    assert again.resumed
    assert again.run_id == first.run_id
    with sessions() as session:
        finish_scheduled(session, first.run_id, succeeded=True, now=NOW, counts={"shard": 1})
    with sessions() as session:
        assert claim_shard(session, source="erp", window=WINDOW, shard=shard, now=NOW) is None


def test_a_cycle_closes_when_its_last_shard_ends_with_summed_counts(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=2)
    for index in (0, 1):
        with sessions() as session:
            claim = claim_shard(
                session, source="erp", window=WINDOW, shard=Shard(index, 2), now=NOW
            )
            assert claim is not None
            assert not close_finished_tick(session, source="erp", window=WINDOW, now=NOW)
            finish_scheduled(
                session,
                claim.run_id,
                succeeded=True,
                now=NOW,
                counts={"shard": index, "tasks_created": 2, "api_used": 10, "api_max": 100},
                api_calls=5,
            )

    with sessions() as session:
        assert close_finished_tick(session, source="erp", window=WINDOW, now=NOW)
        tick = latest_tick(session, "erp")
        assert tick is not None
        assert tick.status is RunStatus.SUCCEEDED
        assert tick.counts["tasks_created"] == 4
        assert "api_used" not in tick.counts
        assert tick.api_calls == 10


VISIBILITY = timedelta(hours=1)


def _reconcile(
    sessions: sessionmaker[Session],
    sent: Sent,
    now: datetime,
    in_redis: frozenset[tuple[str, int, int]] | None = frozenset(),
) -> None:
    """One reconcile pass; ``in_redis`` is what Redis holds (default: nothing, it was flushed;
    None: Redis cannot be read)."""
    held = None if in_redis is None else set(in_redis)
    reconcile(
        sessions,
        FixedClock(now),
        source="erp",
        interval_seconds=300,
        grace=timedelta(seconds=60),
        visibility=VISIBILITY,
        enqueue_cycle=sent.cycle,
        enqueue_shard=sent.shard,
        queued_shards=lambda: held,
    )


def test_shards_queued_behind_a_backlog_are_not_sent_again(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=4)
    backlog = frozenset((window_text(WINDOW), index, 4) for index in range(4))  # all still in Redis
    sent = Sent()

    for minutes in (2, 4, 6, 30):  # reconcile passes while no worker got to them
        _reconcile(sessions, sent, NOW + timedelta(minutes=minutes), in_redis=backlog)

    assert sent.shards == []


def test_a_queued_shard_is_sent_again_once_its_message_is_lost_or_too_old(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=2)
    sent = Sent()

    # Redis unreadable: the markers' age decides, and a re-send refreshes the marker.
    _reconcile(sessions, sent, NOW + timedelta(minutes=5), in_redis=None)
    assert sent.shards == []
    _reconcile(sessions, sent, NOW + VISIBILITY, in_redis=None)
    assert sent.shards == [(WINDOW, Shard(0, 2)), (WINDOW, Shard(1, 2))]
    _reconcile(sessions, sent, NOW + VISIBILITY + timedelta(minutes=2), in_redis=None)
    assert len(sent.shards) == 2, "the re-sent messages are queued now"

    # Redis holds shard 1's message but not shard 0's: only shard 0 is provably lost.
    later = NOW + VISIBILITY + timedelta(minutes=4)
    _reconcile(sessions, sent, later, in_redis=frozenset({(window_text(WINDOW), 1, 2)}))
    assert sent.shards[2:] == [(WINDOW, Shard(0, 2))]


def test_the_reconciler_reenqueues_lost_shards_but_not_ones_being_run(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=3)
    later = NOW + timedelta(seconds=90)
    with sessions() as session:  # shard 0 finished; shard 1 is being run; shard 2 never started
        done = claim_shard(session, source="erp", window=WINDOW, shard=Shard(0, 3), now=NOW)
        assert done is not None
        finish_scheduled(session, done.run_id, succeeded=True, now=NOW, counts={})
        claim_shard(session, source="erp", window=WINDOW, shard=Shard(1, 3), now=NOW)
        acquire_lease(
            session, lease_key="shard:1/3", holder="task-1", now=NOW, ttl=timedelta(minutes=5)
        )
        session.commit()
    sent = Sent()

    _reconcile(sessions, sent, later)

    assert sent.shards == [(WINDOW, Shard(2, 3))]
    assert sent.cycles == []


def test_the_reconciler_resends_a_cycle_whose_beat_message_was_lost(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=1)
    with sessions() as session:
        claim = claim_shard(session, source="erp", window=WINDOW, shard=Shard(0, 1), now=NOW)
        assert claim is not None
        finish_scheduled(session, claim.run_id, succeeded=True, now=NOW, counts={})
    next_window = WINDOW + timedelta(minutes=5)
    sent = Sent()

    _reconcile(sessions, sent, next_window + timedelta(seconds=30))  # within the grace
    assert sent.cycles == []
    _reconcile(sessions, sent, next_window + timedelta(seconds=90))

    assert sent.cycles == [next_window]
    assert sent.shards == []
    with sessions() as session:
        runs = session.query(SyncRun).filter(SyncRun.kind.in_([TICK_KIND, SHARD_KIND])).all()
        assert {run.status for run in runs} == {RunStatus.SUCCEEDED}


def test_a_failed_shard_is_run_again_and_the_cycle_waits_for_it(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=2)
    with sessions() as session:  # shard 0 succeeded; shard 1 failed (terminated, say)
        for index, succeeded in ((0, True), (1, False)):
            claim = claim_shard(
                session, source="erp", window=WINDOW, shard=Shard(index, 2), now=NOW
            )
            assert claim is not None
            finish_scheduled(session, claim.run_id, succeeded=succeeded, now=NOW, counts={})
        assert not close_finished_tick(session, source="erp", window=WINDOW, now=NOW)
    sent = Sent()

    _reconcile(sessions, sent, NOW + timedelta(seconds=90))

    assert sent.shards == [(WINDOW, Shard(1, 2))]
    with sessions() as session:
        tick = latest_tick(session, "erp")
        assert tick is not None
        assert tick.status is RunStatus.RUNNING


def test_a_new_cycle_supersedes_an_unfinished_older_one_but_not_the_reverse(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=2)  # never finishes
    later = WINDOW + timedelta(minutes=5)
    newer = start_cycle(
        sessions,
        FixedClock(later + timedelta(seconds=5)),
        source="erp",
        interval_seconds=300,
        shards=2,
        enqueue=Sent().shard,
    )
    assert newer == 2
    late = start_cycle(  # a delayed message for an earlier window, claimed after the newer one
        sessions,
        FixedClock(later + timedelta(seconds=6)),
        source="erp",
        interval_seconds=300,
        shards=2,
        enqueue=Sent().shard,
        window=WINDOW - timedelta(minutes=5),
    )
    assert late == 2

    with sessions() as session:
        ticks = {
            str(run.schedule_key): run
            for run in session.query(SyncRun).filter(SyncRun.kind == TICK_KIND)
        }
    assert ticks["cycle:erp:2026-03-02T09:30:00Z"].status is RunStatus.FAILED
    assert "superseded by cycle:erp:2026-03-02T09:35:00Z" in str(
        ticks["cycle:erp:2026-03-02T09:30:00Z"].error
    )
    assert ticks["cycle:erp:2026-03-02T09:35:00Z"].status is RunStatus.RUNNING
    assert ticks["cycle:erp:2026-03-02T09:25:00Z"].status is RunStatus.RUNNING
    with sessions() as session:
        latest = latest_tick(session, "erp")
        assert latest is not None
        assert latest.schedule_key == "cycle:erp:2026-03-02T09:35:00Z"


def test_shards_of_two_counts_never_write_at_once_during_a_rolling_change(
    sessions: sessionmaker[Session],
) -> None:
    _start(sessions, Sent(), shards=4)  # the cycle of the old layout: 4 shards
    with sessions() as session:  # shard 0/4 is being written
        assert acquire_lease(
            session, lease_key="shard:0/4", holder="old", now=NOW, ttl=timedelta(hours=1)
        )
        session.commit()
    later = NOW + timedelta(minutes=5)
    start_cycle(  # a worker configured with 8 shards dispatches the next window
        sessions,
        FixedClock(later),
        source="erp",
        interval_seconds=300,
        shards=8,
        enqueue=Sent().shard,
    )

    with sessions() as session:
        # Shard 0/8 shares accounts with the running 0/4, although its lease key differs.
        new = writer_conflict(session, source="erp", shard=Shard(0, 8), now=later)
        # A shard of the old count arriving now (a redelivery, a retry) is dropped.
        old = writer_conflict(session, source="erp", shard=Shard(2, 4), now=later)
    assert new is ShardResult.BUSY
    assert old is ShardResult.DROPPED

    with sessions() as session:
        assert release_lease(session, lease_key="shard:0/4", holder="old")
        session.commit()
        assert writer_conflict(session, source="erp", shard=Shard(0, 8), now=later) is None


def test_before_any_cycle_the_configured_count_is_current(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        stale = writer_conflict(
            session, source="erp", shard=Shard(1, 4), now=NOW, configured_count=2
        )
        fine = writer_conflict(
            session, source="erp", shard=Shard(1, 2), now=NOW, configured_count=2
        )
    assert stale is ShardResult.DROPPED
    assert fine is None
