"""Promise checks as a periodic task of their own: a promise whose date plus grace passed is
judged (by its shard's one writer) as soon as ``sfsync.promise_checks`` runs, once per window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from sfsync.jobs.ledger import window_start, window_text
from sfsync.jobs.schedule import PROMISE_CHECKS_TASK
from sfsync.store.models import Promise, PromiseStatus, RunStatus, SyncRun
from tests.jobs.conftest import Cluster, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]


def _promise_due(cluster: Cluster, case_key: str) -> None:
    """A rep's promise on ``case_key``, dated ten days ago and never paid (grace is 3 days)."""
    _, customer, currency, _ = case_key.split(":")
    now = datetime.now(UTC)
    with cluster.sessions() as session:
        session.add(
            Promise(
                promise_key=f"{case_key}:promise-test",
                customer_id=customer,
                case_key=case_key,
                promised_date=now.date() - timedelta(days=10),
                amount=Decimal("100.00"),
                currency=currency,
                status=PromiseStatus.PENDING,
                created_at=now - timedelta(days=12),
            )
        )
        session.commit()


def _promise_status(cluster: Cluster) -> PromiseStatus:
    with cluster.sessions() as session:
        return session.scalars(select(Promise.status)).one()


def _runs(cluster: Cluster, prefix: str) -> list[SyncRun]:
    with cluster.sessions() as session:
        statement = select(SyncRun).where(SyncRun.schedule_key.startswith(prefix))
        return list(session.scalars(statement))


def test_a_due_promise_is_acted_on_when_the_promise_checks_run_once(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    cluster.start_worker("w1")
    window = window_start(datetime.now(UTC), 300)
    cluster.send_cycle(window)
    assert cluster.wait_cycle(window).status is RunStatus.SUCCEEDED, cluster.logs()
    case_key = sorted(
        row["Collections_Key__c"] for row in cluster.rows("SELECT Collections_Key__c FROM Case")
    )[0]
    _promise_due(cluster, case_key)
    broken = "SELECT Collections_Key__c FROM Task WHERE Subject LIKE 'Promise broken%'"
    assert cluster.rows(broken) == []

    checks = window_text(window_start(datetime.now(UTC), 900))
    for _ in range(2):  # two beats, or a redelivery: one run for the window
        cluster.client.send_task(PROMISE_CHECKS_TASK, args=[checks])

    wait_until(lambda: _promise_status(cluster) is not PromiseStatus.PENDING, "the verdict")
    wait_until(lambda: cluster.redis_depth() == 0, "every message to be handled")
    assert _promise_status(cluster) is PromiseStatus.BROKEN
    follow_ups = cluster.rows(broken)
    assert len(follow_ups) == 1, follow_ups
    [claim] = [run for run in _runs(cluster, "promise_checks:") if run.kind.startswith("sched")]
    assert claim.schedule_key == f"promise_checks:erp:{checks}"
    assert claim.status is RunStatus.SUCCEEDED, (claim.error, cluster.logs())
    [shard_run] = _runs(cluster, f"promise_checks:erp:{checks}:shard:")
    assert shard_run.status is RunStatus.SUCCEEDED, (shard_run.error, cluster.logs())
    assert cluster.logs(tail=0).count("job_already_done") == 1
