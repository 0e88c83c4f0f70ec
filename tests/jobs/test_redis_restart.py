"""Redis killed and restarted empty mid-run: the reconciler re-enqueues, nothing is lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from sfsync.jobs.ledger import window_start
from sfsync.store.models import RunStatus
from tests.jobs.conftest import Cluster, count_by, wait_until
from tests.jobs.orgview import rows

#: How often the test sends the reconcile task (beat would, every reconcile interval).
RECONCILE_EVERY_S = 2.0
pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]


def test_redis_restart_mid_run_completes_the_cycle_and_loses_nothing(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=4)
    cluster.org.org.faults.add_latency(0.2)  # a shard run lasts long enough to be cut off
    cluster.start_worker("w1")
    window = window_start(datetime.now(UTC), 300)
    cluster.send_cycle(window)
    wait_until(
        lambda: any(run.status is RunStatus.RUNNING for run in cluster.shard_runs()),
        "a shard to be running",
    )

    cluster.redis.kill()  # queued and unacknowledged messages are gone with it
    cluster.redis.start()
    assert cluster.redis_depth() == 0

    sent_at = [-1e9]

    def cycle_ended() -> bool:
        if time.monotonic() - sent_at[0] >= RECONCILE_EVERY_S:  # what beat does, compressed
            cluster.send_reconcile()
            sent_at[0] = time.monotonic()
        tick = cluster.tick(window)
        return tick is not None and tick.status is not RunStatus.RUNNING

    wait_until(cycle_ended, "the reconciled cycle to end")

    tick = cluster.tick(window)
    assert tick is not None
    assert tick.status is RunStatus.SUCCEEDED, cluster.logs()
    assert "work_reenqueued" in cluster.logs(tail=0)
    invoices = rows(cluster.org, "SELECT Invoice_Key__c FROM AR_Invoice__c")
    assert {row["Invoice_Key__c"] for row in invoices} == cluster.invoice_keys()
    assert max(count_by(invoices, "Invoice_Key__c").values()) == 1
    cases = rows(cluster.org, "SELECT Collections_Key__c FROM Case")
    assert max(count_by(cases, "Collections_Key__c").values()) == 1
