"""Exact fault sequences the local org cannot produce, pinned with ``responses``: a read timeout
then success, a 500 HTML page, the concurrent-request limit, a create that times out; and the
headers and timeouts every request carries."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
import responses
from pydantic import SecretStr
from structlog.testing import capture_logs

from sfsync.clock import FixedClock
from sfsync.errors import RetryableError
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.salesforce.ports import OUTCOME_UNKNOWN
from sfsync.settings import SalesforceSettings, TimeoutSettings
from tests.gateway.conftest import ZERO_WAIT

INSTANCE = "https://acme.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
QUERY_URL = re.compile(re.escape(f"{INSTANCE}/services/data/v59.0/query/") + r".*")
LIMITS_URL = f"{INSTANCE}/services/data/v59.0/limits/"
COLLECTIONS_URL = f"{INSTANCE}/services/data/v59.0/composite/sobjects"
USAGE = {"Sforce-Limit-Info": "api-usage=10/15000"}
ORG_ROWS = {"totalSize": 1, "done": True, "records": [{"Id": "00D000000000001AAA"}]}


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(
            responses.POST,
            TOKEN_URL,
            json={"access_token": "00D000000000001!AQtoken.value", "instance_url": INSTANCE},
        )
        yield rsps


@pytest.fixture
def gateway(mocked: responses.RequestsMock) -> Iterator[SimpleSalesforceGateway]:
    settings = SalesforceSettings(
        auth="client_credentials",
        login_url=INSTANCE,
        client_id="3MVG9client",
        client_secret=SecretStr("s3cret-value"),
        api_version="59.0",
        timeouts=TimeoutSettings(connect=3.0, read=17.0),
    )
    opened = connect(settings, FixedClock(), retry=ZERO_WAIT)
    yield opened
    opened.close()


def test_every_request_identifies_sfsync_and_has_both_timeouts(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    mocked.add(responses.GET, LIMITS_URL, json={}, headers=USAGE)
    mocked.add(responses.GET, QUERY_URL, json=ORG_ROWS, headers=USAGE)
    mocked.add(
        responses.POST,
        COLLECTIONS_URL,
        json=[{"id": "500000000000001AAA", "success": True, "errors": []}],
        headers=USAGE,
    )

    gateway.limits()
    list(gateway.query("SELECT Id FROM Organization"))
    gateway.create("Case", [{"Subject": "x"}])

    sent = list(mocked.calls)
    assert [call.request.method for call in sent] == ["POST", "GET", "GET", "POST"]
    assert all(call.request.headers["Sforce-Call-Options"] == "client=sfsync" for call in sent)
    assert all(call.request.req_kwargs["timeout"] == (3.0, 17.0) for call in sent)
    assert gateway.calls_used == len(sent)
    assert gateway.usage is not None
    assert gateway.usage.used == 10


def test_read_timeout_then_success_is_retried(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    mocked.add(responses.GET, QUERY_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    mocked.add(responses.GET, QUERY_URL, json=ORG_ROWS, headers=USAGE)

    with capture_logs() as logs:
        rows = list(gateway.query("SELECT Id FROM Organization"))

    assert rows == ORG_ROWS["records"]
    assert gateway.calls.read == 2
    [backoff] = [entry for entry in logs if entry["event"] == "salesforce_call_retried"]
    assert backoff["error"] == "OutcomeUnknownError"


def test_500_html_page_is_retried_then_raised_readably(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    html = "<html><body><h1>Internal Server Error</h1></body></html>"
    mocked.add(responses.GET, QUERY_URL, body=html, status=500, content_type="text/html")

    with pytest.raises(RetryableError, match="500") as raised:
        list(gateway.query("SELECT Id FROM Organization"))

    assert gateway.calls.read == 5
    assert "Internal Server Error" in str(raised.value)


def test_concurrent_request_limit_is_retried(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    refusal = [
        {
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
        }
    ]
    mocked.add(responses.GET, QUERY_URL, json=refusal, status=403, headers=USAGE)
    mocked.add(responses.GET, QUERY_URL, json=ORG_ROWS, headers=USAGE)

    rows = list(gateway.query("SELECT Id FROM Organization"))

    assert len(rows) == 1
    assert not gateway.writes_stopped


def test_create_that_times_out_is_not_resent(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    mocked.add(responses.GET, LIMITS_URL, json={}, headers=USAGE)
    mocked.add(responses.POST, COLLECTIONS_URL, body=requests.exceptions.ReadTimeout("timed out"))

    results = gateway.create("Case", [{"Subject": "a"}, {"Subject": "b"}])

    assert [r.code for r in results] == [OUTCOME_UNKNOWN, OUTCOME_UNKNOWN]
    assert gateway.calls.write == 1


def test_refused_connection_is_retried_for_a_create(
    mocked: responses.RequestsMock, gateway: SimpleSalesforceGateway
) -> None:
    never_sent = requests.exceptions.ConnectTimeout("connect timed out")
    mocked.add(responses.GET, LIMITS_URL, json={}, headers=USAGE)
    mocked.add(responses.POST, COLLECTIONS_URL, body=never_sent)
    mocked.add(
        responses.POST,
        COLLECTIONS_URL,
        json=[{"id": "500000000000001AAA", "success": True, "errors": []}],
        headers=USAGE,
    )

    results = gateway.create("Case", [{"Subject": "a"}])

    assert results[0].ok
    assert gateway.calls.write == 2
