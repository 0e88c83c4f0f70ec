"""sObject Collections, composite and composite/batch through ``sf.restful``."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org

ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}


def _accounts(count: int, prefix: str = "A") -> list[dict[str, Any]]:
    return [
        {
            "attributes": {"type": "Account"},
            "Name": f"{prefix}{i}",
            "Accounting_Id__c": f"{prefix}-{i}",
        }
        for i in range(count)
    ]


def _subrequest(
    method: str, path: str, reference: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One Composite subrequest on the REST API of this version (``path`` after ``v59.0/``)."""
    sub: dict[str, Any] = {
        "method": method,
        "url": f"/services/data/v59.0/{path}",
        "referenceId": reference,
    }
    if body is not None:
        sub["body"] = body
    return sub


def _count(local_org: OrgServer, sobject: str) -> int:
    return len(local_org.org.store.records(sobject, include_deleted=False))


def test_create_returns_results_in_request_order(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Acme"},
                {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
                {"attributes": {"type": "Case"}, "Subject": "Overdue"},
            ],
        },
    )

    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["id"].startswith("001")
    assert results[2]["id"].startswith("500")
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }


def test_all_or_none_rolls_everything_back(local_org: OrgServer, sf: Salesforce) -> None:
    records = _accounts(3)
    records[1]["Name"] = None

    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
    )

    assert results[0] == {"success": False, "errors": [ROLLED_BACK]}
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2] == {"success": False, "errors": [ROLLED_BACK]}
    assert _count(local_org, "Account") == 0


def test_more_than_200_records_is_exceeded_id_limit(local_org: OrgServer, sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json={"records": _accounts(201)})

    assert caught.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]
    assert _count(local_org, "Account") == 0


def test_update_by_id(sf: Salesforce) -> None:
    created = sf.restful("composite/sobjects", method="POST", json={"records": _accounts(2)})
    ids = [r["id"] for r in created]

    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "id": ids[0], "Industry": "Retail"},
                {"attributes": {"type": "Account"}, "id": ids[1], "Name": "x" * 300},
            ],
        },
    )

    assert results[0] == {"id": ids[0], "success": True, "errors": []}
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert sf.Account.get(ids[0])["Industry"] == "Retail"


def test_upsert_by_external_id_reports_created(sf: Salesforce) -> None:
    path = "composite/sobjects/Account/Accounting_Id__c"
    first = sf.restful(path, method="PATCH", json={"allOrNone": False, "records": _accounts(2)})
    again = _accounts(3)
    again[0]["Industry"] = "Retail"

    second = sf.restful(path, method="PATCH", json={"allOrNone": False, "records": again})

    assert [r["created"] for r in first] == [True, True]
    assert [r["created"] for r in second] == [False, False, True]
    assert second[0]["id"] == first[0]["id"]
    assert sf.Account.get(first[0]["id"])["Industry"] == "Retail"


def test_upsert_with_a_repeated_key_fails_both_records(sf: Salesforce) -> None:
    records = _accounts(2)
    records[1]["Accounting_Id__c"] = "a-0"

    results = sf.restful(
        "composite/sobjects/Account/Accounting_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )

    assert [r["errors"][0]["statusCode"] for r in results] == ["DUPLICATE_EXTERNAL_ID"] * 2


def test_delete_and_retrieve(sf: Salesforce) -> None:
    ids = [
        r["id"]
        for r in sf.restful("composite/sobjects", method="POST", json={"records": _accounts(3)})
    ]

    deleted = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": ",".join(ids[:2]), "allOrNone": "false"},
    )
    retrieved = sf.restful(
        "composite/sobjects/Account", params={"ids": ",".join(ids), "fields": "Id,Name"}
    )

    assert deleted == [{"id": i, "success": True, "errors": []} for i in ids[:2]]
    assert retrieved[:2] == [None, None]
    assert retrieved[2]["Name"] == "A2"
    assert list(retrieved[2]) == ["attributes", "Id", "Name"]


def test_retrieve_by_post(sf: Salesforce) -> None:
    ids = [
        r["id"]
        for r in sf.restful("composite/sobjects", method="POST", json={"records": _accounts(2)})
    ]

    retrieved = sf.restful(
        "composite/sobjects/Account", method="POST", json={"ids": ids, "fields": ["Name"]}
    )

    assert [r["Name"] for r in retrieved] == ["A0", "A1"]


def test_delete_of_a_deleted_record_fails_that_item(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    sf.Account.delete(account_id)

    results = sf.restful("composite/sobjects", method="DELETE", params={"ids": account_id})

    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collection_counts_as_one_api_call(local_org: OrgServer, sf: Salesforce) -> None:
    before = local_org.org.limits.used()

    sf.restful("composite/sobjects", method="POST", json={"records": _accounts(200)})

    assert local_org.org.limits.used() == before + 1


def test_composite_passes_references_between_subrequests(sf: Salesforce) -> None:
    response = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _subrequest("POST", "sobjects/Account", "acct", {"Name": "Acme"}),
                _subrequest(
                    "POST",
                    "sobjects/Case",
                    "case",
                    {"Subject": "Overdue", "AccountId": "@{acct.id}"},
                ),
                _subrequest("GET", "sobjects/Case/@{case.id}?fields=AccountId", "read"),
            ],
        },
    )

    parts = response["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [201, 201, 200]
    assert parts[2]["body"]["AccountId"] == parts[0]["body"]["id"]
    assert parts[0]["httpHeaders"]["Location"].endswith(parts[0]["body"]["id"])


def test_composite_all_or_none_rolls_back_every_subrequest(
    local_org: OrgServer, sf: Salesforce
) -> None:
    response = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                _subrequest("POST", "sobjects/Account", "a", {"Name": "Acme"}),
                _subrequest("POST", "sobjects/Contact", "c", {"FirstName": "x"}),
            ],
        },
    )

    parts = response["compositeResponse"]
    assert parts[0]["httpStatusCode"] == 400
    assert parts[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert parts[1]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert _count(local_org, "Account") == 0


def test_composite_without_all_or_none_keeps_what_succeeded(
    local_org: OrgServer, sf: Salesforce
) -> None:
    response = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": False,
            "compositeRequest": [
                _subrequest("POST", "sobjects/Contact", "bad", {"FirstName": "x"}),
                _subrequest(
                    "POST", "sobjects/Case", "needs_bad", {"Subject": "x", "ContactId": "@{bad.id}"}
                ),
                _subrequest("POST", "sobjects/Account", "ok", {"Name": "Acme"}),
            ],
        },
    )

    parts = response["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [400, 400, 201]
    assert parts[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert _count(local_org, "Account") == 1


def test_composite_is_limited_to_25_subrequests(sf: Salesforce) -> None:
    sub = _subrequest("GET", "limits", "l")

    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": [sub] * 26})


def test_composite_counts_once_and_batch_once_per_subrequest(
    local_org: OrgServer, sf: Salesforce
) -> None:
    counter = local_org.org.limits
    subrequests = [_subrequest("GET", "limits", f"r{i}") for i in range(3)]
    before = counter.used()
    sf.restful("composite", method="POST", json={"compositeRequest": subrequests})
    after_composite = counter.used()
    batch = sf.restful(
        "composite/batch",
        method="POST",
        json={"batchRequests": [{"method": "GET", "url": "v59.0/limits"}] * 4},
    )

    assert after_composite == before + 1
    assert counter.used() == after_composite + 4
    assert batch["hasErrors"] is False
    assert [r["statusCode"] for r in batch["results"]] == [200] * 4


def test_batch_halts_on_error_when_asked(local_org: OrgServer, sf: Salesforce) -> None:
    batch = sf.restful(
        "composite/batch",
        method="POST",
        json={
            "haltOnError": True,
            "batchRequests": [
                {"method": "POST", "url": "v59.0/sobjects/Account", "richInput": {"Name": "A"}},
                {
                    "method": "POST",
                    "url": "v59.0/sobjects/Contact",
                    "richInput": {"FirstName": "x"},
                },
                {"method": "POST", "url": "v59.0/sobjects/Account", "richInput": {"Name": "B"}},
            ],
        },
    )

    assert batch["hasErrors"] is True
    assert [r["statusCode"] for r in batch["results"]] == [201, 400, 412]
    assert batch["results"][2]["result"][0]["errorCode"] == "BATCH_PROCESSING_HALTED"
    assert _count(local_org, "Account") == 1


@pytest.mark.parametrize(
    ("method", "path", "record"),
    [
        pytest.param(
            "POST",
            "composite/sobjects",
            {"attributes": {"type": "Nope"}, "Name": "x"},
            id="unknown-type",
        ),
        pytest.param(
            "PATCH",
            "composite/sobjects/Account/Accounting_Id__c",
            {"attributes": {"type": "Case"}, "Subject": "x"},
            id="upsert-of-another-type",
        ),
    ],
)
def test_a_collection_record_of_the_wrong_type_is_invalid_type(
    org_api: OrgApi, method: str, path: str, record: dict[str, Any]
) -> None:
    response = org_api.call(method, path, json={"records": [record]})

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_TYPE"


def test_update_without_an_id_and_upsert_without_a_key_fail_their_records(sf: Salesforce) -> None:
    updated = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "No id"}]},
    )
    upserted = sf.restful(
        "composite/sobjects/Account/Accounting_Id__c",
        method="PATCH",
        json={"records": [{"attributes": {"type": "Account"}, "Name": "No key"}]},
    )

    assert updated[0]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert upserted[0]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"


def test_delete_without_ids_is_a_bad_request(org_api: OrgApi) -> None:
    response = org_api.call("DELETE", "composite/sobjects")

    assert response.status_code == 400


def test_composite_references_reach_into_query_results(sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]

    response = sf.restful(
        "composite",
        method="POST",
        json={
            "compositeRequest": [
                _subrequest("GET", "query/?q=SELECT+Id+FROM+Account", "q"),
                _subrequest(
                    "PATCH", "sobjects/Account/@{q.records[0].Id}", "u", {"Industry": "Retail"}
                ),
                _subrequest("GET", "sobjects/Account/@{nobody.id}", "bad"),
            ]
        },
    )

    parts = response["compositeResponse"]
    assert [p["httpStatusCode"] for p in parts] == [200, 204, 400]
    assert parts[1]["body"] is None
    assert "Invalid reference specified" in parts[2]["body"][0]["message"]
    assert sf.Account.get(account_id)["Industry"] == "Retail"
