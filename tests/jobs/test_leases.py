"""Two workers given overlapping shards never write the same accounts at the same time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.jobs.ledger import window_start
from sfsync.store.models import RunStatus
from tests.jobs.conftest import Cluster, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]


def test_two_workers_given_overlapping_shards_never_write_the_same_accounts_at_once(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    cluster.org.org.faults.add_latency(0.1)  # each shard run lasts long enough to collide
    first = window_start(datetime.now(UTC), 300)
    second = first + timedelta(minutes=5)
    # The same two shards twice (two windows, as from two beats with different clocks):
    # each pair covers exactly the same accounts, and both workers are free to take either.
    for index in (0, 1):
        cluster.send_shard(first, index, 2)
        cluster.send_shard(second, index, 2)
    cluster.start_worker("w1")
    cluster.start_worker("w2")

    def four_done() -> bool:
        runs = cluster.shard_runs()
        return len(runs) == 4 and all(run.status is not RunStatus.RUNNING for run in runs)

    wait_until(four_done, "four shard runs")

    runs = cluster.shard_runs()
    assert {run.status for run in runs} == {RunStatus.SUCCEEDED}, cluster.logs()
    workers = {run.counts["worker"] for run in runs}
    assert len(workers) == 2, "both workers took shard runs"
    for index in (0, 1):
        a, b = (run for run in runs if run.counts["shard"] == index)
        assert a.finished_at is not None
        assert b.finished_at is not None
        assert a.finished_at <= b.started_at or b.finished_at <= a.started_at, (
            f"shard {index} was written by {a.counts['worker']} from {a.started_at} to "
            f"{a.finished_at} and by {b.counts['worker']} from {b.started_at} to {b.finished_at}"
        )
    assert "shard_busy" in cluster.logs(tail=0), "the workers did contend for a shard"


def test_a_shard_sent_for_another_shard_count_is_dropped_not_run(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    window = window_start(datetime.now(UTC), 300)
    # Sent before SFSYNC_JOBS__SHARDS changed from 4 to 2: shard 1 of 4 overlaps shard 0 or 1
    # of 2, so running it could put a second writer on their accounts.
    cluster.send_shard(window, 1, 4)
    cluster.start_worker("w1")

    wait_until(lambda: "shard_count_changed" in cluster.logs(tail=0), "the stale shard task")
    wait_until(lambda: cluster.redis_depth() == 0, "the queue to drain")
    assert cluster.shard_runs() == []
