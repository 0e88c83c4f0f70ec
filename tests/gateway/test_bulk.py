"""Bulk API 2.0 above the threshold, against the local org: what it costs in write calls, that
updates take it too, that creates never do, and that the threshold defaults to 2,000 rows."""

from __future__ import annotations

import pytest

from sfsync.salesforce.client import BULK_WRITE_CALLS
from sfsync.sandbox.server import OrgServer
from sfsync.settings import SalesforceSettings
from tests.gateway.conftest import case_keys, open_gateway

pytestmark = pytest.mark.org

KEY = "Collections_Key__c"


def _cases(prefix: str, count: int) -> list[dict[str, object]]:
    return [{KEY: f"{prefix}:{i:04d}", "Subject": f"Overdue {i}"} for i in range(count)]


def _subjects(server: OrgServer, prefix: str) -> dict[str, str]:
    return {
        str(row[KEY]): str(row["Subject"])
        for row in server.org.store.records("Case", include_deleted=False)
        if str(row.get(KEY) or "").startswith(prefix)
    }


def test_a_bulk_upsert_costs_exactly_three_write_calls(local_org: OrgServer) -> None:
    gateway = open_gateway(local_org, bulk_threshold=10)
    gateway.limits()
    writes = gateway.calls.write

    results = gateway.upsert("Case", _cases("bulkcalls", 500), external_id_field=KEY)

    assert all(r.ok for r in results)
    assert gateway.calls.write - writes == BULK_WRITE_CALLS == 3
    assert len([job for job in local_org.org.bulk.jobs.values() if job.kind == "ingest"]) == 1
    assert len(case_keys(local_org, "bulkcalls:")) == 500


def test_an_update_above_the_threshold_goes_through_bulk(local_org: OrgServer) -> None:
    gateway = open_gateway(local_org, bulk_threshold=10)
    created = gateway.create("Case", _cases("bulkupd", 30))
    assert all(r.ok and r.id for r in created)
    changes = [{"Id": r.id, "Subject": f"Promised {r.index}"} for r in created]
    changes[4]["Subject"] = "z" * 300  # too long: refused, the rest apply
    writes = gateway.calls.write

    results = gateway.update("Case", changes)

    assert gateway.calls.write - writes == BULK_WRITE_CALLS
    assert [r.index for r in results] == list(range(30))
    assert [r.index for r in results if not r.ok] == [4]
    assert results[4].code == "STRING_TOO_LONG"
    assert all(r.id == created[r.index].id for r in results if r.ok)
    subjects = _subjects(local_org, "bulkupd:")
    assert subjects["bulkupd:0004"] == "Overdue 4"
    assert subjects["bulkupd:0029"] == "Promised 29"
    assert sum(text.startswith("Promised") for text in subjects.values()) == 29


def test_creates_above_the_threshold_still_use_collections(local_org: OrgServer) -> None:
    gateway = open_gateway(local_org, bulk_threshold=10)
    gateway.limits()
    writes = gateway.calls.write

    results = gateway.create("Case", _cases("bulkcreate", 250))

    assert gateway.calls.write - writes == 2  # two collections of <= 200, no Bulk job
    assert [r.index for r in results] == list(range(250))
    assert all(r.ok and r.id for r in results)
    assert len(case_keys(local_org, "bulkcreate:")) == 250
    assert [job for job in local_org.org.bulk.jobs.values() if job.kind == "ingest"] == []


def test_the_threshold_defaults_to_2000_rows(local_org: OrgServer) -> None:
    assert SalesforceSettings().bulk_threshold == 2_000
    gateway = open_gateway(local_org)
    gateway.limits()

    writes = gateway.calls.write
    at_threshold = gateway.upsert("Case", _cases("default", 2_000), external_id_field=KEY)
    collections_writes = gateway.calls.write - writes
    writes = gateway.calls.write
    above = gateway.upsert("Case", _cases("default", 2_001), external_id_field=KEY)
    bulk_writes = gateway.calls.write - writes

    assert collections_writes == 10  # 2,000 rows: ten collections of 200
    assert bulk_writes == BULK_WRITE_CALLS  # 2,001 rows: one Bulk job
    assert all(r.ok for r in at_threshold)
    assert all(r.ok for r in above)
    assert [r.created for r in above[:2_000]] == [False] * 2_000
    assert above[2_000].created is True
    assert len(case_keys(local_org, "default:")) == 2_001
