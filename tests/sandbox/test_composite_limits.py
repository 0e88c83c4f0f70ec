"""Composite limits: a batch stops charging when the allocation runs out."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce

from sfsync.sandbox.server import OrgServer

pytestmark = pytest.mark.org


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
