"""kill -9 of a worker at each boundary, 21 times: no duplicate record, no lost invoice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.jobs.crash import AFTER_CALL, AFTER_COMMIT, BEFORE_CALL
from sfsync.jobs.ledger import window_start
from sfsync.store.models import RunStatus
from tests.jobs.conftest import Cluster, count_by
from tests.jobs.orgview import rows

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]

BOUNDARIES = (BEFORE_CALL, AFTER_CALL, AFTER_COMMIT)
KILLS = 21


def test_kill_9_at_every_boundary_duplicates_nothing_and_loses_nothing(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    worker = cluster.start_worker("w1")
    customers = cluster.customer_ids()
    first = window_start(datetime.now(UTC), 300)
    killed: list[str] = []

    for attempt in range(KILLS):
        point = BOUNDARIES[attempt % len(BOUNDARIES)]
        # New work every cycle, so every cycle writes: an invoice for one customer.
        cluster.add_invoice(customers[attempt % len(customers)], "250.00", 3 + 7 * attempt)
        marker = cluster.arm(point)
        window = first + timedelta(minutes=5 * attempt)
        cluster.send_cycle(window)

        tick = cluster.wait_cycle(window)

        assert not marker.exists(), f"attempt {attempt}: no worker reached {point}"
        assert tick.status is RunStatus.SUCCEEDED, cluster.logs()
        killed.append(point)

    assert worker.process.poll() is None, "the worker (its pool) outlives every kill"
    assert len(killed) == KILLS
    assert {point: killed.count(point) for point in BOUNDARIES} == dict.fromkeys(BOUNDARIES, 7)
    cases = rows(cluster.org, "SELECT Collections_Key__c FROM Case")
    tasks = rows(cluster.org, "SELECT Collections_Key__c FROM Task")
    invoices = rows(cluster.org, "SELECT Invoice_Key__c FROM AR_Invoice__c")
    assert cases, "the scenario must open Cases for the check to mean anything"
    assert tasks, "the scenario must create Tasks for the check to mean anything"
    assert max(count_by(cases, "Collections_Key__c").values()) == 1
    assert max(count_by(tasks, "Collections_Key__c").values()) == 1
    assert max(count_by(invoices, "Invoice_Key__c").values()) == 1
    assert {row["Invoice_Key__c"] for row in invoices} == cluster.invoice_keys()
