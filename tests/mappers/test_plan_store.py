"""``sfsync plan`` previews from what is already in Salesforce: the sync store read by the
cycle's own code, Accounts matched by read-only queries. A real cycle writes to the local org
over HTTPS between plans; the plan itself writes nothing (the org's own API counter)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from sfsync.clock import FixedClock
from sfsync.demo import load_policy
from sfsync.planview import run_plan
from sfsync.runner import compile_for_org
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.sandbox.server import OrgServer
from sfsync.settings import Settings
from sfsync.sources import build_source
from sfsync.sources.demo import DEMO_LAYOUT
from sfsync.sources.sql import create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.sync import CycleDeps, CycleReport, run_cycle
from tests.fixtures.gateways import org_gateway
from tests.fixtures.ledger import Ledger
from tests.mappers.conftest import REPO_CONFIG
from tests.mappers.test_cli import api_requests, record_count

pytestmark = pytest.mark.org

START = datetime(2026, 3, 16, 8, tzinfo=UTC)
TABLE_ROW = re.compile(
    r"│ (?P<name>\w+) +│ +(?P<create>\d+) │ +(?P<update>\d+) │ +(?P<close>\d+) │"
)


@dataclass
class World:
    """A ledger read through the real SQL source, a migrated store and the local org."""

    server: OrgServer
    clock: FixedClock
    ledger: Ledger
    settings: Settings

    @contextmanager
    def gateway(self) -> Iterator[SalesforceGateway]:
        gateway = org_gateway(self.server, self.clock)
        try:
            yield gateway
        finally:
            gateway.close()

    def account(self, customer: str, name: str) -> None:
        with self.gateway() as gateway:
            [result] = gateway.create("Account", [{"Name": name, "Accounting_Id__c": customer}])
        assert result.ok, result

    def sync(self) -> CycleReport:
        """One real cycle, writing to the org and the store."""
        engine = create_engine_from_url(self.settings.store.url)
        try:
            with self.gateway() as gateway:
                deps = CycleDeps(
                    source=build_source(self.settings.source, clock=self.clock),
                    gateway=gateway,
                    sessions=create_session_factory(engine),
                    mappings=compile_for_org(REPO_CONFIG / "mappings.yaml", gateway),
                    policy=load_policy(REPO_CONFIG / "policy.yaml"),
                    clock=self.clock,
                    settings=self.settings,
                )
                return run_cycle(deps)
        finally:
            engine.dispose()

    def plan(self) -> tuple[str, dict[str, tuple[int, int, int]]]:
        """``sfsync plan``'s output and its table (object → creates, updates, closes)."""
        out = io.StringIO()
        console = Console(file=out, width=200, highlight=False, soft_wrap=True)
        status = run_plan(
            self.settings, REPO_CONFIG / "sfsync.yaml", self.gateway, self.clock, console
        )
        text = out.getvalue()
        assert status == 0, text
        table = {
            m["name"]: (int(m["create"]), int(m["update"]), int(m["close"]))
            for m in TABLE_ROW.finditer(text)
        }
        return text, table


@pytest.fixture
def world(local_org: OrgServer, tmp_path: Path) -> Iterator[World]:
    clock = FixedClock(START)
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(store_url)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(create_source_engine(ledger_url), clock)
    settings = Settings(
        source={"kind": "sql", "name": "erp", "sql": {"url": ledger_url, "layout": DEMO_LAYOUT}},
        store={"url": store_url},
        sync={"overlap_seconds": 600},
    )
    yield World(local_org, clock, ledger, settings)
    ledger.engine.dispose()


def _two_customers(world: World) -> None:
    world.account("C1", "Acme Ltd")
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    world.ledger.invoice("I2", "C1", "300.00", due=date(2026, 3, 1))
    world.ledger.customer("C2", "Bolt GmbH")
    world.ledger.invoice("I3", "C2", "500.00", due=date(2026, 3, 2))


def test_before_any_sync_the_plan_creates_everything_for_matched_customers(
    world: World,
) -> None:
    _two_customers(world)
    world.account("C2", "Bolt GmbH")

    text, table = world.plan()

    assert table["Case"] == (2, 0, 0), text
    assert table["AR_Invoice__c"] == (3, 0, 0), text
    assert "Customers without an Account" not in text


def test_unmatched_customers_are_listed_apart_and_not_counted(world: World) -> None:
    _two_customers(world)  # C2 has no Account
    before_requests, before_records = api_requests(world.server), record_count(world.server)

    text, table = world.plan()

    assert table["Case"] == (1, 0, 0)
    assert table["AR_Invoice__c"] == (2, 0, 0)
    assert "Customers without an Account (1; not counted above" in text
    assert re.search(r"^\s+C2\s+Bolt GmbH$", text, re.MULTILINE)
    assert "C1  Acme Ltd" not in text
    assert re.search(r"Salesforce calls: [1-9]\d* reads, 0 writes", text)
    assert record_count(world.server) == before_records
    assert api_requests(world.server) > before_requests  # reads happened, counted by the org


def test_after_a_sync_the_plan_shows_no_creates(world: World) -> None:
    _two_customers(world)
    world.account("C2", "Bolt GmbH")
    report = world.sync()
    assert report.counts["cases_opened"] == 2
    records = record_count(world.server)

    text, table = world.plan()

    assert all(creates == 0 for creates, _, _ in table.values()), text
    assert all(updates == 0 and closes == 0 for _, updates, closes in table.values()), text
    assert record_count(world.server) == records
    assert "Salesforce calls:" in text
    assert re.search(r"\d+ reads, 0 writes", text)


def test_after_a_payment_the_plan_shows_the_updates(world: World) -> None:
    _two_customers(world)
    world.account("C2", "Bolt GmbH")
    world.sync()
    world.clock.advance(timedelta(hours=1))
    world.ledger.pay("C1", "200.00")  # into the oldest invoice, I2

    text, table = world.plan()

    assert table["Case"] == (0, 1, 0), text
    assert table["AR_Invoice__c"] == (0, 1, 0), text
    assert "Sample AR_Invoice__c update (1):" in text
    assert "'Invoice_Key__c': 'erp:I2'" in text


def test_after_a_full_payment_the_plan_shows_the_close(world: World) -> None:
    _two_customers(world)
    world.account("C2", "Bolt GmbH")
    world.sync()
    world.clock.advance(timedelta(hours=1))
    world.ledger.pay("C2", "500.00")
    before_requests, records = api_requests(world.server), record_count(world.server)

    text, table = world.plan()

    assert table["Case"] == (0, 0, 1), text
    assert "Sample Case close (1):" in text
    assert "'Collections_Key__c': 'erp:C2:USD:1'" in text
    assert record_count(world.server) == records
    assert api_requests(world.server) > before_requests
    assert re.search(r"\d+ reads, 0 writes", text)
