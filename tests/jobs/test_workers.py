"""A cycle through real Celery workers does what the embedded run does, exactly once per window."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from sfsync.clock import SystemClock
from sfsync.jobs.ledger import window_start
from sfsync.jobs.status import collect_status, render_status
from sfsync.runner import open_cycle
from sfsync.settings import Settings
from sfsync.store.db import upgrade_database
from sfsync.store.models import RunStatus, SyncRun
from sfsync.writeback import run_collections
from tests.jobs.conftest import (
    CONFIG,
    SOURCE,
    Cluster,
    count_by,
    create_accounts,
    wait_until,
)
from tests.jobs.orgview import open_org_gateway, org_state, rows, state_differences

SQL_URL = "SFSYNC_SOURCE__SQL__URL"
pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.org]


def _window(offset_minutes: int = 0) -> datetime:
    return window_start(datetime.now(UTC), 300) + timedelta(minutes=offset_minutes)


def _embedded_settings(cluster: Cluster, store_url: str) -> Settings:
    """The settings ``sfsync run --once`` would use against the same org and ledger."""
    config = cluster.org.org.config
    return Settings(
        source={
            "kind": "sql",
            "name": SOURCE,
            "sql": {"url": cluster.env["SFSYNC_SOURCE__SQL__URL"]},
        },
        store={"url": store_url},
        embedded={"enabled": False},
        salesforce={
            "auth": "client_credentials",
            "login_url": cluster.org.url,
            "client_id": config.client_id,
            "client_secret": SecretStr(config.client_secret),
            "ca_bundle": Path(cluster.org.ca_path),
            "api_version": "59.0",
        },
    )


def test_cycle_through_workers_leaves_the_org_as_the_embedded_run_does(
    make_cluster: Callable[..., Cluster], tmp_path: Path
) -> None:
    cluster = make_cluster(shards=4)
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    window = _window()

    cluster.send_cycle(window)
    tick = cluster.wait_cycle(window)

    assert tick.status is RunStatus.SUCCEEDED, cluster.logs()
    shards = cluster.shard_runs()
    assert sorted(run.counts["shard"] for run in shards) == [0, 1, 2, 3]
    assert {run.status for run in shards} == {RunStatus.SUCCEEDED}
    allocation = cluster.org.org.config.api_allocation
    with cluster.sessions() as session:  # what ``sfsync status`` shows: the real run's budget
        status = render_status(collect_status(session, cluster.redis.url, datetime.now(UTC)))
    [budget] = [line for line in status if line.startswith("API budget:")]
    assert re.fullmatch(rf"API budget: \d+ of {allocation} calls left \(as recorded .+\)", budget)
    assert all(run.counts["api_max"] == allocation for run in shards)
    assert all(0 < run.counts["api_used"] < allocation for run in shards)
    distributed = org_state(cluster.org)
    assert distributed["cases"], "the ledger has past-due customers: Cases must be opened"
    assert set(distributed["invoices"]) == cluster.invoice_keys()

    # The same ledger, synced by one embedded run (writeback, cycle and dispute Cases, as the
    # workers do them) into a freshly reset org and an empty store.
    cluster.stop_workers()
    cluster.org.org.reset()
    create_accounts(cluster.org, cluster.customer_ids())
    store = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade_database(store)
    with open_cycle(
        _embedded_settings(cluster, store),
        CONFIG,
        SystemClock(),
        lambda: open_org_gateway(cluster.org),
    ) as deps:
        report = run_collections(deps)  # ``sfsync run --once``: read back, sync, disputes
    assert report.cycle.status == "succeeded"

    assert state_differences(distributed, org_state(cluster.org)) == []


def test_a_second_beat_or_a_duplicate_delivery_never_doubles_a_run(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(shards=2)
    window = _window()
    for _ in range(3):  # three beats (or redeliveries) of the same window
        cluster.send_cycle(window)
    cluster.send_shard(window, 0, 2)  # and a stray duplicate of one shard
    cluster.start_worker("w1")

    tick = cluster.wait_cycle(window)
    wait_until(lambda: cluster.redis_depth() == 0, "the queue to drain")

    assert tick.status is RunStatus.SUCCEEDED, cluster.logs()
    assert len(cluster.ticks()) == 1
    assert len(cluster.shard_runs()) == 2
    with cluster.sessions() as session:
        cycles = session.scalars(select(SyncRun).where(SyncRun.kind == "cycle")).all()
    assert len(cycles) == 2, "one sync run per shard, none for the duplicates"
    assert (
        max(
            count_by(
                rows(cluster.org, "SELECT Collections_Key__c FROM Case"), "Collections_Key__c"
            ).values()
        )
        == 1
    )
