"""The sync cycle's test harness: a real local org, a real SQLite (or PostgreSQL) store, and a
small accounting ledger in SQLite read through the real SQL source, all on one injected clock.

:class:`SyncHarness` is what a test drives: ``ledger`` edits the accounting side (customers,
invoices, payments), ``run()`` performs one :func:`~sfsync.sync.run_cycle`, ``org_rows()`` reads
what a rep would see in Salesforce.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sfsync.clock import FixedClock
from sfsync.demo import load_policy
from sfsync.mappers.compile import CompiledMappings
from sfsync.runner import compile_for_org
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.salesforce.forwarding import ForwardingGateway
from sfsync.salesforce.ports import ItemResult
from sfsync.sandbox.server import OrgServer
from sfsync.settings import Settings
from sfsync.sources.demo import (
    DEMO_LAYOUT,
)
from sfsync.sources.sql import SqlSource, create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.sync import CycleDeps, CycleReport, run_cycle
from tests.fixtures.databases import scratch_postgres_database
from tests.fixtures.gateways import org_gateway
from tests.fixtures.ledger import Ledger

CONFIG = Path(__file__).resolve().parents[2] / "config"
#: The first morning of every scenario: 08:00 UTC.
START = datetime(2026, 3, 16, 8, tzinfo=UTC)
SOURCE = "erp"


@dataclass
class SyncHarness:
    """One scenario's world: org, store, ledger, clock and the dependencies of a cycle."""

    server: OrgServer
    clock: FixedClock
    ledger: Ledger
    sessions: sessionmaker[Session]
    mappings: CompiledMappings
    settings: Settings
    gateways: list[SimpleSalesforceGateway] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    @property
    def org(self) -> Any:
        return self.server.org

    def gateway(self) -> SimpleSalesforceGateway:
        """A fresh gateway (a new process would log in again)."""
        gateway = org_gateway(self.server, self.clock)
        self.gateways.append(gateway)
        return gateway

    def deps(self, gateway: SimpleSalesforceGateway | None = None) -> CycleDeps:
        source = SqlSource(SOURCE, self.ledger.engine, DEMO_LAYOUT, self.clock)
        return CycleDeps(
            source=source,
            gateway=gateway or self.gateway(),
            sessions=self.sessions,
            mappings=self.mappings,
            policy=load_policy(CONFIG / "policy.yaml"),
            clock=self.clock,
            settings=self.settings,
        )

    def run(self, gateway: SimpleSalesforceGateway | None = None, **options: Any) -> CycleReport:
        """One cycle at the clock's time."""
        return run_cycle(self.deps(gateway), **options)

    def advance(self, days: int = 0, hours: int = 0) -> None:
        self.clock.advance(timedelta(days=days, hours=hours))

    def account(self, customer: str, name: str) -> str:
        """Create the Salesforce Account a customer is matched to; returns its id."""
        gateway = self.gateway()
        [result] = gateway.create("Account", [{"Name": name, "Accounting_Id__c": customer}])
        assert result.ok, result
        assert result.id is not None
        return result.id

    def rows(self, soql: str) -> list[dict[str, Any]]:
        """What a rep would see: a query against the org (through its own gateway)."""
        return list(self.gateway().query(soql))

    def close(self) -> None:
        while self.gateways:
            self.gateways.pop().close()
        for engine in self.engines:
            engine.dispose()


def make_harness(
    server: OrgServer, tmp_path: Path, store_url: str | None = None, **sync: Any
) -> SyncHarness:
    clock = FixedClock(START)
    url = store_url or f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(url)
    store = create_engine_from_url(url)
    sessions = create_session_factory(store)
    ledger = Ledger(create_source_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}"), clock)
    settings = Settings(sync={"overlap_seconds": 600, **sync})
    gateway = org_gateway(server, clock)
    try:
        mappings = compile_for_org(CONFIG / "mappings.yaml", gateway)
    finally:
        gateway.close()
    world = SyncHarness(server, clock, ledger, sessions, mappings, settings)
    world.engines.extend([store, ledger.engine])
    return world


@pytest.fixture
def harness(local_org: OrgServer, tmp_path: Path) -> Iterator[SyncHarness]:
    """A fresh world on SQLite, the org reset to its seed."""
    world = make_harness(local_org, tmp_path)
    yield world
    world.close()


def case_rows(world: SyncHarness) -> list[dict[str, Any]]:
    """Every collections Case in the org, by key."""
    return world.rows(
        "SELECT Id, Collections_Key__c, AccountId, Status, IsClosed, Subject, Priority, "
        "Past_Due_Amount__c, Aging_1_30__c, Aging_31_60__c, Open_Invoice_Count__c, "
        "Oldest_Days_Past_Due__c, Next_Action_Date__c FROM Case ORDER BY Collections_Key__c"
    )


def task_rows(world: SyncHarness) -> list[dict[str, Any]]:
    """Every Task in the org, by key."""
    return world.rows(
        "SELECT Id, Collections_Key__c, Subject, WhatId, ActivityDate, Status, IsClosed "
        "FROM Task ORDER BY Collections_Key__c"
    )


def invoice_rows(world: SyncHarness) -> list[dict[str, Any]]:
    """Every AR_Invoice__c record in the org, by key."""
    return world.rows(
        "SELECT Id, Invoice_Key__c, Account__c, Case__c, Balance__c, Days_Past_Due__c, Status__c "
        "FROM AR_Invoice__c ORDER BY Invoice_Key__c"
    )


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped after it."""
    with scratch_postgres_database(postgres_url, "sync") as url:
        yield url


class CrashError(Exception):
    """The process died right after Salesforce answered."""


class FaultingGateway(ForwardingGateway):
    """The real gateway, with a fault injected around one write (a port double, not a mock).

    Around the first ``operation`` on ``sobject``: ``drop`` arms the local org's "drop the
    connection after the write commits"; ``crash`` lets the write happen, then raises as if the
    process died before recording it; ``lock`` makes every record of that write fail with
    ``UNABLE_TO_LOCK_ROW`` until the gateway's retries are spent.
    """

    def __init__(
        self, world: SyncHarness, operation: str, sobject: str, *, fault: str = "drop"
    ) -> None:
        super().__init__(world.gateway())
        self._org = world.org
        self._operation, self._sobject, self._fault = operation, sobject, fault
        self.fired = False

    def _around(self, operation: str, sobject: str) -> bool:
        hit = not self.fired and (operation, sobject) == (self._operation, self._sobject)
        if hit:
            self.fired = True
            if self._fault == "drop":
                self._org.faults.drop_after_commit(1)
            if self._fault == "lock":
                self._org.faults.fail_next_writes(1_000)
        return hit and self._fault == "crash"

    def _after(self, hit: bool, object_name: str) -> None:
        if self._fault == "lock":
            self._org.faults.clear()
        if hit:
            raise CrashError(object_name)

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        crash = self._around("create", object_name)
        results = self.inner.create(object_name, records)
        self._after(crash, object_name)
        return results

    def upsert(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, external_id_field: str
    ) -> list[ItemResult]:
        crash = self._around("upsert", object_name)
        results = self.inner.upsert(object_name, records, external_id_field=external_id_field)
        self._after(crash, object_name)
        return results
