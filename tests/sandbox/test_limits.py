"""The rolling 24-hour API counter: Sforce-Limit-Info, /limits and REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceRefusedRequest

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def test_every_api_response_carries_the_usage_header(org_api: OrgApi) -> None:
    ok = org_api.call("GET", "limits/")
    created = org_api.call("POST", "sobjects/Account/", json={"Name": "A"})
    failed = org_api.call("POST", "sobjects/Account/", json={})

    usages = [r.headers["Sforce-Limit-Info"] for r in (ok, created, failed)]
    assert usages == ["api-usage=1/15000", "api-usage=2/15000", "api-usage=3/15000"]


def test_sobject_clients_track_usage(sf: Salesforce) -> None:
    account = sf.Account
    account.create({"Name": "A"})
    account.create({"Name": "B"})

    assert account.api_usage["api-usage"].used == 2
    assert account.api_usage["api-usage"].total == 15000


def test_limits_resource_reports_remaining_requests(sf: Salesforce) -> None:
    sf.Account.create({"Name": "A"})

    limits = sf.limits()

    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 2}
    assert "DailyBulkApiBatches" in limits


def test_exhausted_allocation_is_request_limit_exceeded(
    local_org: OrgServer, sf: Salesforce
) -> None:
    local_org.org.exhaust_limit()

    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.Account.create({"Name": "A"})

    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert local_org.org.store.records("Account", include_deleted=False) == []


def test_the_window_rolls_with_the_org_clock(local_org: OrgServer, sf: Salesforce) -> None:
    clock = local_org.org.clock
    clock.set(datetime(2026, 6, 1, 9, 0, tzinfo=UTC), frozen=True)
    sf.Account.create({"Name": "A"})
    clock.advance(timedelta(hours=12))
    sf.Account.create({"Name": "B"})
    clock.advance(timedelta(hours=12, seconds=1))

    assert local_org.org.limits.used() == 1
    local_org.org.exhaust_limit()
    clock.advance(timedelta(hours=24, seconds=1))
    assert sf.Account.create({"Name": "C"})["success"] is True


def test_logins_and_the_versions_list_are_not_counted(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    org_api.session.get(org_api.url("/services/data/"))

    assert local_org.org.limits.used() == 0


def test_errors_after_the_session_check_carry_the_usage_header_too(org_api: OrgApi) -> None:
    unknown = org_api.call("GET", "no/such/resource")
    wrong_type = org_api.call(
        "POST", "sobjects/Account", data=b"x", headers={"Content-Type": "text/plain"}
    )

    assert unknown.headers["Sforce-Limit-Info"] == "api-usage=1/15000"
    assert wrong_type.headers["Sforce-Limit-Info"] == "api-usage=2/15000"
