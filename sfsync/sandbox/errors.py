"""The org's refusals, in the two shapes Salesforce uses.

A :class:`ApiError` is a whole-request error, rendered ``[{"message","errorCode","fields"?}]``
with its HTTP status. A :class:`RecordError` is one record's failure; the single-record REST
resources turn it into an ``ApiError`` (status 400 unless said otherwise), while collections,
composite and Bulk 2.0 report it per record as ``{"statusCode","message","fields"}``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A request the org answers with an error status and the documented error list."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(status, code, message, fields)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = list(self.fields)
        return [item]


class RecordError(Exception):
    """One record refused; ``status`` is what a single-record request answers with."""

    def __init__(
        self, code: str, message: str, fields: tuple[str, ...] = (), status: int = 400
    ) -> None:
        super().__init__(code, message, fields, status)
        self.code = code
        self.message = message
        self.fields = fields
        self.status = status

    def item(self) -> dict[str, Any]:
        """The per-record shape used by collections and composite results."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}

    def as_api_error(self) -> ApiError:
        """The single-record form; NOT_FOUND carries no ``fields``, as the REST API sends it."""
        fields = None if self.code == "NOT_FOUND" else self.fields
        return ApiError(self.status, self.code, self.message, fields)


class MultipleMatchesError(Exception):
    """An external-id upsert or lookup matched several records (HTTP 300)."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(ids)
        self.ids = ids


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")
