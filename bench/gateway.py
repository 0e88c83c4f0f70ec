"""Salesforce write cost: HTTP write calls per record for upserts through the gateway.

A local org (HTTPS, in a temporary directory) takes Case upserts of growing size. Targets: the
sObject Collections path uses exactly ⌈n / 200⌉ write calls, and the Bulk API 2.0 path (above the
threshold) a constant handful of calls whatever n is. Wall times are printed for information.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr
from tenacity import wait_none

from sfsync.clock import FixedClock
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sandbox.org import LocalOrg
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema
from sfsync.sandbox.server import OrgServer
from sfsync.settings import SalesforceSettings

SIZES = (200, 1_000, 2_000, 5_000)
BULK_THRESHOLD = 2_000
MAX_BULK_WRITE_CALLS = 4


def _gateway(server: OrgServer) -> SimpleSalesforceGateway:
    config = server.org.config
    settings = SalesforceSettings(
        auth="client_credentials",
        login_url=server.url,
        client_id=config.client_id,
        client_secret=SecretStr(config.client_secret),
        ca_bundle=Path(server.ca_path),
        api_version="59.0",
        bulk_threshold=BULK_THRESHOLD,
        api_reserve_fraction=0.0,
    )
    clock = FixedClock(server.org.clock.now())
    return connect(settings, clock, retry=RetryPolicy(wait=wait_none()), bulk_poll_seconds=0)


def _measure(gateway: SimpleSalesforceGateway, size: int) -> tuple[int, float, bool]:
    records = [
        {"Collections_Key__c": f"bench:{size}:{i}", "Subject": f"Bench {i}"} for i in range(size)
    ]
    before = gateway.calls.write
    started = time.perf_counter()
    results = gateway.upsert("Case", records, external_id_field="Collections_Key__c")
    seconds = time.perf_counter() - started
    return gateway.calls.write - before, seconds, all(r.ok for r in results)


def main() -> int:
    """Print write calls per upsert size; exit 1 when a call-count target is missed."""
    met = True
    with tempfile.TemporaryDirectory() as data_dir:
        org = LocalOrg(Path(data_dir), load_schema(DEFAULT_PROJECT_DIR))
        with OrgServer(org) as server:
            gateway = _gateway(server)
            for size in SIZES:
                writes, seconds, ok = _measure(gateway, size)
                bulk = size > BULK_THRESHOLD
                target = MAX_BULK_WRITE_CALLS if bulk else math.ceil(size / 200)
                good = ok and (writes <= target if bulk else writes == target)
                met = met and good
                print(
                    f"gateway: upsert {size:>6,} Cases via {'bulk' if bulk else 'collections'}: "
                    f"{writes} write calls (target {'≤ ' if bulk else ''}{target}), "
                    f"{size / max(writes, 1):,.0f} records/call, {seconds:.2f} s "
                    f"{'ok' if good else 'MISSED'}"
                )
            gateway.close()
    print(f"gateway: targets {'met' if met else 'MISSED'}")
    return 0 if met else 1
