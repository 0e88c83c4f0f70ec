"""One canonical ``sync_run_finished`` per collections run, carrying every Salesforce call the
run made (writeback queries, the cycle, the dispute Cases): its total is what the org counted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from sfsync.errors import ConfigError
from sfsync.sources.demo import DEMO_LAYOUT
from sfsync.sources.sql import SqlSource
from sfsync.writeback import run_collections
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"


def _org_calls(world: World) -> int:
    return int(world.server.org.limits.used())


def _finished(logs: list[dict[str, Any]]) -> dict[str, Any]:
    [line] = [entry for entry in logs if entry["event"] == "sync_run_finished"]
    return line


def test_the_canonical_line_carries_writeback_cycle_and_dispute_calls(world: World) -> None:
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.ledger.invoice("I2", "C1", "400.00", due=TODAY - timedelta(days=5))
    world.account("C1", "Acme Ltd")
    world.collect()
    world.advance(hours=2)
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Disputed",
        Description="Customer says INV-I2 was never delivered",
    )
    world.advance(hours=1)
    deps = world.deps()
    before = _org_calls(world)

    with capture_logs() as logs:
        report = run_collections(deps)

    spent = _org_calls(world) - before
    finished = _finished(logs)
    # The org counts every REST call but no login (like Salesforce's daily allowance).
    assert finished["api_reads"] + finished["api_writes"] == spent
    assert report.dispute_cases["opened"] == 1
    assert finished["api_calls_writeback"] == report.writeback.calls.total > 0
    assert finished["api_calls_disputes"] > 0
    assert finished["api_calls_cycle"] == report.cycle.calls.total > 0
    assert finished["api_calls"] == spent + finished["api_auth"]
    assert finished["api_calls"] == (
        finished["api_calls_writeback"]
        + finished["api_calls_cycle"]
        + finished["api_calls_disputes"]
    )


def test_an_idle_run_logs_one_line_with_the_writeback_queries(world: World) -> None:
    deps = world.deps()
    before = _org_calls(world)

    with capture_logs() as logs:
        run_collections(deps)

    finished = _finished(logs)
    assert finished["api_calls_writeback"] == 2  # Tasks and Cases changed since the watermark
    assert finished["api_reads"] + finished["api_writes"] == _org_calls(world) - before


def test_a_failed_cycle_still_logs_one_line_with_the_writeback_calls(world: World) -> None:
    layout = DEMO_LAYOUT.model_copy(update={"invoices_query": "SELECT id FROM no_such_table"})
    world.source = SqlSource("erp", world.ledger.engine, layout, world.clock)
    deps = world.deps()

    with capture_logs() as logs, pytest.raises(ConfigError, match="check the source layout"):
        run_collections(deps)

    finished = _finished(logs)
    assert finished["status"] == "failed"
    assert "no_such_table" in finished["error"]
    assert finished["api_calls_writeback"] == 2
    assert "api_calls_disputes" not in finished
