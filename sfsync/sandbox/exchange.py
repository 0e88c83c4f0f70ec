"""One HTTP exchange as the org's handlers see it: a parsed request in, a response out.

Kept apart from the socket server so composite and batch subrequests run through the very same
handlers as top-level calls, without HTTP in between.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sfsync.sandbox.errors import ApiError

if TYPE_CHECKING:
    from sfsync.sandbox.org import LocalOrg
    from sfsync.sandbox.records import RecordWriter

JSON_TYPE = "application/json;charset=UTF-8"
CSV_TYPE = "text/csv"


@dataclass
class Request:
    """A request: method, decoded path, single-valued query parameters, lower-case headers."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    parsed: Any = None
    """The JSON body when the request came from a composite subrequest (already parsed)."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The JSON body; malformed JSON is the documented 400 ``JSON_PARSER_ERROR``."""
        if self.parsed is not None:
            return self.parsed
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Unexpected character in the request body: {exc}",
            ) from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ApiError(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of sObject from the request body: expected a JSON "
                "object at [line:1, column:1]",
            )
        return body


@dataclass
class Response:
    """A response; ``payload`` keeps the JSON value so composite need not parse it again."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    payload: Any = None
    drop_connection: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        return cls(status, body, JSON_TYPE, dict(headers or {}), payload)

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)

    @classmethod
    def error(cls, error: ApiError) -> Response:
        return cls.json(error.status, error.body())

    @classmethod
    def csv(cls, text: str, headers: dict[str, str] | None = None) -> Response:
        return cls(200, text.encode("utf-8"), CSV_TYPE, dict(headers or {}), None)


@dataclass
class Context:
    """What a handler may use: the org, the request, the API version and a record writer bound
    to this request's transaction."""

    org: LocalOrg
    request: Request
    api_version: str
    writer: RecordWriter

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.api_version}"

    def record_url(self, sobject: str, record_id: str) -> str:
        return f"{self.base_path}/sobjects/{sobject}/{record_id}"
