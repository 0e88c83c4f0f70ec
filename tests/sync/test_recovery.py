"""Tasks in doubt are recovered by the shard that owns their customer, whatever its id holds."""

from __future__ import annotations

import pytest

from sfsync.jobs.shards import Shard
from sfsync.store.models import TaskState
from sfsync.store.repositories import (
    AccountLinkValues,
    get_task,
    mark_sent,
    plan_task,
    put_account_link,
)
from tests.sync.conftest import START, SyncHarness

pytestmark = pytest.mark.org

#: Six shards put these customers in three different shards: 0, 3 and 4 ("ACME", the customer
#: the old ``split(":")[1]`` read both keys as).
SHARDS = 6
EU_KEY = "erp:ACME:EU:USD:1:day_7_call"
#: Readable two ways (customer "ACME" in EUR, or "ACME:EUR:2" in USD): the stored link decides.
EUR2_KEY = "erp:ACME:EUR:2:USD:1:day_7_call"


def _task_in_doubt(harness: SyncHarness, customer: str, key: str) -> str:
    """A Task the org has but the ledger left ``sent`` (a crash after the call): its id."""
    [created] = harness.gateway().create(
        "Task", [{"Subject": "Call about past-due invoices", "Collections_Key__c": key}]
    )
    assert created.ok
    assert created.id is not None
    with harness.sessions() as session:
        put_account_link(session, AccountLinkValues("erp", customer, "USD"), at=START)
        plan_task(
            session, task_key=key, case_key=key.rsplit(":", 1)[0], step="day_7_call", at=START
        )
        mark_sent(session, key, at=START)
        session.commit()
    return created.id


def _ledger(harness: SyncHarness, key: str) -> tuple[TaskState, str | None]:
    with harness.sessions() as session:
        entry = get_task(session, key)
        assert entry is not None
        return entry.state, entry.salesforce_id


def test_a_customer_id_with_a_colon_is_recovered_by_its_own_shard(harness: SyncHarness) -> None:
    eu_task = _task_in_doubt(harness, "ACME:EU", EU_KEY)
    eur2_task = _task_in_doubt(harness, "ACME:EUR:2", EUR2_KEY)

    harness.run(part=Shard(4, SHARDS))  # ACME's shard owns neither Task
    assert _ledger(harness, EU_KEY) == (TaskState.SENT, None)
    assert _ledger(harness, EUR2_KEY) == (TaskState.SENT, None)

    harness.run(part=Shard(0, SHARDS))
    assert _ledger(harness, EU_KEY) == (TaskState.CREATED, eu_task)
    assert _ledger(harness, EUR2_KEY) == (TaskState.SENT, None)

    harness.run(part=Shard(3, SHARDS))
    assert _ledger(harness, EUR2_KEY) == (TaskState.CREATED, eur2_task)
