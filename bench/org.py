"""Local org speed: 200-record collection upserts per second and 2,000-row query pages per
second, through the real simple-salesforce client over HTTPS against a freshly started org.

The targets are set well above what a real org sustains (a 200-record upsert takes it about a
second), so the local org is never the bottleneck of our own benchmarks.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from simple_salesforce import Salesforce

from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.org import LocalOrg
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema
from sfsync.sandbox.server import OrgServer

UPSERT_ROUNDS = 40
QUERY_ROWS = 10_000
QUERY_PASSES = 3
TARGET_UPSERTS_PER_SECOND = 10.0
TARGET_PAGES_PER_SECOND = 10.0


def _cases(round_number: int) -> list[dict[str, Any]]:
    """200 Case rows; every other round re-sends the previous keys, so half the work updates."""
    base = (round_number // 2) * 200
    return [
        {
            "attributes": {"type": "Case"},
            "Collections_Key__c": f"bench:{base + i}",
            "Subject": f"Past due {base + i} r{round_number}",
            "Past_Due_Amount__c": 100.0 + i,
            "Status": "Working" if round_number % 2 else "New",
        }
        for i in range(200)
    ]


def _bench_upserts(sf: Salesforce) -> float:
    started = time.perf_counter()
    for round_number in range(UPSERT_ROUNDS):
        results = sf.restful(
            "composite/sobjects/Case/Collections_Key__c",
            method="PATCH",
            json={"allOrNone": False, "records": _cases(round_number)},
        )
        if not all(r["success"] for r in results):
            raise RuntimeError(f"upsert round {round_number} failed: {results[:1]}")
    return UPSERT_ROUNDS / (time.perf_counter() - started)


def _bench_query_pages(sf: Salesforce) -> float:
    existing = sf.query("SELECT COUNT() FROM Case")["totalSize"]
    for start in range(existing, QUERY_ROWS, 200):
        records = [
            {"attributes": {"type": "Case"}, "Subject": f"Filler {n}"}
            for n in range(start, min(QUERY_ROWS, start + 200))
        ]
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    soql = "SELECT Id, CaseNumber, Subject, Status, Past_Due_Amount__c, Account.Name FROM Case"
    pages = 0
    started = time.perf_counter()
    for _ in range(QUERY_PASSES):
        result = sf.query(soql)
        pages += 1
        while not result["done"]:
            result = sf.query_more(result["nextRecordsUrl"], identifier_is_url=True)
            pages += 1
    return pages / (time.perf_counter() - started)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-org-") as data_dir:
        org = LocalOrg(Path(data_dir), load_schema(DEFAULT_PROJECT_DIR))
        with OrgServer(org) as server:
            session = LocalOrgSession(server.url, server.ca_path)
            sf = Salesforce(
                consumer_key=org.config.client_id,
                consumer_secret=org.config.client_secret,
                domain="bench.my",
                session=session,
                version="59.0",
            )
            upserts = _bench_upserts(sf)
            pages = _bench_query_pages(sf)
            session.close()
    print(f"org: {upserts:.1f} collection upserts/s (200 records each, half creates, half updates)")
    print(f"org: {pages:.1f} query pages/s (2,000 rows each)")
    met = upserts >= TARGET_UPSERTS_PER_SECOND and pages >= TARGET_PAGES_PER_SECOND
    print(
        f"org: targets {'met' if met else 'MISSED'} (≥ {TARGET_UPSERTS_PER_SECOND:.0f} upserts/s, "
        f"≥ {TARGET_PAGES_PER_SECOND:.0f} pages/s)"
    )
    return 0 if met else 1


def run() -> None:
    """Entry point for runners that expect ``run() -> None``."""
    main()


if __name__ == "__main__":
    raise SystemExit(main())
