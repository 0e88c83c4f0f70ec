"""The calls a process spends getting ready (login, describe of the mapped objects) are reported
in its first sync run, so the daily API allowance used is never under-reported."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfsync.cli import app
from sfsync.runner import StopFlag, open_cycle, run_loop
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.writeback import CollectionsReport
from tests.fixtures.gateways import org_gateway
from tests.sync.conftest import CONFIG, SyncHarness

pytestmark = pytest.mark.org

MAPPED_OBJECTS = 4  # Case, Task, AR_Invoice__c, Account: one describe each at setup


def _finished(output: str) -> dict[str, object]:
    [line] = [
        json.loads(text)
        for text in output.splitlines()
        if text.startswith("{") and '"sync_run_finished"' in text
    ]
    return line


def test_run_once_reports_the_login_and_describes_of_its_setup(
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
    finished = _finished(result.output)
    assert finished["api_auth"] == 1  # the process logged in once, before the run
    assert isinstance(finished["api_reads"], int)
    assert finished["api_reads"] >= MAPPED_OBJECTS
    summary = re.search(
        r"Salesforce calls \(read / write / auth\)\s*│\s*(\d+) / (\d+) / (\d+)", result.output
    )
    assert summary is not None, result.output
    assert int(summary.group(3)) == 1


def test_setup_calls_are_counted_once_in_a_loop(harness: SyncHarness) -> None:
    gateways: list[SalesforceGateway] = []

    @contextmanager
    def opener() -> Iterator[SalesforceGateway]:
        gateway = org_gateway(harness.server, harness.clock)
        gateways.append(gateway)
        try:
            yield gateway
        finally:
            gateway.close()

    settings = harness.settings.model_copy(
        update={"store": harness.settings.store.model_copy(update={"url": _store_url(harness)})}
    )
    reports: list[CollectionsReport] = []
    stop = StopFlag()

    def keep(report: CollectionsReport) -> None:
        reports.append(report)
        if len(reports) == 2:
            stop.event.set()

    with open_cycle(settings, CONFIG / "sfsync.yaml", harness.clock, opener) as deps:
        run_loop(deps, interval=0, stop=stop, on_report=keep)
        total = gateways[0].calls

    first, second = (report.cycle.calls for report in reports)
    assert first.auth == 1
    assert first.read >= MAPPED_OBJECTS
    assert second.auth == 0
    reported = sum(r.cycle.calls.total + r.writeback.calls.total for r in reports)
    assert reported <= total.total
    assert total.auth == 1


def _store_url(harness: SyncHarness) -> str:
    engine = harness.engines[0]
    return engine.url.render_as_string(hide_password=False)
