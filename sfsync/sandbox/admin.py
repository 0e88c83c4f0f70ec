"""Admin endpoints under ``/sandbox/``: faults, the org clock and reset, for demos and for tests
that drive the org as a separate process. Every call needs ``X-Sandbox-Admin-Token`` (from
``org.json``); the server binds loopback only anyway.

- ``GET  /sandbox/state``   clock, API usage and armed faults
- ``POST /sandbox/faults``  any of ``{"expireSessions": true, "exhaustLimit": true,
  "lockFailures": n, "unavailableRequests": n, "unavailableSeconds": s, "latencyMs": ms,
  "dropAfterCommit": n, "clear": true}``
- ``POST /sandbox/clock``   ``{"now": iso, "frozen": bool}`` | ``{"advanceSeconds": n}`` |
  ``{"reset": true}``
- ``POST /sandbox/reset``   back to the seeded org
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from sfsync.sandbox.errors import ApiError, not_found
from sfsync.sandbox.exchange import Request, Response

if TYPE_CHECKING:
    from sfsync.sandbox.org import LocalOrg

ADMIN_HEADER = "X-Sandbox-Admin-Token"


def handle_admin(org: LocalOrg, request: Request) -> Response:
    token = request.header(ADMIN_HEADER) or ""
    if not hmac.compare_digest(token, org.config.admin_token):
        raise ApiError(401, "INVALID_SESSION_ID", f"{ADMIN_HEADER} is missing or wrong")
    path = request.path.rstrip("/")
    if path == "/sandbox/state" and request.method == "GET":
        return Response.json(200, org.admin_state())
    if request.method != "POST":
        raise not_found()
    body = _body(request)
    if path == "/sandbox/faults":
        _arm(org, body)
    elif path == "/sandbox/clock":
        org.set_clock_from(body)
    elif path == "/sandbox/reset":
        org.reset()
    else:
        raise not_found()
    return Response.json(200, org.admin_state())


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ApiError(400, "JSON_PARSER_ERROR", "The admin request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The admin request body must be a JSON object")
    return body


def _arm(org: LocalOrg, body: dict[str, Any]) -> None:
    faults = org.faults
    if body.get("clear"):
        faults.clear()
    if body.get("expireSessions"):
        org.expire_sessions()
    if body.get("exhaustLimit"):
        org.exhaust_limit()
    if "lockFailures" in body:
        faults.fail_next_writes(int(body["lockFailures"]))
    if "unavailableRequests" in body or "unavailableSeconds" in body:
        faults.unavailable(
            requests=int(body.get("unavailableRequests", 0)),
            seconds=float(body.get("unavailableSeconds", 0)),
        )
    if "latencyMs" in body:
        faults.add_latency(float(body["latencyMs"]) / 1000)
    if "dropAfterCommit" in body:
        faults.drop_after_commit(int(body["dropAfterCommit"]))
