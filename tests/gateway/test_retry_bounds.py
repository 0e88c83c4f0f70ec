"""The retry bounds hold per public gateway call, however the retry loops nest inside it: a
re-login inside a call, the resend of locked rows around requests that retry their own faults.
The backoff is real (a fixed 20 s wait) but the sleep is injected, so no test waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from tenacity import wait_fixed

from sfsync.errors import RetryableError
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.salesforce.ports import NOT_SENT
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sandbox.server import OrgServer
from tests.gateway.conftest import case_keys, org_clock, org_settings

pytestmark = pytest.mark.org

KEY = "Collections_Key__c"
ORG_QUERY = "SELECT Id FROM Organization"


class RecordedSleep:
    """Stands in for time.sleep: remembers each backoff instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def slept() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def slow_gateway(local_org: OrgServer, slept: RecordedSleep) -> Iterator[SimpleSalesforceGateway]:
    """A gateway whose policy waits 20 s between tries (5 attempts, 60 s in all), asleep on
    ``slept``."""
    policy = RetryPolicy(attempts=5, max_delay_seconds=60, wait=wait_fixed(20), sleep=slept)
    gateway = connect(org_settings(local_org), org_clock(local_org), retry=policy)
    yield gateway
    gateway.close()


def _on_response(
    gateway: SimpleSalesforceGateway,
    wanted: Callable[[requests.Response], bool],
    arm: Callable[[], None],
) -> None:
    """Run ``arm`` once, after the first response ``wanted`` accepts."""
    done = [False]

    def hook(response: requests.Response, **_: object) -> None:
        if not done[0] and wanted(response):
            done[0] = True
            arm()

    gateway._session.hooks["response"].append(hook)


def test_a_503_storm_stops_at_the_total_delay_bound(
    local_org: OrgServer, slow_gateway: SimpleSalesforceGateway, slept: RecordedSleep
) -> None:
    local_org.org.faults.unavailable(requests=1_000)

    with pytest.raises(RetryableError, match="503"):
        list(slow_gateway.query(ORG_QUERY))

    assert slept.waits == [20, 20, 20]
    assert sum(slept.waits) <= 60
    assert slow_gateway.calls.read == 4


def test_a_relogin_failing_inside_a_call_shares_the_calls_bounds(
    local_org: OrgServer, slow_gateway: SimpleSalesforceGateway, slept: RecordedSleep
) -> None:
    org = local_org.org
    org.expire_sessions()
    _on_response(
        slow_gateway,
        lambda response: response.status_code == 401,
        lambda: org.faults.unavailable(requests=1_000),
    )
    auth_before = slow_gateway.calls.auth

    with pytest.raises(RetryableError):
        list(slow_gateway.query(ORG_QUERY))

    # One query, its one re-login, and at most three retries of it in 60 s (not 5 x 5 tries).
    assert sum(slept.waits) <= 60
    assert len(slept.waits) == 3
    assert slow_gateway.calls.read == 1
    assert slow_gateway.calls.auth - auth_before == 4


def test_locked_rows_and_a_503_burst_share_one_budget(
    local_org: OrgServer, slow_gateway: SimpleSalesforceGateway, slept: RecordedSleep
) -> None:
    org = local_org.org
    slow_gateway.limits()
    org.faults.fail_next_writes(1_000)
    _on_response(
        slow_gateway,
        lambda response: (response.request.method or "GET") != "GET",
        lambda: org.faults.unavailable(requests=1_000),
    )
    writes_before = slow_gateway.calls.write

    records = [{KEY: f"bounded:{i}", "Subject": "Overdue"} for i in range(4)]
    results = slow_gateway.upsert("Case", records, external_id_field=KEY)

    # The first send (all locked), then resends that meet 503s until the 60 s are spent.
    assert slow_gateway.calls.write - writes_before == 4
    assert sum(slept.waits) <= 60
    assert [r.code for r in results] == [NOT_SENT] * 4
    assert all(r.retryable for r in results)
    assert case_keys(local_org, "bounded:") == []


def test_the_default_policy_stays_within_its_documented_total(
    local_org: OrgServer, slept: RecordedSleep
) -> None:
    policy = RetryPolicy(sleep=slept)
    gateway = connect(org_settings(local_org), org_clock(local_org), retry=policy)
    local_org.org.faults.unavailable(requests=1_000)
    try:
        with pytest.raises(RetryableError):
            list(gateway.query(ORG_QUERY))
    finally:
        gateway.close()

    assert len(slept.waits) == policy.attempts - 1
    assert sum(slept.waits) <= policy.max_delay_seconds
    assert gateway.calls.read == policy.attempts
