"""Writes: sObject Collections of 200 with per-item outcomes, and Bulk API 2.0 above the
threshold, both counted in HTTP requests against the local org."""

from __future__ import annotations

import pytest
import requests

from sfsync.errors import ConfigError, PermanentError
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.sandbox.server import OrgServer
from tests.gateway.conftest import case_keys, open_gateway

pytestmark = pytest.mark.org

KEY = "Collections_Key__c"


def _cases(prefix: str, count: int, **fields: object) -> list[dict[str, object]]:
    return [{KEY: f"{prefix}:{i:04d}", "Subject": f"Overdue {i}", **fields} for i in range(count)]


def test_upserting_1000_cases_takes_exactly_5_write_calls(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    records = _cases("acme", 1_000, Status="New")

    first = gateway.upsert("Case", records, external_id_field=KEY)
    writes_after_first = gateway.calls.write
    second = gateway.upsert("Case", records, external_id_field=KEY)

    assert writes_after_first == 5
    assert gateway.calls.write == 10
    assert [r.index for r in first] == list(range(1_000))
    assert all(r.ok and r.created and r.id and r.id.startswith("500") for r in first)
    assert all(r.ok and r.created is False for r in second)
    assert [r.id for r in second] == [r.id for r in first]
    assert len(case_keys(local_org, "acme:")) == 1_000


def test_invalid_items_fail_with_code_and_message_and_the_rest_apply(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    records = _cases("mixed", 6)
    records[1]["Subject"] = "x" * 300
    records[4]["Promise_Status__c"] = "Maybe Later"

    results = gateway.upsert("Case", records, external_id_field=KEY)

    failed = {r.index: r for r in results if not r.ok}
    assert sorted(failed) == [1, 4]
    assert failed[1].code == "STRING_TOO_LONG"
    assert failed[1].fields == ("Subject",)
    assert failed[4].code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    error = failed[4].error()
    assert isinstance(error, PermanentError)
    assert error.code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert failed[4].message
    assert results[0].error() is None
    assert case_keys(local_org, "mixed:") == [
        "mixed:0000",
        "mixed:0002",
        "mixed:0003",
        "mixed:0005",
    ]


def test_create_and_update_and_delete_in_collections(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    created = gateway.create("Case", _cases("crud", 3))
    ids = [r.id for r in created if r.id]
    updated = gateway.update("Case", [{"Id": ids[0], "Subject": "Renamed"}, {"Id": ids[1]}])
    deleted = gateway.delete(ids[1:])

    assert all(r.ok for r in created)
    assert len(ids) == 3
    assert all(r.ok for r in updated)
    assert all(r.ok for r in deleted)
    rows = list(gateway.query_in("Case", ["Subject"], "Id", [ids[0]]))
    assert rows == [{"Subject": "Renamed"}]
    assert case_keys(local_org, "crud:") == ["crud:0000"]


def test_records_without_their_key_are_refused_before_sending(
    gateway: SimpleSalesforceGateway,
) -> None:
    writes = gateway.calls.write

    with pytest.raises(ConfigError, match="have no Collections_Key__c"):
        gateway.upsert("Case", [{"Subject": "no key"}], external_id_field=KEY)
    with pytest.raises(ConfigError, match="have no Id"):
        gateway.update("Case", [{"Subject": "no id"}])

    assert gateway.calls.write == writes


def test_bulk_path_above_the_threshold_gives_the_same_results(local_org: OrgServer) -> None:
    gateway = open_gateway(local_org, bulk_threshold=10)
    records = _cases("bulk", 30)
    records[7]["Subject"] = "y" * 300
    gateway.upsert("Case", records[:5], external_id_field=KEY)
    collections_writes = gateway.calls.write

    results = gateway.upsert("Case", records, external_id_field=KEY)

    assert collections_writes == 1
    assert [r.index for r in results] == list(range(30))
    assert [r.index for r in results if not r.ok] == [7]
    assert results[7].code == "STRING_TOO_LONG"
    assert [r.created for r in results[:5]] == [False] * 5
    assert all(r.created for r in results[5:] if r.ok)
    stored = {
        str(row[KEY]): row["Id"]
        for row in local_org.org.store.records("Case", include_deleted=False)
        if str(row.get(KEY) or "").startswith("bulk:")
    }
    assert {records[r.index][KEY]: r.id for r in results if r.ok} == stored
    assert len(stored) == 29


def test_every_request_to_the_org_identifies_sfsync(local_org: OrgServer) -> None:
    gateway = open_gateway(local_org, bulk_threshold=2)
    seen: list[tuple[str, str | None]] = []

    def record(response: requests.Response, **_: object) -> None:
        seen.append(
            (response.request.method or "", response.request.headers.get("Sforce-Call-Options"))
        )

    gateway._session.hooks["response"].append(record)
    gateway.upsert("Case", _cases("hdr", 3), external_id_field=KEY)
    gateway.create("Case", _cases("hdr2", 1))
    list(gateway.query("SELECT Id FROM Case"))
    gateway.describe("Case")

    assert len(seen) == gateway.calls_used - 1  # all but the login, sent before the hook
    assert {method for method, _ in seen} >= {"GET", "POST", "PUT", "PATCH"}
    assert {header for _, header in seen} == {"client=sfsync"}
