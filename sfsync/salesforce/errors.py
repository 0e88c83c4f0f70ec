"""Every Salesforce failure is translated into the error groups of ``sfsync.errors`` here, and
only here.

What each failure becomes (``translate_error``)::

    SfsyncError
    ├── ConfigError            an admin must act; never retried
    │     OAuth refusals (invalid_grant, invalid_client_id, ...) — raised by auth.py with a fix;
    │     400 INVALID_FIELD / INVALID_TYPE / MALFORMED_QUERY / INVALID_FIELD_FOR_INSERT_UPDATE;
    │     404 NOT_FOUND (an object, field or resource that does not exist);
    │     403 other than REQUEST_LIMIT_EXCEEDED (API disabled, insufficient access);
    │     TLS verification failures (wrong CA bundle); a fresh session refused again
    ├── RetryableError         retried by the gateway's tenacity policy, then raised
    │   │ 5xx (any body, HTML included); connect timeouts and refused connections (the request
    │   │ never left); 400 UNABLE_TO_LOCK_ROW; 403 REQUEST_LIMIT_EXCEEDED for the concurrent
    │   │ long-request limit (ConcurrentPerOrgLongTxn)
    │   ├── OutcomeUnknownError   the request was sent but no answer came (read timeout, a
    │   │                         connection dropped mid-exchange): retried only for idempotent
    │   │                         calls (queries, updates, upserts by external id, deletes); a
    │   │                         plain create reports OUTCOME_UNKNOWN items instead
    │   └── SessionExpiredError   401 INVALID_SESSION_ID: the client re-authenticates once and
    │                             repeats the call once; not retried by tenacity
    ├── BudgetExhaustedError   403 REQUEST_LIMIT_EXCEEDED "TotalRequests" (the daily allocation),
    │                          or the remaining allocation below the reserve (budget.py)
    └── PermanentError         the request itself is refused for its data (validation codes,
                               300 several records match an external id, other 4xx)

Per-record errors inside a 200 sObject Collections or Bulk reply are not exceptions: they become
:class:`~sfsync.salesforce.ports.ItemResult` values (``UNABLE_TO_LOCK_ROW`` items are resent, the
rest go to the dead-letter table).
"""

from __future__ import annotations

from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceBulkV2LoadError,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMoreThanOneRecord,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from sfsync.errors import (
    BudgetExhaustedError,
    ConfigError,
    PermanentError,
    RetryableError,
    SessionExpiredError,
    SfsyncError,
)

#: Request-level error codes that mean the configuration or mapping is wrong, not the record.
CONFIG_CODES = frozenset(
    {
        "INVALID_FIELD",
        "INVALID_TYPE",
        "MALFORMED_QUERY",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "NOT_FOUND",
        "API_DISABLED_FOR_ORG",
        "API_CURRENTLY_DISABLED",
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "FUNCTIONALITY_NOT_ENABLED",
    }
)
RETRYABLE_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "API_TEMPORARILY_UNAVAILABLE"}
)
_MAX_TEXT = 300


class OutcomeUnknownError(RetryableError):
    """A request was sent and no answer came back: it may or may not have been applied."""


def first_error(content: Any) -> tuple[str, str, tuple[str, ...]]:
    """(errorCode, message, fields) of a Salesforce error body; a non-JSON body gives its text."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        item = content[0]
        fields = item.get("fields") or ()
        return (
            str(item.get("errorCode") or item.get("statusCode") or ""),
            str(item.get("message") or ""),
            tuple(str(name) for name in fields),
        )
    if isinstance(content, dict):
        return first_error([content])
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return "", " ".join(str(content or "").split())[:_MAX_TEXT], ()


def translate_error(error: BaseException) -> SfsyncError:
    """The sfsync error for any exception a Salesforce call raised (see the module tree)."""
    if isinstance(error, SfsyncError):
        return error
    if isinstance(error, SalesforceError):
        return _translate_salesforce(error)
    if isinstance(error, requests.exceptions.RequestException):
        return _translate_transport(error)
    if isinstance(error, SalesforceOperationError):
        return _translate_bulk(error)
    return PermanentError(f"unexpected Salesforce client failure: {type(error).__name__}")


def _translate_salesforce(error: SalesforceError) -> SfsyncError:
    if isinstance(error, SalesforceAuthenticationFailed):
        return ConfigError(f"Salesforce refused the login: {error}")
    code, message, fields = first_error(error.content)
    status = int(error.status or 0)
    where = error.resource_name or ""
    if isinstance(error, SalesforceExpiredSession) or code == "INVALID_SESSION_ID":
        return SessionExpiredError(
            f"Salesforce session expired ({message or 'INVALID_SESSION_ID'})"
        )
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "ConcurrentPerOrgLongTxn" in message:
            return RetryableError(f"Salesforce concurrent request limit reached: {message}")
        return BudgetExhaustedError(
            f"Salesforce daily API allocation exhausted ({message or code}); writes stopped"
        )
    if status >= 500:
        return RetryableError(f"Salesforce answered {status} for {where}: {code or message}")
    if code in RETRYABLE_CODES:
        return RetryableError(f"Salesforce {code}: {message}")
    if isinstance(error, SalesforceRefusedRequest) or code in CONFIG_CODES:
        return ConfigError(f"Salesforce refused {where} ({status} {code}): {message}")
    if isinstance(error, SalesforceResourceNotFound):
        return ConfigError(f"Salesforce has no {where} ({code or 'NOT_FOUND'}): {message}")
    if isinstance(error, SalesforceMoreThanOneRecord):
        return PermanentError(
            "several records match this external id", "MULTIPLE_RECORDS_FOUND", fields
        )
    return PermanentError(message or f"Salesforce answered {status}", code, fields)


def _translate_transport(error: requests.exceptions.RequestException) -> SfsyncError:
    name = type(error).__name__
    if isinstance(error, requests.exceptions.SSLError):
        return ConfigError(
            "TLS verification of the Salesforce endpoint failed; set salesforce.ca_bundle to the "
            "CA that signed its certificate (only for a local or private org)"
        )
    if isinstance(error, requests.exceptions.ConnectTimeout) or _never_sent(error):
        return RetryableError(f"could not connect to Salesforce ({name})")
    if isinstance(
        error,
        requests.exceptions.ReadTimeout
        | requests.exceptions.ConnectionError
        | requests.exceptions.ChunkedEncodingError,
    ):
        return OutcomeUnknownError(f"Salesforce did not answer a sent request ({name})")
    return PermanentError(f"the request to Salesforce could not be made ({name})")


def _never_sent(error: BaseException) -> bool:
    """True when the connection was never established, so the request cannot have arrived."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectTimeoutError):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException) and id(reason) not in seen:
            current = reason
            continue
        args = getattr(current, "args", ())
        nested = next((arg for arg in args if isinstance(arg, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return False


def _translate_bulk(error: SalesforceOperationError) -> SfsyncError:
    text = " ".join(str(error).split())[:_MAX_TEXT]
    if "timeout" in text.lower():
        return RetryableError(f"Bulk API job did not finish in time: {text}")
    if isinstance(error, SalesforceBulkV2LoadError):
        return PermanentError(f"Bulk API load refused: {text}", "BULK_LOAD_ERROR")
    return PermanentError(f"Bulk API job failed: {text}", "BULK_JOB_FAILED")
