"""The translation table and the budget arithmetic, on the exceptions simple-salesforce and
requests really raise (no network)."""

from __future__ import annotations

import pickle

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from urllib3.exceptions import NewConnectionError

from sfsync.errors import (
    BudgetExhaustedError,
    ConfigError,
    PermanentError,
    RetryableError,
    SessionExpiredError,
    SfsyncError,
)
from sfsync.salesforce.auth import jwt_audience
from sfsync.salesforce.budget import ApiBudget, parse_limit_info
from sfsync.salesforce.errors import OutcomeUnknownError, translate_error
from sfsync.salesforce.ports import ApiUsage, ItemResult

URL = "https://acme.my.salesforce.com/services/data/v59.0/query/"


def _body(code: str, message: str = "m") -> list[dict[str, object]]:
    return [{"errorCode": code, "message": message, "fields": ["Subject"]}]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            SalesforceExpiredSession(URL, 401, "query", _body("INVALID_SESSION_ID")),
            SessionExpiredError,
        ),
        (
            SalesforceRefusedRequest(
                URL, 403, "query", _body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            ),
            BudgetExhaustedError,
        ),
        (
            SalesforceRefusedRequest(
                URL,
                403,
                "query",
                _body("REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded."),
            ),
            RetryableError,
        ),
        (SalesforceRefusedRequest(URL, 403, "query", _body("API_DISABLED_FOR_ORG")), ConfigError),
        (SalesforceMalformedRequest(URL, 400, "query", _body("INVALID_FIELD")), ConfigError),
        (SalesforceMalformedRequest(URL, 400, "query", _body("INVALID_TYPE")), ConfigError),
        (SalesforceMalformedRequest(URL, 400, "Case", _body("UNABLE_TO_LOCK_ROW")), RetryableError),
        (
            SalesforceMalformedRequest(URL, 400, "Case", _body("REQUIRED_FIELD_MISSING")),
            PermanentError,
        ),
        (SalesforceResourceNotFound(URL, 404, "Nope__c", _body("NOT_FOUND")), ConfigError),
        (SalesforceMoreThanOneRecord(URL, 300, "Case", ["/a", "/b"]), PermanentError),
        (SalesforceGeneralError(URL, 503, "query", _body("SERVER_UNAVAILABLE")), RetryableError),
        (SalesforceGeneralError(URL, 500, "query", "<html>oops</html>"), RetryableError),
        (requests.exceptions.ReadTimeout("read timed out"), OutcomeUnknownError),
        (
            requests.exceptions.ConnectionError("Connection aborted, RemoteDisconnected"),
            OutcomeUnknownError,
        ),
        (requests.exceptions.ConnectTimeout("connect timed out"), RetryableError),
        (requests.exceptions.SSLError("certificate verify failed"), ConfigError),
    ],
)
def test_each_failure_lands_in_its_remedy_group(
    error: Exception, expected: type[SfsyncError]
) -> None:
    translated = translate_error(error)

    assert type(translated) is expected
    assert pickle.loads(pickle.dumps(translated)).args == translated.args  # noqa: S301 - own data


def test_a_refused_connection_was_never_sent_so_it_is_plainly_retryable() -> None:
    refused = NewConnectionError(None, "Failed to establish a new connection: refused")  # type: ignore[arg-type]
    error = requests.exceptions.ConnectionError(refused)

    translated = translate_error(error)

    assert type(translated) is RetryableError


def test_validation_code_keeps_code_and_fields() -> None:
    error = SalesforceMalformedRequest(
        URL, 400, "Case", _body("REQUIRED_FIELD_MISSING", "Required fields are missing: [Subject]")
    )

    translated = translate_error(error)

    assert isinstance(translated, PermanentError)
    assert translated.code == "REQUIRED_FIELD_MISSING"
    assert translated.fields == ("Subject",)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("api-usage=18/5000", ApiUsage(18, 5000)),
        (
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
            ApiUsage(25, 5000),
        ),
        ("per-app-api-usage=17/250(appName=x)", None),
        ("", None),
        (None, None),
    ],
)
def test_limit_info_header_is_parsed(header: str | None, expected: ApiUsage | None) -> None:
    assert parse_limit_info(header) == expected


def test_budget_allows_writes_down_to_the_reserve_and_not_below() -> None:
    budget = ApiBudget(reserve_fraction=0.2)
    budget.record("api-usage=790/1000")

    budget.check_write(10)
    with pytest.raises(BudgetExhaustedError, match="790/1000"):
        budget.check_write(11)
    assert budget.stopped
    with pytest.raises(BudgetExhaustedError):
        budget.check_write(0)


def test_failed_item_becomes_a_dead_letter_error_and_locked_item_is_retryable() -> None:
    failed = ItemResult(
        3, ok=False, code="DUPLICATE_VALUE", message="duplicate value found", fields=("Key__c",)
    )
    locked = ItemResult(
        4, ok=False, code="UNABLE_TO_LOCK_ROW", message="unable to obtain exclusive access"
    )

    error = failed.error()

    assert isinstance(error, PermanentError)
    assert str(error) == "DUPLICATE_VALUE: duplicate value found"
    assert not failed.retryable
    assert locked.retryable


@pytest.mark.parametrize(
    ("login_url", "audience"),
    [
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
    ],
)
def test_jwt_audience_follows_the_login_url(login_url: str, audience: str) -> None:
    assert jwt_audience(login_url) == audience
