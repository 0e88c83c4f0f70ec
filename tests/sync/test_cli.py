"""``sfsync run`` and the run loop, end to end on the embedded default (local org, demo ledger)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.cli import app
from sfsync.errors import RetryableError
from sfsync.runner import StopFlag, run_loop
from sfsync.store.repositories import get_watermark
from sfsync.writeback import CollectionsReport
from tests.sync.conftest import CONFIG, SyncHarness, case_rows

pytestmark = pytest.mark.org


def test_run_once_on_a_fresh_checkout_syncs_the_demo_and_prints_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")

    result = CliRunner().invoke(
        app,
        ["--log-format", "json", "run", "--once", "--config", str(config / "sfsync.yaml")],
    )

    assert result.exit_code == 0, result.output
    # The main job: read back what reps did (run 1), then the cycle that sees it (run 2).
    assert "writeback run 1" in result.output
    assert "sync run 2 (demo): succeeded" in result.output
    assert "customers without an Account" in result.output
    events = [
        json.loads(line)["event"] for line in result.output.splitlines() if line.startswith("{")
    ]
    assert "writeback_finished" not in events  # debug detail: the canonical line has its calls
    assert events.count("sync_run_finished") == 1
    finished = [
        json.loads(line)
        for line in result.output.splitlines()
        if line.startswith("{") and '"sync_run_finished"' in line
    ]
    assert finished[0]["accounts_read"] > 0
    assert finished[0]["quarantined"] > 0  # the demo ledger's bad rows
    assert finished[0]["api_writes"] == 0  # no demo customer has an Account yet
    assert (tmp_path / "var" / "sfsync.db").exists()


def test_the_loop_runs_cycles_until_stopped(harness: SyncHarness) -> None:
    harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    stop = StopFlag()
    reports: list[CollectionsReport] = []

    def keep(report: CollectionsReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            stop.event.set()

    cycles = run_loop(harness.deps(), interval=0, stop=stop, on_report=keep)

    assert cycles == 2
    assert [report.cycle.counts["cases_opened"] for report in reports] == [1, 0]
    assert reports[1].cycle.calls.write == 0
    assert len(case_rows(harness)) == 1


def test_a_stop_signal_ends_the_loop_after_the_cycle_in_progress() -> None:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop = StopFlag()
    try:
        stop.install()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_a_failed_cycle_is_reported_and_the_loop_goes_on(harness: SyncHarness) -> None:
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    deps = harness.deps()
    harness.org.faults.unavailable(requests=1_000)  # the org is down for both cycles
    stop = StopFlag()
    errors: list[Exception] = []

    def keep(error: Exception) -> None:
        errors.append(error)
        if len(errors) == 2:
            stop.event.set()

    cycles = run_loop(deps, interval=0, stop=stop, on_report=lambda _: None, on_error=keep)

    assert cycles == 2
    assert all(isinstance(error, RetryableError) for error in errors)
    harness.org.faults.clear()
    with harness.sessions() as session:
        assert get_watermark(session, "erp", "invoices") is None
