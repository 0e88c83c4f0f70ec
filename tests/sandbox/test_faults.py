"""Faults on demand: lock errors, 503s, latency, the ambiguous commit, and the settable clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceGeneralError, SalesforceMalformedRequest

from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import OrgApi

pytestmark = pytest.mark.org


def test_next_writes_fail_with_unable_to_lock_row(local_org: OrgServer, sf: Salesforce) -> None:
    local_org.org.faults.fail_next_writes(1)

    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"Name": "A"})
    retried = sf.Account.create({"Name": "A"})

    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert retried["success"] is True


def test_lock_failures_hit_single_records_of_a_collection(
    local_org: OrgServer, sf: Salesforce
) -> None:
    local_org.org.faults.fail_next_writes(1)
    records = [{"attributes": {"type": "Account"}, "Name": n} for n in ("A", "B")]

    results = sf.restful("composite/sobjects", method="POST", json={"records": records})

    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert results[1]["success"] is True


def test_unavailable_answers_503_then_recovers(local_org: OrgServer, sf: Salesforce) -> None:
    local_org.org.faults.unavailable(requests=2)

    for _ in range(2):
        with pytest.raises(SalesforceGeneralError) as caught:
            sf.query("SELECT Id FROM Account")
        assert caught.value.status == 503

    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0


def test_latency_delays_responses(local_org: OrgServer, sf: Salesforce) -> None:
    local_org.org.faults.add_latency(0.3)

    started = time.monotonic()
    sf.limits()

    assert time.monotonic() - started >= 0.3


def test_dropped_connection_after_commit_leaves_the_record(
    local_org: OrgServer, sf: Salesforce
) -> None:
    local_org.org.faults.drop_after_commit(1)

    with pytest.raises(requests.exceptions.ConnectionError):
        sf.Case.upsert("Collections_Key__c/ambiguous", {"Subject": "Did it commit?"})

    record = sf.Case.get_by_custom_id("Collections_Key__c", "ambiguous")
    assert record["Subject"] == "Did it commit?"


def test_clock_can_be_set_and_frozen(local_org: OrgServer, sf: Salesforce) -> None:
    local_org.org.clock.set(datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), frozen=True)

    account_id = sf.Account.create({"Name": "Future"})["id"]

    assert sf.Account.get(account_id)["CreatedDate"] == "2030-01-02T03:04:05.000+0000"


def test_admin_endpoint_arms_faults_and_sets_the_clock(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}

    armed = org_api.session.post(
        org_api.url("/sandbox/faults"),
        json={"lockFailures": 2, "unavailableRequests": 1},
        headers=admin,
    )
    clock = org_api.session.post(
        org_api.url("/sandbox/clock"),
        json={"now": "2031-05-06T07:08:09Z", "frozen": True},
        headers=admin,
    )
    refused = org_api.session.post(org_api.url("/sandbox/faults"), json={"clear": True})

    assert armed.json()["faults"]["lockFailuresRemaining"] == 2
    assert armed.json()["faults"]["unavailableRequestsRemaining"] == 1
    assert clock.json()["now"] == "2031-05-06T07:08:09.000+0000"
    assert refused.status_code == 401
    assert org_api.call("GET", "limits").status_code == 503


def test_admin_endpoint_expires_sessions_and_exhausts_the_limit(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}

    org_api.session.post(
        org_api.url("/sandbox/faults"), json={"expireSessions": True}, headers=admin
    )
    expired = org_api.call("GET", "limits")
    state = org_api.session.post(
        org_api.url("/sandbox/faults"), json={"exhaustLimit": True}, headers=admin
    ).json()

    assert expired.status_code == 401
    assert state["apiUsage"]["used"] == state["apiUsage"]["allocation"]


def test_admin_reset_restores_the_seeded_org(
    local_org: OrgServer, sf: Salesforce, org_api: OrgApi
) -> None:
    sf.Account.create({"Name": "Temporary"})
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}

    org_api.session.post(org_api.url("/sandbox/reset"), headers=admin)

    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 4


def test_an_unavailable_window_lasts_until_cleared(local_org: OrgServer, org_api: OrgApi) -> None:
    local_org.org.faults.unavailable(seconds=600)

    during = [org_api.call("GET", "limits").status_code for _ in range(3)]
    local_org.org.faults.clear()

    assert during == [503, 503, 503]
    assert org_api.call("GET", "limits").status_code == 200


def test_an_unavailable_window_in_seconds_ends_when_the_org_clock_passes_it(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    clock = local_org.org.clock
    clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), frozen=True)
    local_org.org.faults.unavailable(seconds=60)

    at_start = org_api.call("GET", "limits").status_code
    clock.advance(timedelta(seconds=59))
    just_before = org_api.call("GET", "limits").status_code
    clock.advance(timedelta(seconds=2))
    after = org_api.call("GET", "limits").status_code

    assert (at_start, just_before, after) == (503, 503, 200)


def test_503_body_is_the_documented_error_list(local_org: OrgServer, org_api: OrgApi) -> None:
    local_org.org.faults.unavailable(requests=1)

    response = org_api.call("GET", "limits")

    assert response.status_code == 503
    assert response.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"


def test_admin_clock_advances_and_resets(local_org: OrgServer, org_api: OrgApi) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}
    post = org_api.session.post

    post(
        org_api.url("/sandbox/clock"),
        json={"now": "2026-01-01T00:00:00Z", "frozen": True},
        headers=admin,
    )
    advanced = post(
        org_api.url("/sandbox/clock"), json={"advanceSeconds": 90}, headers=admin
    ).json()
    state = org_api.session.get(org_api.url("/sandbox/state"), headers=admin).json()
    reset = post(org_api.url("/sandbox/clock"), json={"reset": True}, headers=admin).json()

    assert advanced["now"] == "2026-01-01T00:01:30.000+0000"
    assert state["now"] == advanced["now"]
    assert reset["now"] != advanced["now"]


def test_admin_refuses_bad_requests(local_org: OrgServer, org_api: OrgApi) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}
    post = org_api.session.post

    unknown = post(org_api.url("/sandbox/nothing"), json={}, headers=admin)
    not_json = post(org_api.url("/sandbox/faults"), data=b"{", headers=admin)
    bad_time = post(org_api.url("/sandbox/clock"), json={"now": "soon"}, headers=admin)

    assert unknown.status_code == 404
    assert not_json.status_code == 400
    assert bad_time.status_code == 400


def test_admin_latency_ms_delays_responses_until_cleared(
    local_org: OrgServer, org_api: OrgApi
) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}

    armed = org_api.session.post(
        org_api.url("/sandbox/faults"), json={"latencyMs": 250}, headers=admin
    ).json()
    started = time.monotonic()
    delayed = org_api.call("GET", "limits")
    elapsed = time.monotonic() - started
    cleared = org_api.session.post(
        org_api.url("/sandbox/faults"), json={"latencyMs": 0}, headers=admin
    ).json()

    assert armed["faults"]["latencySeconds"] == 0.25
    assert delayed.status_code == 200
    assert elapsed >= 0.25
    assert cleared["faults"]["latencySeconds"] == 0.0


def test_admin_drop_after_commit_commits_then_closes_the_connection(
    local_org: OrgServer, sf: Salesforce, org_api: OrgApi
) -> None:
    admin = {"X-Sandbox-Admin-Token": local_org.org.config.admin_token}

    armed = org_api.session.post(
        org_api.url("/sandbox/faults"), json={"dropAfterCommit": 1}, headers=admin
    ).json()
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.Account.create({"Name": "Committed but unanswered"})
    answered = sf.Account.create({"Name": "Answered"})

    names = {r["Name"] for r in sf.query("SELECT Name FROM Account")["records"]}
    assert armed["faults"]["dropsAfterCommitRemaining"] == 1
    assert answered["success"] is True
    assert names == {"Committed but unanswered", "Answered"}
