"""query / queryAll endpoints: paging by nextRecordsUrl, batch size, totalSize, deleted rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def _create_cases(sf: Salesforce, count: int) -> list[str]:
    ids: list[str] = []
    for start in range(0, count, 200):
        records = [
            {"attributes": {"type": "Case"}, "Subject": f"Case {i}", "Collections_Key__c": f"k{i}"}
            for i in range(start, min(count, start + 200))
        ]
        results = sf.restful("composite/sobjects", method="POST", json={"records": records})
        ids.extend(r["id"] for r in results)
    return ids


def test_pages_of_2000_with_next_records_url(sf: Salesforce) -> None:
    _create_cases(sf, 2300)

    first = sf.query("SELECT Id, Subject FROM Case")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)

    assert first["totalSize"] == 2300
    assert first["done"] is False
    assert len(first["records"]) == 2000
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    assert second["done"] is True
    assert len(second["records"]) == 300
    assert "nextRecordsUrl" not in second
    seen = {r["Id"] for r in first["records"]} | {r["Id"] for r in second["records"]}
    assert len(seen) == 2300


def test_query_all_follows_every_page(sf: Salesforce) -> None:
    ids = _create_cases(sf, 2100)

    result = sf.query_all("SELECT Id FROM Case")

    assert result["totalSize"] == 2100
    assert {r["Id"] for r in result["records"]} == set(ids)


def test_batch_size_header_sets_the_page_size(org_api: OrgApi, sf: Salesforce) -> None:
    _create_cases(sf, 450)

    response = org_api.call(
        "GET",
        "query/",
        params={"q": "SELECT Id FROM Case"},
        headers={"Sforce-Query-Options": "batchSize=200"},
    )
    body = response.json()
    follow = org_api.call("GET", body["nextRecordsUrl"]).json()

    assert len(body["records"]) == 200
    assert list(body) == ["totalSize", "done", "nextRecordsUrl", "records"]
    assert len(follow["records"]) == 200
    assert follow["done"] is False


def test_records_carry_attributes(sf: Salesforce) -> None:
    case_id = sf.Case.create({"Subject": "x"})["id"]

    record = sf.query("SELECT Id, Subject FROM Case")["records"][0]

    assert record["attributes"] == {
        "type": "Case",
        "url": f"/services/data/v59.0/sobjects/Case/{case_id}",
    }


def test_query_all_includes_deleted_rows(sf: Salesforce) -> None:
    keep, gone = (sf.Case.create({"Subject": s})["id"] for s in ("keep", "gone"))
    sf.Case.delete(gone)

    live = sf.query("SELECT Id FROM Case")
    everything = sf.query_all("SELECT Id, IsDeleted FROM Case", include_deleted=True)

    assert [r["Id"] for r in live["records"]] == [keep]
    assert {(r["Id"], r["IsDeleted"]) for r in everything["records"]} == {
        (keep, False),
        (gone, True),
    }


def test_count_query(sf: Salesforce) -> None:
    _create_cases(sf, 3)

    assert sf.query("SELECT COUNT() FROM Case") == {"totalSize": 3, "done": True, "records": []}


def test_malformed_query_is_400(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELEKT Id FROM Case")

    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_unknown_locator_is_invalid_query_locator(org_api: OrgApi) -> None:
    response = org_api.call("GET", "query/01g8d0000000001AAA-2000")

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_pages_see_the_rows_as_they_were_when_the_query_ran(
    local_org: OrgServer, sf: Salesforce
) -> None:
    ids = _create_cases(sf, 2001)
    first = sf.query("SELECT Id, Subject FROM Case")
    sf.Case.update(ids[-1], {"Subject": "changed later"})

    rest: dict[str, Any] = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)

    assert rest["records"][0]["Subject"] == "Case 2000"


def test_query_all_by_external_id_sees_deleted_rows(sf: Salesforce) -> None:
    case_id = sf.Case.create({"Subject": "x", "Collections_Key__c": "gone"})["id"]
    sf.Case.delete(case_id)

    live = sf.query("SELECT Id FROM Case WHERE Collections_Key__c = 'gone'")
    everything = sf.query_all(
        "SELECT Id FROM Case WHERE Collections_Key__c = 'gone'", include_deleted=True
    )

    assert live["totalSize"] == 0
    assert [r["Id"] for r in everything["records"]] == [case_id]


def test_a_deleted_records_key_can_be_reused(sf: Salesforce) -> None:
    first = sf.Case.create({"Subject": "x", "Collections_Key__c": "again"})["id"]
    sf.Case.delete(first)

    assert sf.Case.upsert("Collections_Key__c/again", {"Subject": "y"}) == 201


def test_an_idle_cursor_expires_after_15_minutes_of_org_time(
    local_org: OrgServer, sf: Salesforce, org_api: OrgApi
) -> None:
    _create_cases(sf, 2001)
    first = sf.query("SELECT Id FROM Case")
    local_org.org.clock.advance(timedelta(minutes=10))
    second_page = org_api.call("GET", first["nextRecordsUrl"])
    local_org.org.clock.advance(timedelta(minutes=16))

    expired = org_api.call("GET", first["nextRecordsUrl"])

    assert second_page.status_code == 200
    assert expired.status_code == 400
    assert expired.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
