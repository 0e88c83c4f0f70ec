"""The one Salesforce client factory, :func:`connect`, and the gateway it builds.

Every HTTP request sfsync sends to Salesforce goes through one :class:`SfsyncSession`: it verifies
TLS against the configured CA bundle (local or private orgs), gives every request a (connect,
read) timeout, identifies itself with ``Sforce-Call-Options: client=sfsync``, counts each request
(auth / read / write) and records each response's ``Sforce-Limit-Info`` in the API budget.

The gateway wraps simple-salesforce, built from a session id: such a client never refreshes its
session (nor loops forever trying), so sfsync owns refresh — on ``INVALID_SESSION_ID`` it logs in
again once and repeats the call once; a fresh session refused again is a :class:`ConfigError`.
Transient faults are retried by one tenacity :class:`RetryPolicy`, and every retry loop a public
call runs (its requests, a re-login, the resend of locked rows) draws on that call's one
:class:`RetryBudget`; errors are translated by ``sfsync.salesforce.errors`` only.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote_plus

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from sfsync.clock import Clock
from sfsync.errors import (
    BudgetExhaustedError,
    ConfigError,
    RetryableError,
    SessionExpiredError,
    SfsyncError,
)
from sfsync.logs import get_logger
from sfsync.salesforce.auth import TOKEN_PATH, AccessToken, fetch_token
from sfsync.salesforce.budget import ApiBudget
from sfsync.salesforce.errors import OutcomeUnknownError, translate_error
from sfsync.salesforce.ports import (
    NOT_SENT,
    OUTCOME_UNKNOWN,
    ApiUsage,
    CallCounts,
    ItemResult,
    Record,
)
from sfsync.salesforce.retry import RetryBudget, RetryPolicy

if TYPE_CHECKING:
    from sfsync.salesforce.ports import SalesforceGateway
from sfsync.settings import SalesforceSettings

_log = get_logger(__name__)
T = TypeVar("T")

CALL_OPTIONS = "client=sfsync"
MAX_URI_BYTES = 16_384
"""Salesforce refuses longer URIs (414), and URI plus headers longer than this (431)."""
HEADER_ALLOWANCE = 2_048
"""Room left for the request headers when sizing an IN-list query."""
BULK_WRITE_CALLS = 3
"""A Bulk API 2.0 ingest job writes three times: create the job, upload the CSV, close it."""
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _LockedItemsError(RetryableError):
    """Some items of a collections request failed with UNABLE_TO_LOCK_ROW; resend only those."""


# --------------------------------------------------------------------------------------------
# The HTTP session


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request without an explicit timeout the configured (connect, read) pair."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.timeout = timeout

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, *args, **kwargs)


class SfsyncSession(requests.Session):
    """The session every Salesforce request goes through (see the module docstring)."""

    def __init__(
        self,
        timeout: tuple[float, float],
        ca_bundle: Path | None,
        budget: ApiBudget,
    ) -> None:
        super().__init__()
        self.headers["Sforce-Call-Options"] = CALL_OPTIONS
        adapter = _TimeoutAdapter(timeout)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self._ca_bundle = str(ca_bundle) if ca_bundle is not None else None
        if self._ca_bundle is not None:
            self.verify = self._ca_bundle
        self.budget = budget
        self._counts = {"auth": 0, "read": 0, "write": 0}

    @property
    def counts(self) -> CallCounts:
        return CallCounts(**self._counts)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        # Per request, because requests lets REQUESTS_CA_BUNDLE override ``session.verify``.
        if self._ca_bundle is not None and kwargs.get("verify") is None:
            kwargs["verify"] = self._ca_bundle
        return super().request(method, url, *args, **kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self._counts[_kind(request)] += 1
        response = super().send(request, **kwargs)
        self.budget.record(response.headers.get("Sforce-Limit-Info"))
        return response


def _kind(request: requests.PreparedRequest) -> str:
    url = request.url or ""
    if url.split("?", 1)[0].rstrip("/").endswith(TOKEN_PATH):
        return "auth"
    return "read" if (request.method or "GET").upper() in _READ_METHODS else "write"


# --------------------------------------------------------------------------------------------
# The factory


def connect(
    settings: SalesforceSettings,
    clock: Clock,
    *,
    retry: RetryPolicy | None = None,
    bulk_poll_seconds: int = 5,
) -> SimpleSalesforceGateway:
    """Log in with the configured flow and return the gateway (the only way to build one).

    ``retry`` defaults to the production policy; tests pass one with ``wait_none()``.
    ``bulk_poll_seconds`` is simple-salesforce's first wait before polling a Bulk job (0 in tests).
    """
    budget = ApiBudget(settings.api_reserve_fraction)
    session = SfsyncSession(
        (settings.timeouts.connect, settings.timeouts.read), settings.ca_bundle, budget
    )
    gateway = SimpleSalesforceGateway(
        settings, clock, session, retry or RetryPolicy(), bulk_poll_seconds
    )
    gateway.login()
    return gateway


# --------------------------------------------------------------------------------------------
# The gateway


class SimpleSalesforceGateway:
    """:class:`~sfsync.salesforce.ports.SalesforceGateway` over simple-salesforce."""

    def __init__(
        self,
        settings: SalesforceSettings,
        clock: Clock,
        session: SfsyncSession,
        retry: RetryPolicy,
        bulk_poll_seconds: int,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._session = session
        self._budget = session.budget
        self._retry = retry
        self._bulk_poll_seconds = bulk_poll_seconds
        self._client: Salesforce | None = None
        self._instance_url: str | None = None
        self._describes: dict[str, dict[str, Any]] = {}
        self._global: dict[str, Any] | None = None
        self.reauthentications = 0

    # --- session -----------------------------------------------------------------------------

    def login(self, budget: RetryBudget | None = None) -> None:
        """Get a token (retrying transient login failures from ``budget``, the calling
        operation's when this is a re-login) and build the client on it."""
        token: AccessToken = self._retry.retrying(budget)(
            fetch_token, self._settings, self._clock, self._session
        )
        self._instance_url = token.instance_url.rstrip("/")
        self._client = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self._session,
            version=self._settings.api_version,
            parse_float=Decimal,
            object_pairs_hook=dict,
        )
        _log.info(
            "salesforce_logged_in",
            auth=self._settings.auth,
            instance_url=token.instance_url,
            api_version=self._settings.api_version,
        )

    @property
    def instance_url(self) -> str:
        """The org's base URL from the token (logs in first if needed), without a trailing
        slash: where a person opens a record (``/lightning/r/Case/<id>/view``)."""
        if self._instance_url is None:
            self.login()
        assert self._instance_url is not None  # noqa: S101 - login() always sets it
        return self._instance_url

    def _sf(self) -> Salesforce:
        if self._client is None:
            self.login()
        assert self._client is not None  # noqa: S101 - login() always sets it
        return self._client

    def _invoke(self, fn: Callable[[Salesforce], T]) -> T:
        """One attempt, with any failure translated (and the budget stopped on a limit)."""
        try:
            return fn(self._sf())
        except Exception as error:  # every failure is translated in one place
            translated = translate_error(error)
            if isinstance(translated, BudgetExhaustedError) and self._budget.stop():
                usage = self._budget.usage
                _log.warning(
                    "api_budget_exhausted",
                    used=usage.used if usage else None,
                    max=usage.allocation if usage else None,
                    reserve=self._budget.reserve_fraction,
                    reason="REQUEST_LIMIT_EXCEEDED",
                )
            raise translated from error

    def _with_refresh(self, fn: Callable[[Salesforce], T], write: bool, budget: RetryBudget) -> T:
        """One attempt; on an expired session, log in again once and repeat the call once."""
        if write:
            self._budget.check_write()
        try:
            return self._invoke(fn)
        except SessionExpiredError:
            self.reauthentications += 1
            _log.info("salesforce_session_refreshed", reauthentications=self.reauthentications)
            self.login(budget)
        if write:
            self._budget.check_write()
        try:
            return self._invoke(fn)
        except SessionExpiredError:
            raise ConfigError(
                "Salesforce refused a freshly issued session (INVALID_SESSION_ID twice in a "
                "row); check the integration user's session settings (IP restrictions, session "
                "locked to IP, API Enabled permission) and salesforce.instance_url"
            ) from None

    def _call(
        self,
        fn: Callable[[Salesforce], T],
        *,
        write: bool = False,
        idempotent: bool = True,
        budget: RetryBudget | None = None,
    ) -> T:
        """Run ``fn`` with session refresh inside the retry policy, drawing on ``budget`` (the
        public call's; a fresh one when the call is a single request)."""
        shared = budget if budget is not None else self._retry.budget()
        result: T = self._retry.retrying(shared, idempotent=idempotent)(
            self._with_refresh, fn, write, shared
        )
        return result

    # --- reads -------------------------------------------------------------------------------

    def query(self, soql: str) -> Iterator[Record]:
        budget = self._retry.budget()
        page: dict[str, Any] = self._call(lambda sf: sf.query(soql), budget=budget)
        while True:
            for record in page.get("records", []):
                yield _without_attributes(record)
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self._call(_query_more(str(next_url)), budget=budget)

    def query_in(
        self,
        object_name: str,
        fields: Sequence[str],
        field: str,
        values: Sequence[object],
        *,
        extra_where: str = "",
        extra_args: Sequence[object] = (),
    ) -> Iterator[Record]:
        for soql in self.in_queries(
            object_name, fields, field, values, extra_where=extra_where, extra_args=extra_args
        ):
            yield from self.query(soql)

    def in_queries(
        self,
        object_name: str,
        fields: Sequence[str],
        field: str,
        values: Sequence[object],
        *,
        extra_where: str = "",
        extra_args: Sequence[object] = (),
    ) -> list[str]:
        """The SOQL statements ``query_in`` sends: the IN list split so each GET URI (with room
        for headers) stays under Salesforce's 16,384-byte limit. Every value is escaped by
        ``format_soql``; object and field names must be plain identifiers."""
        _check_name(object_name)
        for name in (*fields, field):
            _check_path(name)
        if not fields:
            raise ConfigError("query_in needs at least one field to select")
        unique = list(dict.fromkeys(values))
        if not unique:
            return []
        extra = f" AND ({format_soql(extra_where, *extra_args)})" if extra_where else ""
        # Names are checked identifiers; every value goes through format_soql.
        head = f"SELECT {', '.join(fields)} FROM {object_name} WHERE {field} IN ("  # noqa: S608
        tail = ")" + extra
        base = len(self._query_url_prefix()) + len(quote_plus(head)) + len(quote_plus(tail))
        limit = MAX_URI_BYTES - HEADER_ALLOWANCE
        comma = len(quote_plus(","))
        statements: list[str] = []
        chunk: list[str] = []
        size = base
        for value in unique:
            literal = format_soql("{}", value)
            cost = len(quote_plus(literal)) + (comma if chunk else 0)
            if base + len(quote_plus(literal)) > limit:
                raise ConfigError(f"a {field} value is too long to query ({len(literal)} chars)")
            if chunk and size + cost > limit:
                statements.append(head + ",".join(chunk) + tail)
                chunk, size = [], base
                cost = len(quote_plus(literal))
            chunk.append(literal)
            size += cost
        statements.append(head + ",".join(chunk) + tail)
        return statements

    def _query_url_prefix(self) -> str:
        sf = self._sf()
        return f"{sf.base_url}query/?q="

    def describe(self, object_name: str) -> dict[str, Any]:
        _check_name(object_name)
        key = object_name.lower()
        if key not in self._describes:
            self._describes[key] = self._rest(f"sobjects/{object_name}/describe")
        return self._describes[key]

    def describe_global(self) -> dict[str, Any]:
        if self._global is None:
            self._global = self._rest("sobjects")
        return self._global

    def limits(self) -> dict[str, Any]:
        return self._rest("limits/")

    def _rest(self, path: str, budget: RetryBudget | None = None) -> dict[str, Any]:
        body = self._call(lambda sf: sf.restful(path), budget=budget)
        return body if isinstance(body, dict) else {}

    # --- writes ------------------------------------------------------------------------------

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        _check_name(object_name)
        return self._collections(
            "composite/sobjects", "POST", object_name, records, idempotent=False
        )

    def update(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        _check_name(object_name)
        missing = [i for i, record in enumerate(records) if not record.get("Id")]
        if missing:
            raise ConfigError(f"update of {object_name}: records {missing[:10]} have no Id")
        if len(records) > self._settings.bulk_threshold:
            return self._bulk("update", object_name, records, "Id")
        return self._collections("composite/sobjects", "PATCH", object_name, records)

    def upsert(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
    ) -> list[ItemResult]:
        _check_name(object_name)
        _check_name(external_id_field)
        missing = [i for i, record in enumerate(records) if not record.get(external_id_field)]
        if missing:
            raise ConfigError(
                f"upsert of {object_name}: records {missing[:10]} have no {external_id_field}"
            )
        if len(records) > self._settings.bulk_threshold:
            return self._bulk("upsert", object_name, records, external_id_field)
        path = f"composite/sobjects/{object_name}/{external_id_field}"
        return self._collections(path, "PATCH", object_name, records)

    def delete(self, ids: Sequence[str]) -> list[ItemResult]:
        for record_id in ids:
            if not _ID.match(record_id):
                raise ConfigError(f"{record_id!r} is not a Salesforce record id")
        results: list[ItemResult | None] = [None] * len(ids)
        chunks = _chunks(len(ids), self._settings.batch_size)
        budget = self._retry.budget()
        self._check_budget(len(chunks), budget)

        def send_chunk(chunk: list[int]) -> None:
            def send(sf: Salesforce) -> Any:
                params = {"ids": ",".join(ids[i] for i in chunk), "allOrNone": "false"}
                return sf.restful("composite/sobjects", method="DELETE", params=params)

            _fill(results, chunk, self._call(send, write=True, budget=budget))

        return _send_chunks(chunks, results, send_chunk)

    def _check_budget(self, calls: int, budget: RetryBudget) -> None:
        """Refuse a write of ``calls`` requests that would eat into the reserve, before sending
        anything; when no response has reported usage yet, ask ``/limits`` first."""
        if self._budget.usage is None and not self._budget.stopped:
            self._rest("limits/", budget)
        self._budget.check_write(calls)

    def _collections(
        self,
        path: str,
        method: str,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        idempotent: bool = True,
    ) -> list[ItemResult]:
        """sObject Collections in chunks of ``batch_size`` (≤ 200), allOrNone false; every item
        checked; items refused with UNABLE_TO_LOCK_ROW resent (those only, bounded)."""
        payload = [{"attributes": {"type": object_name}, **record} for record in records]
        results: list[ItemResult | None] = [None] * len(records)
        chunks = _chunks(len(records), self._settings.batch_size)
        budget = self._retry.budget()
        self._check_budget(len(chunks), budget)

        def send_chunk(chunk: list[int]) -> None:
            self._send_chunk(
                path, method, payload, chunk, results, idempotent=idempotent, budget=budget
            )

        return _send_chunks(chunks, results, send_chunk)

    def _send_chunk(
        self,
        path: str,
        method: str,
        payload: list[dict[str, Any]],
        chunk: list[int],
        results: list[ItemResult | None],
        *,
        idempotent: bool,
        budget: RetryBudget,
    ) -> None:
        """Send one chunk, then resend its locked items alone, all from ``budget``.

        A failed resend keeps what earlier rounds received: its items become ``NOT_SENT`` (or
        ``OUTCOME_UNKNOWN`` when the request went out unanswered) and the error is raised so
        later chunks stop too; the first round's failure is raised with nothing recorded."""
        pending = [chunk]

        def attempt() -> None:
            indices = pending[-1]
            body = {"allOrNone": False, "records": [payload[i] for i in indices]}
            try:
                reply = self._call(
                    lambda sf: sf.restful(path, method=method, json=body),
                    write=True,
                    idempotent=idempotent,
                    budget=budget,
                )
            except OutcomeUnknownError:
                for index in indices:
                    results[index] = _unknown(index)
                return
            except SfsyncError as error:
                if len(pending) > 1:
                    _mark_not_sent(results, indices, error)
                raise
            _fill(results, indices, reply)
            locked = [i for i in indices if (item := results[i]) is not None and item.retryable]
            if locked:
                pending.append(locked)
                raise _LockedItemsError(f"{len(locked)} records were locked (UNABLE_TO_LOCK_ROW)")

        try:
            self._retry.retrying(budget, only=_LockedItemsError)(attempt)
        except _LockedItemsError:
            _log.warning("salesforce_lock_retries_exhausted", records=len(pending[-1]))

    def _bulk(
        self, operation: str, object_name: str, records: Sequence[Mapping[str, Any]], key: str
    ) -> list[ItemResult]:
        """Bulk API 2.0 ingest; results matched back to input order by ``key``."""
        rows = [{name: _csv_value(value) for name, value in r.items()} for r in records]
        budget = self._retry.budget()
        self._check_budget(BULK_WRITE_CALLS, budget)
        options: dict[str, Any] = {"records": rows, "wait": self._bulk_poll_seconds}
        if operation == "upsert":
            options["external_id_field"] = key

        def run(sf: Salesforce) -> list[dict[str, list[dict[str, str]]]]:
            handler = getattr(sf.bulk2, object_name)
            jobs = getattr(handler, operation)(**options)
            return [handler.get_all_ingest_records(job["job_id"]) for job in jobs]

        outcomes = self._call(run, write=True, budget=budget)
        _log.info("salesforce_bulk_job_finished", object=object_name, records=len(records))
        return _bulk_results(records, key, outcomes)

    # --- accounting ------------------------------------------------------------------------

    @property
    def calls(self) -> CallCounts:
        return self._session.counts

    @property
    def calls_used(self) -> int:
        """Every HTTP request sent to Salesforce by this gateway (auth included)."""
        return self._session.counts.total

    @property
    def usage(self) -> ApiUsage | None:
        return self._budget.usage

    @property
    def writes_stopped(self) -> bool:
        return self._budget.stopped

    def close(self) -> None:
        self._session.close()


# --------------------------------------------------------------------------------------------
# Helpers


def _query_more(url: str) -> Callable[[Salesforce], dict[str, Any]]:
    def more(sf: Salesforce) -> dict[str, Any]:
        page: dict[str, Any] = sf.query_more(url, identifier_is_url=True)
        return page

    return more


def _without_attributes(record: dict[str, Any]) -> Record:
    return {
        key: _without_attributes(value) if isinstance(value, dict) else value
        for key, value in record.items()
        if key != "attributes"
    }


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid Salesforce name")


def _check_path(name: str) -> None:
    if not _PATH.match(name):
        raise ConfigError(f"{name!r} is not a valid Salesforce field name")


def _chunks(count: int, size: int) -> list[list[int]]:
    return [list(range(start, min(start + size, count))) for start in range(0, count, size)]


def _send_chunks(
    chunks: list[list[int]],
    results: list[ItemResult | None],
    send_chunk: Callable[[list[int]], None],
) -> list[ItemResult]:
    """Send chunk after chunk. A failure before Salesforce answered anything is raised; a failure
    after some answers (earlier chunks, or the first round of a chunk whose locked rows were
    being resent) keeps every answer received and reports only the items that never got one as
    ``NOT_SENT``, so no applied result is lost."""
    for position, chunk in enumerate(chunks):
        try:
            send_chunk(chunk)
        except SfsyncError as error:
            if all(item is None for item in results):
                raise
            _log.warning(
                "salesforce_write_interrupted",
                applied_chunks=position,
                chunks=len(chunks),
                answered=sum(item is not None for item in results),
                error=type(error).__name__,
            )
            unanswered = [i for i, item in enumerate(results) if item is None]
            _mark_not_sent(results, unanswered, error)
            break
    return _complete(results)


def _mark_not_sent(
    results: list[ItemResult | None], indices: Sequence[int], error: BaseException
) -> None:
    """Report ``indices`` as never applied because the call stopped on ``error``."""
    reason = f"{type(error).__name__}: {error}"
    for index in indices:
        results[index] = ItemResult(index, ok=False, code=NOT_SENT, message=reason)


def _unknown(index: int) -> ItemResult:
    return ItemResult(
        index=index,
        ok=False,
        code=OUTCOME_UNKNOWN,
        message="the request was sent but Salesforce did not answer; look the record up",
    )


def _item(index: int, raw: Mapping[str, Any]) -> ItemResult:
    if raw.get("success"):
        created = raw.get("created")
        return ItemResult(
            index=index,
            ok=True,
            id=raw.get("id"),
            created=bool(created) if created is not None else None,
        )
    errors = raw.get("errors") or [{}]
    first = errors[0]
    return ItemResult(
        index=index,
        ok=False,
        id=raw.get("id"),
        code=str(first.get("statusCode") or "UNKNOWN_ERROR"),
        message=str(first.get("message") or ""),
        fields=tuple(str(name) for name in first.get("fields") or ()),
    )


def _fill(results: list[ItemResult | None], indices: list[int], reply: Any) -> None:
    items = reply if isinstance(reply, list) else []
    for position, index in enumerate(indices):
        raw = items[position] if position < len(items) else None
        results[index] = _item(index, raw) if isinstance(raw, Mapping) else _unknown(index)


def _complete(results: list[ItemResult | None]) -> list[ItemResult]:
    return [item if item is not None else _unknown(i) for i, item in enumerate(results)]


def _csv_value(value: Any) -> str:
    """A field value as Bulk API CSV wants it (None stays empty: the field is left unchanged)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _bulk_error(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``CODE:message:field1,field2 --`` → (code, message, fields)."""
    body = text.strip().removesuffix("--").strip()
    code, _, rest = body.partition(":")
    message, _, fields = rest.rpartition(":")
    if not message:
        message, fields = rest, ""
    return code, message.strip(), tuple(f for f in fields.split(",") if f.strip())


def _bulk_results(
    records: Sequence[Mapping[str, Any]],
    key: str,
    outcomes: list[dict[str, list[dict[str, str]]]],
) -> list[ItemResult]:
    positions: dict[str, deque[int]] = defaultdict(deque)
    for position, record in enumerate(records):
        positions[_csv_value(record.get(key))].append(position)
    results: list[ItemResult | None] = [None] * len(records)

    def place(row: Mapping[str, str]) -> int | None:
        queue = positions.get(row.get(key, ""))
        return queue.popleft() if queue else None

    for outcome in outcomes:
        for row in outcome.get("successfulRecords", []):
            at = place(row)
            if at is not None:
                created = str(row.get("sf__Created", "")).lower() == "true"
                results[at] = ItemResult(at, ok=True, id=row.get("sf__Id"), created=created)
        for row in outcome.get("failedRecords", []):
            at = place(row)
            if at is not None:
                code, message, fields = _bulk_error(row.get("sf__Error", ""))
                results[at] = ItemResult(
                    at,
                    ok=False,
                    id=row.get("sf__Id") or None,
                    code=code,
                    message=message,
                    fields=fields,
                )
        for row in outcome.get("unprocessedRecords", []):
            at = place(row)
            if at is not None:
                results[at] = ItemResult(
                    at,
                    ok=False,
                    code="BULK_UNPROCESSED",
                    message="the Bulk API job ended before processing this record",
                )
    return _complete(results)


if TYPE_CHECKING:
    _conforms: type[SalesforceGateway] = SimpleSalesforceGateway
