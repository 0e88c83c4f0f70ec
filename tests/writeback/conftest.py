"""The writeback's test world: the local org, a SQLite store, a small SQL ledger (the demo
tables, with the notes table) and one injected clock that the org's clock follows.

:class:`World` is what a test drives: ``ledger`` edits the accounting side, ``rep`` is a real
simple-salesforce client acting as a rep in the org, ``collect()`` runs writeback + cycle +
dispute Cases, ``rows()`` reads what a rep would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.format import format_soql
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sfsync.clock import FixedClock
from sfsync.demo import load_policy
from sfsync.mappers.compile import CompiledMappings
from sfsync.runner import compile_for_org
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.sandbox.server import OrgServer
from sfsync.settings import Settings
from sfsync.sources.base import InvoiceSource
from sfsync.sources.demo import DEMO_LAYOUT
from sfsync.sources.sql import SqlSource, create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.sync import CycleDeps
from sfsync.writeback import CollectionsReport, WritebackReport, run_collections, run_writeback
from tests.fixtures.gateways import org_gateway
from tests.fixtures.ledger import Ledger

CONFIG = Path(__file__).resolve().parents[2] / "config"
START = datetime(2026, 3, 16, 8, tzinfo=UTC)
SOURCE = "erp"


@dataclass
class World:
    """One scenario: org, rep client, store, ledger, clock."""

    server: OrgServer
    rep: Salesforce
    clock: FixedClock
    ledger: Ledger
    sessions: sessionmaker[Session]
    mappings: CompiledMappings
    settings: Settings
    source: InvoiceSource | None = None
    gateways: list[SimpleSalesforceGateway] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    def gateway(self) -> SimpleSalesforceGateway:
        gateway = org_gateway(self.server, self.clock)
        self.gateways.append(gateway)
        return gateway

    def deps(self) -> CycleDeps:
        source = self.source or SqlSource(SOURCE, self.ledger.engine, DEMO_LAYOUT, self.clock)
        return CycleDeps(
            source=source,
            gateway=self.gateway(),
            sessions=self.sessions,
            mappings=self.mappings,
            policy=load_policy(CONFIG / "policy.yaml"),
            clock=self.clock,
            settings=self.settings,
        )

    def collect(self) -> CollectionsReport:
        """Writeback, a cycle and the dispute Cases, at the clock's time."""
        return run_collections(self.deps())

    def writeback(self) -> WritebackReport:
        return run_writeback(self.deps())

    def advance(self, days: int = 0, hours: int = 0, minutes: int = 0) -> None:
        """Move sfsync's clock and the org's clock together."""
        self.clock.advance(timedelta(days=days, hours=hours, minutes=minutes))
        self.server.org.clock.set(self.clock.now(), frozen=True)

    def account(self, customer: str, name: str) -> str:
        result = self.rep.Account.create({"Name": name, "Accounting_Id__c": customer})
        return str(result["id"])

    def rows(self, soql: str) -> list[dict[str, Any]]:
        return list(self.gateway().query(soql))

    def case(self, key: str) -> dict[str, Any]:
        [row] = self.rows(
            format_soql(
                "SELECT Id, Collections_Key__c, Status, IsClosed, Priority, Past_Due_Amount__c, "
                "Disputed_Amount__c, Promise_Status__c, Promise_Date__c, Promise_Amount__c, "
                "Next_Action_Date__c, Subject, OwnerId, ParentId, Description FROM Case "
                "WHERE Collections_Key__c = {}",
                key,
            )
        )
        return row

    def tasks(self) -> list[dict[str, Any]]:
        return self.rows(
            "SELECT Id, Collections_Key__c, Subject, Status, IsClosed, Priority, WhatId "
            "FROM Task ORDER BY Collections_Key__c"
        )

    def complete(self, task_key: str, **fields: Any) -> None:
        """A rep completes the Task ``task_key`` with ``fields`` (real client, real HTTPS)."""
        [task] = [row for row in self.tasks() if row["Collections_Key__c"] == task_key]
        self.rep.Task.update(task["Id"], {"Status": "Completed", **fields})

    def close(self) -> None:
        while self.gateways:
            self.gateways.pop().close()
        for engine in self.engines:
            engine.dispose()


@pytest.fixture
def world(local_org: OrgServer, sf: Salesforce, tmp_path: Path) -> Iterator[World]:
    """A fresh world on SQLite, the org reset to its seed and its clock on sfsync's."""
    clock = FixedClock(START)
    local_org.org.clock.set(START, frozen=True)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(url)
    store = create_engine_from_url(url)
    ledger = Ledger(create_source_engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}"), clock)
    settings = Settings(sync={"overlap_seconds": 600, "writeback_overlap_seconds": 120})
    gateway = org_gateway(local_org, clock)
    try:
        mappings = compile_for_org(CONFIG / "mappings.yaml", gateway)
    finally:
        gateway.close()
    scenario = World(
        local_org, sf, clock, ledger, create_session_factory(store), mappings, settings
    )
    scenario.engines.extend([store, ledger.engine])
    yield scenario
    scenario.close()
    local_org.org.clock.reset()
