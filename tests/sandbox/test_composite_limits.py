"""Composite limits: a batch stops charging when the allocation runs out, and a composite
request holds at most 5 query or collections subrequests."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sfsync.sandbox.server import OrgServer

pytestmark = pytest.mark.org

QUERY_URL = "/services/data/v59.0/query/?q=SELECT+Id+FROM+Account"
COLLECTIONS_URL = "/services/data/v59.0/composite/sobjects"


def _create(name: str) -> dict[str, Any]:
    return {"method": "POST", "url": "v59.0/sobjects/Account", "richInput": {"Name": name}}


def test_a_batch_that_runs_out_of_allocation_refuses_the_rest(
    local_org: OrgServer, sf: Salesforce
) -> None:
    limits = local_org.org.limits
    limits.consume(limits.allocation - limits.used() - 3)  # 3 calls left

    batch = sf.restful(
        "composite/batch",
        method="POST",
        json={"batchRequests": [_create(f"B{i}") for i in range(5)]},
    )

    statuses = [r["statusCode"] for r in batch["results"]]
    names = {r["Name"] for r in local_org.org.store.records("Account", include_deleted=False)}
    assert statuses == [201, 201, 201, 403, 403]
    assert batch["results"][3]["result"] == [
        {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}
    ]
    assert batch["hasErrors"] is True
    assert names == {"B0", "B1", "B2"}
    assert limits.used() == limits.allocation


def test_usage_reported_after_a_refused_batch_never_exceeds_the_allocation(
    local_org: OrgServer, sf: Salesforce
) -> None:
    limits = local_org.org.limits
    limits.consume(limits.allocation - limits.used() - 1)  # the batch itself is the last call

    batch = sf.restful(
        "composite/batch",
        method="POST",
        json={"batchRequests": [{"method": "GET", "url": "v59.0/limits"}] * 3},
    )

    assert [r["statusCode"] for r in batch["results"]] == [200, 403, 403]
    assert batch["results"][0]["result"]["DailyApiRequests"]["Remaining"] == 0
    assert sf.api_usage["api-usage"].used == limits.allocation
    assert sf.api_usage["api-usage"].total == limits.allocation


def test_five_query_or_collections_subrequests_are_allowed(sf: Salesforce) -> None:
    subrequests = [
        {"method": "GET", "url": QUERY_URL, "referenceId": f"q{i}"} for i in range(4)
    ] + [
        {
            "method": "POST",
            "url": COLLECTIONS_URL,
            "referenceId": "c",
            "body": {"records": [{"attributes": {"type": "Account"}, "Name": "Five"}]},
        },
        {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": "other"},
    ]

    result = sf.restful("composite", method="POST", json={"compositeRequest": subrequests})

    assert [r["httpStatusCode"] for r in result["compositeResponse"]] == [200] * 6


def test_a_sixth_query_or_collections_subrequest_refuses_the_whole_composite(
    local_org: OrgServer, sf: Salesforce
) -> None:
    subrequests = [
        {
            "method": "POST",
            "url": COLLECTIONS_URL,
            "referenceId": "c",
            "body": {"records": [{"attributes": {"type": "Account"}, "Name": "Never"}]},
        }
    ] + [{"method": "GET", "url": QUERY_URL, "referenceId": f"q{i}"} for i in range(5)]

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite", method="POST", json={"compositeRequest": subrequests})

    assert caught.value.status == 400
    assert caught.value.content == [
        {
            "message": "A composite request may contain at most 5 query or sObject Collections "
            "subrequests; this one has 6.",
            "errorCode": "LIMIT_EXCEEDED",
        }
    ]
    assert local_org.org.store.records("Account", include_deleted=False) == []
