"""The local org: everything but the socket. :class:`LocalOrg` turns a :class:`Request` into a
:class:`Response` the way Salesforce would, and offers the Python API tests use to move the
clock and arm faults.

Per API request, in order: added latency, the 503 fault, the version check, the session
(401 ``INVALID_SESSION_ID``), the rolling API allocation (403 ``REQUEST_LIMIT_EXCEEDED``), then
the route's handler inside one store transaction, rolled back whenever the answer is an error.
Every response under ``/services/data/vXX.X`` carries ``Sforce-Limit-Info``.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from sfsync.clock import Clock, SystemClock
from sfsync.errors import ConfigError
from sfsync.sandbox.admin import handle_admin
from sfsync.sandbox.auth import OAuthError, SessionRegistry, TokenEndpoint, token_response
from sfsync.sandbox.bulk import BulkJobs
from sfsync.sandbox.certs import OrgCertificates, ensure_certificates
from sfsync.sandbox.config import OrgConfig, load_or_create_config
from sfsync.sandbox.errors import ApiError, RecordError, not_found
from sfsync.sandbox.exchange import Context, Request, Response
from sfsync.sandbox.faults import FaultController
from sfsync.sandbox.limits import ApiRequestCounter
from sfsync.sandbox.orgclock import OrgClock, format_datetime
from sfsync.sandbox.query import CursorCache
from sfsync.sandbox.records import OrgRules, RecordWriter
from sfsync.sandbox.routes import match_route
from sfsync.sandbox.schema import Schema
from sfsync.sandbox.seed import case_status_values, is_seeded, seed_org
from sfsync.sandbox.soap import soap_credentials, soap_fault, soap_login_response
from sfsync.sandbox.storage import OrgStore
from sfsync.sandbox.values import parse_datetime

logger = logging.getLogger(__name__)

MIN_API_VERSION = 42.0
MAX_API_VERSION = 66.0
_VERSIONED = re.compile(r"^/services/data/v(\d+\.\d)(/.*)?$")
_WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


def _session_expired() -> ApiError:
    return ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


class LocalOrg:
    """A Salesforce org in a directory: records, sessions, limits, faults and a settable clock."""

    def __init__(
        self,
        data_dir: Path,
        schema: Schema,
        *,
        clock: Clock | None = None,
        config_overrides: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.clock = OrgClock(clock or SystemClock())
        self.config: OrgConfig = load_or_create_config(data_dir).with_overrides(
            **(config_overrides or {})
        )
        case_statuses = case_status_values(self.config.case_statuses)  # checked before opening
        self.certificates: OrgCertificates = ensure_certificates(
            data_dir,
            self.clock.now(),
            Path(self.config.jwt_cert) if self.config.jwt_cert else None,
        )
        self.schema = schema
        self.rules = OrgRules(schema)
        self.store = OrgStore(data_dir / "org.sqlite3", schema)
        if not is_seeded(self.store):
            seed_org(
                self.store,
                self.rules,
                self.clock.now(),
                self.config.org_name,
                self.config.username,
                case_statuses=case_statuses,
            )
        self.org_id: str = self.store.records("Organization", include_deleted=True)[0]["Id"]
        users = self.store.find("User", "Username", self.config.username)
        if not users:
            self.store.close()
            raise ConfigError(
                f"{data_dir / 'org.json'}: username {self.config.username!r} is not a user of this "
                "org; restore the username it was created with, or start from an empty --data dir"
            )
        self.user_id: str = users[0]
        self.limits = ApiRequestCounter(self.clock, self.config.api_allocation)
        self.faults = FaultController(self.clock)
        self.sessions = SessionRegistry(self.store, self.clock)
        self.cursors = CursorCache()
        self.bulk = BulkJobs()
        self.instance_url = ""
        self._token_endpoint: TokenEndpoint | None = None
        self._baseline = self.store.snapshot()

    # --- lifecycle hooks used by the HTTP server ---------------------------------------------

    def bind_url(self, instance_url: str) -> None:
        """Learn the https URL the org is served at (its instance and login URL)."""
        self.instance_url = instance_url.rstrip("/")
        self._token_endpoint = TokenEndpoint(
            self.config, self.certificates.jwt_cert, self.clock, self.instance_url, self.user_id
        )

    def close(self) -> None:
        self.store.close()

    # --- Python API for tests and demos ------------------------------------------------------

    def expire_sessions(self) -> None:
        """Every issued access token stops working now; logging in again works."""
        self.sessions.expire_all()

    def exhaust_limit(self) -> None:
        """Spend the rest of the rolling 24-hour allocation."""
        self.limits.exhaust()

    def reset(self) -> None:
        """Back to the freshly seeded org: records, faults, limits, clock, cursors, jobs.
        Issued sessions stay valid, so logged-in clients carry on."""
        self.store.replace_all(self._baseline)
        self.faults.clear()
        self.limits.reset()
        self.clock.reset()
        self.cursors.clear()
        self.bulk.clear()

    def format_now(self) -> str:
        return format_datetime(self.clock.now())

    def limits_body(self) -> dict[str, Any]:
        """``GET /limits``: the daily API allocation as counted, the rest as generous constants."""
        used = self.limits.used()
        allocation = self.limits.allocation
        body: dict[str, Any] = {
            "DailyApiRequests": {"Max": allocation, "Remaining": max(0, allocation - used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DailyAsyncApexExecutions": {"Max": 250000, "Remaining": 250000},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "FileStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
            "SingleEmail": {"Max": 5000, "Remaining": 5000},
        }
        return body

    # --- requests ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request (never raises: unexpected errors are a logged 500)."""
        latency = self.faults.latency()
        if latency:
            time.sleep(latency)
        try:
            return self._handle(request)
        except ApiError as exc:
            return Response.error(exc)
        except Exception:
            error_id = secrets.token_hex(6)
            logger.exception("local_org_request_failed", extra={"error_id": error_id})
            return Response.error(
                ApiError(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact "
                    f"support: {error_id}",
                )
            )

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/sandbox/"):
            return handle_admin(self, request)
        if not path.startswith("/services/"):
            raise not_found()
        if self.faults.take_unavailable():
            return Response.error(
                ApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable; please retry.")
            )
        if path == "/services/oauth2/token":
            return self._token(request)
        if path.startswith("/services/Soap/u/"):
            return self._soap_login(request)
        if path.rstrip("/") == "/services/data":
            return Response.json(200, self._versions())
        match = _VERSIONED.match(path)
        if match is None:
            raise not_found()
        version = match.group(1)
        if not MIN_API_VERSION <= float(version) <= MAX_API_VERSION:
            raise not_found()
        session = self._session(request)
        if not self.limits.try_consume(1):
            return self._with_usage(
                Response.error(
                    ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                )
            )
        try:
            response = self._api(request, version, match.group(2) or "", session.user_id)
        except ApiError as exc:
            response = Response.error(exc)
        return self._with_usage(response)

    def _with_usage(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = self.limits.header()
        return response

    def _versions(self) -> list[dict[str, str]]:
        versions = []
        number = MIN_API_VERSION
        while number <= MAX_API_VERSION:
            versions.append(
                {
                    "label": f"API {number:.1f}",
                    "url": f"/services/data/v{number:.1f}",
                    "version": f"{number:.1f}",
                }
            )
            number += 1
        return versions

    def _session(self, request: Request) -> Any:
        authorization = request.header("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in {"bearer", "oauth"} or not token.strip():
            raise _session_expired()
        session = self.sessions.check(token.strip())
        if session is None:
            raise _session_expired()
        return session

    def _api(self, request: Request, version: str, rest_path: str, user_id: str) -> Response:
        found = match_route(rest_path)
        if found is None:
            raise not_found()
        route, params = found
        handler = route.handlers.get(request.method)
        if handler is None:
            allowed = ",".join(sorted(route.handlers))
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
            )
        _check_content_type(request, route.body_type)
        with self.store.transaction() as txn:
            writer = RecordWriter(self.rules, txn, self.clock.now(), user_id, self.faults)
            ctx = Context(self, request, version, writer)
            response = _run(ctx, handler, params)
            if response.status >= 400:
                txn.rollback_only = True
        if (
            request.method in _WRITE_METHODS
            and response.status < 400
            and self.faults.take_drop_after_commit()
        ):
            response.drop_connection = True
        return response

    def dispatch_subrequest(self, parent: Context, request: Request) -> Response:
        """Run a composite or batch subrequest through the same routes, in the parent's
        transaction (the caller owns savepoints)."""
        match = _VERSIONED.match(request.path)
        if match is None or not MIN_API_VERSION <= float(match.group(1)) <= MAX_API_VERSION:
            return Response.error(not_found())
        found = match_route(match.group(2) or "")
        if found is None:
            return Response.error(not_found())
        route, params = found
        handler = route.handlers.get(request.method)
        if handler is None:
            return Response.error(
                ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed.")
            )
        ctx = Context(self, request, match.group(1), parent.writer)
        return _run(ctx, handler, params)

    # --- logins ------------------------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            raise ApiError(405, "METHOD_NOT_ALLOWED", "HTTP Method not allowed. Allowed are POST")
        if self._token_endpoint is None:
            raise ApiError(503, "SERVER_UNAVAILABLE", "The org is not serving yet")
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        form.update(request.query)
        try:
            grant = self._token_endpoint.grant(form, request.header("Authorization"))
        except OAuthError as exc:
            return Response.json(400, exc.body())
        session = self.sessions.issue(
            self.org_id, grant.user_id, timedelta(seconds=self.config.token_lifetime_seconds)
        )
        body = token_response(
            session,
            grant,
            instance_url=self.instance_url,
            org_id=self.org_id,
            issued_at=self.clock.now(),
            client_secret=self.config.client_secret,
        )
        return Response.json(200, body)

    def _soap_login(self, request: Request) -> Response:
        """The SOAP ``login`` call simple-salesforce makes for username/password/token."""
        credentials = soap_credentials(request.body)
        endpoint = self._token_endpoint
        if credentials is None or endpoint is None:
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token.")
        username, password = credentials
        if not endpoint.check_password(username, password):
            return soap_fault("INVALID_LOGIN", "Invalid username, password, security token.")
        session = self.sessions.issue(
            self.org_id, self.user_id, timedelta(seconds=self.config.token_lifetime_seconds)
        )
        version = request.path.rstrip("/").rsplit("/", 1)[-1]
        return soap_login_response(
            session.token,
            f"{self.instance_url}/services/Soap/u/{version}/{self.org_id}",
            self.user_id,
            self.org_id,
            self.config.token_lifetime_seconds,
        )

    # --- admin helpers -----------------------------------------------------------------------

    def admin_state(self) -> dict[str, Any]:
        faults = self.faults.state()
        return {
            "now": self.format_now(),
            "apiUsage": {"used": self.limits.used(), "allocation": self.limits.allocation},
            "faults": {
                "lockFailuresRemaining": faults.lock_failures_remaining,
                "unavailableRequestsRemaining": faults.unavailable_requests_remaining,
                "latencySeconds": faults.latency_seconds,
                "dropsAfterCommitRemaining": faults.drops_after_commit_remaining,
            },
        }

    def set_clock_from(self, body: dict[str, Any]) -> None:
        """``POST /sandbox/clock``: ``{"now": iso, "frozen": bool}``, ``{"advanceSeconds": n}``
        or ``{"reset": true}``."""
        if body.get("reset"):
            self.clock.reset()
            return
        if "advanceSeconds" in body:
            self.clock.advance(timedelta(seconds=float(body["advanceSeconds"])))
            return
        when = parse_datetime(str(body.get("now", "")))
        if when is None:
            raise ApiError(400, "INVALID_FIELD", "now must be an ISO 8601 datetime")
        self.clock.set(when, frozen=bool(body.get("frozen", False)))


def _check_content_type(request: Request, body_type: str) -> None:
    """415 for a body the resource cannot read (JSON resources take JSON, uploads take CSV)."""
    if not request.body or request.method not in _WRITE_METHODS:
        return
    content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
    expected = "text/csv" if body_type == "csv" else "application/json"
    if content_type != expected:
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content-Type header specified in HTTP request is not supported: {content_type}",
        )


def _run(ctx: Context, handler: Any, params: dict[str, str]) -> Response:
    try:
        response: Response = handler(ctx, params)
    except ApiError as exc:
        return Response.error(exc)
    except RecordError as exc:
        return Response.error(exc.as_api_error())
    return response
