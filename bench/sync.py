"""The sync cycle against the local org, counting real API calls.

1. **First sync of 1,200 accounts** (the demo ledger, 10 invoices per customer on average):
   write calls against the floor ⌈A/200⌉ + ⌈T/200⌉ + ⌈I/200⌉ (A Cases, T Tasks, I invoice records
   written) and against a naive per-record loop (one query to match the Account, then one call
   per Case, invoice record and Task) written here for comparison. Target: ≤ 1.05 x floor.
2. **An idle cycle** right after: target ≤ 2 Salesforce calls.
3. **First sync of 10,000 accounts / 100,000 invoices**: wall time and peak RSS. Target ≤ 60 s.
   The org runs in this process too, so the RSS printed includes the org's own memory.

``SFSYNC_BENCH_SYNC_LARGE`` changes the size of step 3 (customers).
"""

from __future__ import annotations

import math
import os
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from sfsync.clock import FixedClock
from sfsync.demo import DEMO_DATE, load_policy
from sfsync.runner import compile_for_org
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.sandbox.server import OrgServer, start_local_org
from sfsync.settings import Settings
from sfsync.sources.demo import DEMO_LAYOUT, build_demo_ledger, customers_table
from sfsync.sources.sql import SqlSource, create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.sync import CycleDeps, CycleReport, run_cycle

SMALL_CUSTOMERS = 1_200
LARGE_CUSTOMERS = 10_000
NAIVE_SAMPLE = 60
TARGET_FLOOR_RATIO = 1.05
TARGET_IDLE_CALLS = 2
TARGET_LARGE_SECONDS = 60.0
CONFIG = Path("config")
START = datetime.combine(DEMO_DATE, day_time(8), UTC)


class _World:
    """An org, a store and a demo ledger of ``customers`` customers in ``root``."""

    def __init__(self, root: Path, customers: int) -> None:
        self.clock = FixedClock(START)
        self.server: OrgServer = start_local_org(
            root / "org", config_overrides={"api_allocation": 10_000_000}
        )
        ledger = build_demo_ledger(root / "ledger.sqlite", customers=customers)
        self.ledger = create_source_engine(f"sqlite:///{ledger}")
        url = f"sqlite:///{root / 'store.db'}"
        upgrade_database(url)
        self.store = create_engine_from_url(url)
        self.gateway = self.connect()
        self.mappings = compile_for_org(CONFIG / "mappings.yaml", self.gateway)
        self._accounts()

    def connect(self) -> SimpleSalesforceGateway:
        config = self.server.org.config
        settings = Settings().salesforce.model_copy(
            update={
                "login_url": self.server.url,
                "client_id": config.client_id,
                "client_secret": SecretStr(config.client_secret),
                "ca_bundle": Path(self.server.ca_path),
            }
        )
        return connect(settings, self.clock)

    def customer_ids(self) -> list[str]:
        with self.ledger.connect() as connection:
            return list(connection.execute(select(customers_table.c.id)).scalars())

    def _accounts(self) -> None:
        """Every customer has its Salesforce Account (set-up, not counted)."""
        ids = self.customer_ids()
        records = [{"Name": f"Account {ident}", "Accounting_Id__c": ident} for ident in ids]
        for start in range(0, len(records), 2_000):
            self.gateway.create("Account", records[start : start + 2_000])

    def deps(self, gateway: SimpleSalesforceGateway) -> CycleDeps:
        return CycleDeps(
            source=SqlSource("demo", self.ledger, DEMO_LAYOUT, self.clock),
            gateway=gateway,
            sessions=create_session_factory(self.store),
            mappings=self.mappings,
            policy=load_policy(CONFIG / "policy.yaml"),
            clock=self.clock,
            settings=Settings(),
        )

    def close(self) -> None:
        self.gateway.close()
        self.store.dispose()
        self.ledger.dispose()
        self.server.stop()


def _floor(report: CycleReport) -> int:
    counts = report.counts
    cases = counts["cases_opened"] + counts["cases_updated"] + counts["cases_closed"]
    return sum(
        math.ceil(n / 200)
        for n in (
            cases,
            counts["tasks_created"],
            counts["tasks_closed"],
            counts["invoices_upserted"],
        )
    )


def _naive_calls(world: _World, customers: list[str]) -> int:
    """A per-record loop: match the Account, then upsert each Case and record, create each Task."""
    gateway = world.connect()
    try:
        before = gateway.calls.total
        for customer in customers:
            found = list(gateway.query_in("Account", ["Id"], "Accounting_Id__c", [customer]))
            if not found:
                continue
            case_key = f"naive:{customer}"
            gateway.upsert(
                "Case",
                [{"Collections_Key__c": case_key, "Subject": f"Collections {customer}"}],
                external_id_field="Collections_Key__c",
            )
            for number in range(10):
                gateway.upsert(
                    "AR_Invoice__c",
                    [_naive_invoice(customer, number, case_key)],
                    external_id_field="Invoice_Key__c",
                )
            gateway.create("Task", [{"Subject": "Call", "Collections_Key__c": f"{case_key}:call"}])
        return gateway.calls.total - before
    finally:
        gateway.close()


def _naive_invoice(customer: str, number: int, case_key: str) -> dict[str, Any]:
    return {
        "Invoice_Key__c": f"naive:{customer}:{number}",
        "Name": f"{customer}-{number}",
        "Case__r": {"Collections_Key__c": case_key},
    }


def _small(root: Path) -> bool:
    world = _World(root, SMALL_CUSTOMERS)
    try:
        first = run_cycle(world.deps(world.gateway))
        floor = _floor(first)
        ratio = first.calls.write / floor if floor else float("inf")
        print(
            f"sync: first sync of {first.counts['accounts_planned']:,} accounts: "
            f"{first.counts['cases_opened']:,} Cases, {first.counts['tasks_created']:,} Tasks, "
            f"{first.counts['invoices_upserted']:,} invoice records in "
            f"{first.calls.write} write calls (+{first.calls.read} reads); floor {floor} "
            f"→ {ratio:.3f} x floor (target ≤ {TARGET_FLOOR_RATIO})"
        )
        sample = world.customer_ids()[:NAIVE_SAMPLE]
        naive = _naive_calls(world, sample)
        per_account = naive / len(sample)
        counts = first.counts
        same = (
            counts["accounts_planned"]
            + counts["cases_opened"]
            + counts["tasks_created"]
            + counts["invoices_upserted"]
        )
        print(
            f"sync: naive per-record loop: {naive} calls for {len(sample)} accounts "
            f"({per_account:.0f} per account: one query, then one call per record); for this "
            f"sync that is {same:,} calls, {same / max(first.calls.total, 1):,.0f}x the cycle's "
            f"{first.calls.total}"
        )
        world.clock.advance(timedelta(minutes=5))
        idle = run_cycle(world.deps(world.connect()))
        print(
            f"sync: idle cycle: {idle.calls.total} calls ({idle.calls.write} writes) "
            f"(target ≤ {TARGET_IDLE_CALLS})"
        )
        return ratio <= TARGET_FLOOR_RATIO and idle.calls.total <= TARGET_IDLE_CALLS
    finally:
        world.close()


def _large(root: Path, customers: int) -> bool:
    world = _World(root, customers)
    try:
        started = time.perf_counter()
        report = run_cycle(world.deps(world.gateway))
        seconds = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"sync: first sync of {report.counts['accounts_planned']:,} accounts, "
            f"{report.counts['invoices_upserted']:,} invoice records, "
            f"{report.counts['tasks_created']:,} Tasks: {seconds:.1f} s, "
            f"{report.calls.write} write calls, peak RSS {rss:.0f} MB with the org in-process "
            f"(target ≤ {TARGET_LARGE_SECONDS:.0f} s)"
        )
        return seconds <= TARGET_LARGE_SECONDS * customers / LARGE_CUSTOMERS
    finally:
        world.close()


def main() -> int:
    """Run the three measurements; exit 1 when a target is missed."""
    customers = int(os.environ.get("SFSYNC_BENCH_SYNC_LARGE", str(LARGE_CUSTOMERS)))
    with tempfile.TemporaryDirectory(prefix="sfsync-bench-sync-") as tmp:
        small = _small(Path(tmp) / "small")
        large = _large(Path(tmp) / "large", customers)
    met = small and large
    print(f"sync: targets {'met' if met else 'MISSED'}")
    return 0 if met else 1
