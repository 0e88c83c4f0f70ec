"""Writeback and escalation as periodic tasks of their own: once per window, never beside a
shard writer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sfsync.jobs.ledger import window_start, window_text
from sfsync.jobs.schedule import ESCALATION_TASK, WRITEBACK_TASK
from sfsync.store.models import RunStatus, SyncRun
from sfsync.store.repositories import acquire_lease, release_lease
from tests.jobs.conftest import Cluster, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]


def _runs(cluster: Cluster, kind: str) -> list[SyncRun]:
    with cluster.sessions() as session:
        return list(session.scalars(select(SyncRun).where(SyncRun.kind == kind)))


def test_writeback_and_escalation_run_once_per_window_however_often_sent(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    window = window_text(window_start(datetime.now(UTC), 300))
    for _ in range(2):  # two beats, or a redelivery
        cluster.client.send_task(WRITEBACK_TASK, args=[window])
        cluster.client.send_task(ESCALATION_TASK, args=[window])
    cluster.start_worker("w1", cli=True)  # through ``sfsync worker``

    wait_until(lambda: cluster.redis_depth() == 0, "the four messages to be handled")

    for job in ("writeback", "escalation"):
        [claim] = _runs(cluster, f"scheduled_{job}")
        assert claim.status is RunStatus.SUCCEEDED, (claim.error, cluster.logs())
        assert claim.schedule_key == f"{job}:erp:{window}"
        assert len(_runs(cluster, job)) == 1, f"the {job} itself ran once"
    assert cluster.logs(tail=0).count("job_already_done") == 2


def test_escalation_waits_while_a_shard_is_being_written(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    window = window_start(datetime.now(UTC), 300)
    with cluster.sessions() as session:  # a shard writer holds shard 1 (another worker)
        assert acquire_lease(
            session,
            lease_key="shard:1/2",
            holder="other-worker-task",
            now=datetime.now(UTC),
            ttl=timedelta(minutes=5),
        )
        session.commit()
    cluster.client.send_task(ESCALATION_TASK, args=[window_text(window)])
    cluster.start_worker("w1")

    wait_until(lambda: "job_busy" in cluster.logs(tail=0), "the escalation to find shard 1 busy")
    assert _runs(cluster, "escalation") == []
    with cluster.sessions() as session:
        assert release_lease(session, lease_key="shard:1/2", holder="other-worker-task")
        session.commit()

    wait_until(lambda: _runs(cluster, "scheduled_escalation"), "the escalation to run")
    wait_until(lambda: cluster.redis_depth() == 0, "the escalation to finish")
    [claim] = _runs(cluster, "scheduled_escalation")
    assert claim.status is RunStatus.SUCCEEDED, (claim.error, cluster.logs())
