"""A write stopped half-way keeps every answer Salesforce gave: locked rows whose resend fails
(a 503 burst, the daily limit, a dropped connection) against the local org, with the fault armed
by a response hook at the exact moment the org cannot schedule by itself."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from structlog.testing import capture_logs

from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.salesforce.ports import NOT_SENT, OUTCOME_UNKNOWN, ItemResult
from sfsync.sandbox.server import OrgServer
from tests.gateway.conftest import case_keys

pytestmark = pytest.mark.org

KEY = "Collections_Key__c"


def _cases(prefix: str, count: int) -> list[dict[str, object]]:
    return [{KEY: f"{prefix}:{i:03d}", "Subject": f"Overdue {i}"} for i in range(count)]


def _after_write(gateway: SimpleSalesforceGateway, number: int, arm: Callable[[], None]) -> None:
    """Run ``arm`` once, right after the gateway's ``number``-th write response arrives."""
    seen = [0]

    def hook(response: requests.Response, **_: object) -> None:
        if (response.request.method or "GET") != "GET":
            seen[0] += 1
            if seen[0] == number:
                arm()

    gateway._session.hooks["response"].append(hook)


def _stored_ids(server: OrgServer, prefix: str) -> dict[str, str]:
    return {
        str(row[KEY]): str(row["Id"])
        for row in server.org.store.records("Case", include_deleted=False)
        if str(row.get(KEY) or "").startswith(prefix)
    }


def _assert_written_items_match_the_org(
    server: OrgServer, prefix: str, records: list[dict[str, object]], results: list[ItemResult]
) -> None:
    stored = _stored_ids(server, prefix)
    assert {str(records[r.index][KEY]): r.id for r in results if r.ok} == stored


@pytest.mark.parametrize("fault", ["503_burst", "request_limit"])
def test_a_failed_resend_of_locked_rows_keeps_the_rows_already_written(
    local_org: OrgServer, gateway: SimpleSalesforceGateway, fault: str
) -> None:
    org = local_org.org
    gateway.limits()
    records = _cases(f"resend-{fault}", 10)
    org.faults.fail_next_writes(3)
    if fault == "503_burst":
        _after_write(gateway, 1, lambda: org.faults.unavailable(requests=50))
    else:
        _after_write(gateway, 1, org.exhaust_limit)

    with capture_logs() as logs:
        results = gateway.upsert("Case", records, external_id_field=KEY)

    assert [r.index for r in results] == list(range(10))
    assert [r.index for r in results if r.ok] == list(range(3, 10))
    assert all(r.id for r in results if r.ok)
    assert [r.code for r in results[:3]] == [NOT_SENT] * 3
    assert all(r.retryable for r in results[:3])
    _assert_written_items_match_the_org(local_org, f"resend-{fault}:", records, results)
    assert len(_stored_ids(local_org, f"resend-{fault}:")) == 7
    assert [e["event"] for e in logs].count("salesforce_write_interrupted") == 1


def test_the_limit_during_a_resend_in_the_second_chunk_keeps_its_written_rows(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    org = local_org.org
    gateway.limits()
    records = _cases("chunked", 250)
    _after_write(gateway, 1, lambda: org.faults.fail_next_writes(3))
    _after_write(gateway, 2, org.exhaust_limit)

    results = gateway.upsert("Case", records, external_id_field=KEY)

    assert [r.index for r in results] == list(range(250))
    assert all(r.ok and r.id for r in results[:200])
    assert [r.code for r in results[200:203]] == [NOT_SENT] * 3
    assert all(r.ok and r.id for r in results[203:])
    assert gateway.writes_stopped
    _assert_written_items_match_the_org(local_org, "chunked:", records, results)
    assert len(case_keys(local_org, "chunked:")) == 247


def test_the_limit_after_a_first_chunk_reports_only_the_unsent_chunks(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    gateway.limits()
    records = _cases("twochunks", 450)
    _after_write(gateway, 1, local_org.org.exhaust_limit)

    results = gateway.upsert("Case", records, external_id_field=KEY)

    assert all(r.ok for r in results[:200])
    assert {r.code for r in results[200:]} == {NOT_SENT}
    _assert_written_items_match_the_org(local_org, "twochunks:", records, results)


def test_a_create_resend_sent_but_unanswered_is_flagged_outcome_unknown(
    local_org: OrgServer, gateway: SimpleSalesforceGateway
) -> None:
    org = local_org.org
    gateway.limits()
    records = _cases("unknown", 10)
    org.faults.fail_next_writes(3)
    _after_write(gateway, 1, lambda: org.faults.drop_after_commit(1))

    results = gateway.create("Case", records)

    assert [r.index for r in results if r.ok] == list(range(3, 10))
    assert [r.code for r in results[:3]] == [OUTCOME_UNKNOWN] * 3
    assert all(r.outcome_unknown for r in results[:3])
    # The dropped resend was committed: the rows exist, and nothing was sent twice.
    assert len(case_keys(local_org, "unknown:")) == 10
