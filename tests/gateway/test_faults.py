"""A bad day at the org, made to happen by its fault API: expired sessions, 503 bursts, row
locks, an exhausted allocation, the reserve, and a connection dropped after a commit."""

from __future__ import annotations

from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from sfsync.errors import BudgetExhaustedError, ConfigError, RetryableError
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.salesforce.ports import OUTCOME_UNKNOWN, UNABLE_TO_LOCK_ROW
from sfsync.sandbox.server import OrgServer
from tests.gateway.conftest import case_keys

pytestmark = pytest.mark.org

KEY = "Collections_Key__c"
ORG_QUERY = "SELECT Id FROM Organization"


def _cases(prefix: str, count: int) -> list[dict[str, object]]:
    return [{KEY: f"{prefix}:{i:03d}", "Subject": f"Overdue {i}"} for i in range(count)]


def _events(logs: list[dict[str, object]], name: str) -> list[dict[str, object]]:
    return [entry for entry in logs if entry["event"] == name]


def test_expired_session_costs_exactly_one_reauthentication(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    local_org.org.expire_sessions()

    results = gateway.upsert("Case", _cases("expired", 3), external_id_field=KEY)
    rows = list(gateway.query(ORG_QUERY))

    assert all(r.ok for r in results)
    assert len(rows) == 1
    assert gateway.reauthentications == 1
    assert gateway.calls.auth == 2
    assert case_keys(local_org, "expired:") == ["expired:000", "expired:001", "expired:002"]


def test_a_fresh_session_refused_again_is_a_clear_error(
    local_org: OrgServer, gateway: SimpleSalesforceGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = local_org.org
    monkeypatch.setattr(org, "config", replace(org.config, token_lifetime_seconds=0))
    org.expire_sessions()

    with pytest.raises(ConfigError, match="INVALID_SESSION_ID twice"):
        list(gateway.query(ORG_QUERY))

    assert gateway.calls.auth == 2
    assert gateway.calls.read == 2


def test_503_burst_is_retried_without_waiting_and_each_backoff_logged(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    local_org.org.faults.unavailable(requests=3)

    with capture_logs() as logs:
        rows = list(gateway.query(ORG_QUERY))

    assert len(rows) == 1
    assert gateway.calls.read == 4
    backoffs = _events(logs, "salesforce_call_retried")
    assert [entry["attempt"] for entry in backoffs] == [1, 2, 3]
    assert all(entry["error"] == "RetryableError" for entry in backoffs)
    assert all(entry["wait_seconds"] == 0 for entry in backoffs)


def test_503_beyond_the_attempt_bound_raises_retryable(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    local_org.org.faults.unavailable(requests=50)

    with pytest.raises(RetryableError, match="503"):
        list(gateway.query(ORG_QUERY))

    assert gateway.calls.read == 5


def test_locked_rows_are_resent_alone_until_they_succeed(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    writes = gateway.calls.write
    local_org.org.faults.fail_next_writes(3)

    with capture_logs() as logs:
        results = gateway.upsert("Case", _cases("locked", 10), external_id_field=KEY)

    assert all(r.ok for r in results)
    assert gateway.calls.write - writes == 2
    assert len(_events(logs, "salesforce_call_retried")) == 1
    assert len(case_keys(local_org, "locked:")) == 10


def test_rows_still_locked_after_the_bound_are_reported_retryable(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    writes = gateway.calls.write
    local_org.org.faults.fail_next_writes(1_000)

    results = gateway.upsert("Case", _cases("stuck", 2), external_id_field=KEY)

    assert gateway.calls.write - writes == 5
    assert [r.code for r in results] == [UNABLE_TO_LOCK_ROW] * 2
    assert all(r.retryable for r in results)
    assert case_keys(local_org, "stuck:") == []


def test_request_limit_exceeded_stops_writes_with_nothing_half_applied(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.upsert("Case", _cases("before", 2), external_id_field=KEY)
    local_org.org.exhaust_limit()
    writes = gateway.calls.write

    with capture_logs() as logs, pytest.raises(BudgetExhaustedError):
        gateway.upsert("Case", _cases("during", 250), external_id_field=KEY)
    with pytest.raises(BudgetExhaustedError):
        gateway.create("Case", _cases("after", 1))

    assert gateway.calls.write - writes == 1
    assert gateway.writes_stopped
    assert len(_events(logs, "api_budget_exhausted")) == 1
    assert case_keys(local_org, "during:") == []
    assert case_keys(local_org, "after:") == []
    assert len(case_keys(local_org, "before:")) == 2


def test_writes_refuse_before_sending_when_below_the_reserve(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    allocation = local_org.org.config.api_allocation
    local_org.org.limits.consume(int(allocation * 0.81))

    with capture_logs() as logs, pytest.raises(BudgetExhaustedError, match="reserve"):
        gateway.upsert("Case", _cases("reserve", 5), external_id_field=KEY)

    assert gateway.calls.write == 0
    [line] = _events(logs, "api_budget_exhausted")
    assert line["reserve"] == 0.2
    assert line["max"] == allocation
    assert case_keys(local_org, "reserve:") == []


def test_write_that_would_cross_the_reserve_is_refused_whole(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    allocation = local_org.org.config.api_allocation
    local_org.org.limits.consume(int(allocation * 0.8) - 10)
    gateway.limits()

    with capture_logs() as logs:
        with pytest.raises(BudgetExhaustedError):
            gateway.upsert("Case", _cases("big", 2_000), external_id_field=KEY)
        with pytest.raises(BudgetExhaustedError):
            gateway.upsert("Case", _cases("small", 2), external_id_field=KEY)

    assert gateway.calls.write == 0
    assert len(_events(logs, "api_budget_exhausted")) == 1
    assert case_keys(local_org, "big:") == []
    assert case_keys(local_org, "small:") == []


def test_create_dropped_after_commit_reports_outcome_unknown_without_resending(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    writes = gateway.calls.write
    local_org.org.faults.drop_after_commit(1)

    results = gateway.create("Case", _cases("dropped", 3))

    assert [r.code for r in results] == [OUTCOME_UNKNOWN] * 3
    assert all(r.outcome_unknown and r.error() is None for r in results)
    assert gateway.calls.write - writes == 1
    assert case_keys(local_org, "dropped:") == ["dropped:000", "dropped:001", "dropped:002"]


def test_upsert_dropped_after_commit_is_resent_without_duplicates(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    writes = gateway.calls.write
    local_org.org.faults.drop_after_commit(1)

    results = gateway.upsert("Case", _cases("resent", 3), external_id_field=KEY)

    assert all(r.ok and r.created is False for r in results)
    assert gateway.calls.write - writes == 2
    assert case_keys(local_org, "resent:") == ["resent:000", "resent:001", "resent:002"]


def test_allocation_spent_elsewhere_mid_write_keeps_the_applied_results(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    limits = local_org.org.limits
    limits.consume(limits.allocation - limits.used() - 1)  # another integration spends it
    writes = gateway.calls.write

    with capture_logs() as logs:
        results = gateway.upsert("Case", _cases("midway", 500), external_id_field=KEY)

    assert gateway.calls.write - writes == 1
    assert all(r.ok for r in results[:200])
    assert [r.code for r in results[200:]] == ["NOT_SENT"] * 300
    assert all(r.retryable and isinstance(r.error(), RetryableError) for r in results[200:])
    assert len(case_keys(local_org, "midway:")) == 200
    assert len(_events(logs, "api_budget_exhausted")) == 1
    assert len(_events(logs, "salesforce_write_interrupted")) == 1
    with pytest.raises(BudgetExhaustedError):
        gateway.upsert("Case", _cases("later", 1), external_id_field=KEY)
