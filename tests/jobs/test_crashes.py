"""kill -9 of a worker at each boundary of the shard writer (and of the dispatcher), 24 times:
no duplicate record, no lost invoice, and the worker's log names the task and boundary of
every kill."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sfsync.jobs.crash import AFTER_CALL, AFTER_COMMIT, BEFORE_CALL
from sfsync.jobs.ledger import window_start
from sfsync.jobs.schedule import CYCLE_TASK, SHARD_TASK
from sfsync.store.models import RunStatus
from tests.jobs.conftest import Cluster, count_by, wait_until
from tests.jobs.orgview import rows

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]

#: (task, boundary): the shard task is the one that writes to Salesforce, so it is killed at
#: all three boundaries; the dispatcher (which writes nothing to Salesforce) after its commit.
KILL_PLAN = (
    *[(SHARD_TASK, BEFORE_CALL)] * 7,
    *[(SHARD_TASK, AFTER_CALL)] * 7,
    *[(SHARD_TASK, AFTER_COMMIT)] * 7,
    *[(CYCLE_TASK, AFTER_COMMIT)] * 3,
)
FIRED = re.compile(r"crashpoint_fired task=(\S+) point=(\S+)")


def _interleaved() -> list[tuple[str, str]]:
    """The plan in round-robin order, so each kind of kill meets a different moment."""
    groups: dict[tuple[str, str], int] = Counter(KILL_PLAN)
    order: list[tuple[str, str]] = []
    while any(groups.values()):
        for kind in list(groups):
            if groups[kind]:
                order.append(kind)
                groups[kind] -= 1
    return order


def test_kill_9_at_every_boundary_of_the_shard_writer_duplicates_nothing_and_loses_nothing(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    worker = cluster.start_worker("w1")
    customers = cluster.customer_ids()
    first = window_start(datetime.now(UTC), 300)

    for attempt, (task, point) in enumerate(_interleaved()):
        # New work every cycle, so every cycle writes: an invoice for one customer.
        cluster.add_invoice(customers[attempt % len(customers)], "250.00", 3 + 7 * attempt)
        marker = cluster.arm(f"{task}.{point}")
        window = first + timedelta(minutes=5 * attempt)
        cluster.send_cycle(window)

        tick = cluster.wait_cycle(window)

        wait_until(lambda m=marker: not m.exists(), f"attempt {attempt}: {task} to reach {point}")
        assert tick.status is RunStatus.SUCCEEDED, cluster.logs()

    def fired() -> Counter[tuple[str, str]]:
        return Counter(FIRED.findall(cluster.logs(tail=0)))

    wait_until(lambda: sum(fired().values()) == len(KILL_PLAN), "every kill to be logged")
    assert fired() == Counter(KILL_PLAN), "each kill hit the task and boundary it was armed for"
    assert worker.process.poll() is None, "the worker (its pool) outlives every kill"
    cases = rows(cluster.org, "SELECT Collections_Key__c FROM Case")
    tasks = rows(cluster.org, "SELECT Collections_Key__c FROM Task")
    invoices = rows(cluster.org, "SELECT Invoice_Key__c FROM AR_Invoice__c")
    assert cases, "the scenario must open Cases for the check to mean anything"
    assert tasks, "the scenario must create Tasks for the check to mean anything"
    assert max(count_by(cases, "Collections_Key__c").values()) == 1
    assert max(count_by(tasks, "Collections_Key__c").values()) == 1
    assert max(count_by(invoices, "Invoice_Key__c").values()) == 1
    assert {row["Invoice_Key__c"] for row in invoices} == cluster.invoice_keys()
