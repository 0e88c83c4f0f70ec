"""SOQL for the local org: a parser and an evaluator over stored records.

INTERFACE CONTRACT (used by the HTTPS server; keep these names stable):

- ``SoqlError(code, message)``: ``code`` is ``MALFORMED_QUERY``, ``INVALID_FIELD`` or
  ``INVALID_TYPE``; ``message`` follows the documented shape.
- ``parse_soql(text: str) -> SoqlQuery``
- ``RecordSource`` protocol: stored rows are dicts keyed by canonical field names with wire JSON
  values (dates ``YYYY-MM-DD``, datetimes ``YYYY-MM-DDThh:mm:ss.000+0000``, numbers, booleans,
  ``None``) and always ``Id`` and ``IsDeleted``.
- ``execute_soql(query, schema, source, now, api_version, include_deleted) -> QueryResult``:
  all matching records rendered as the REST API returns them (with ``attributes``), or only a
  count for ``SELECT COUNT()``; the server pages them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class RecordSource(Protocol):
    def records(self, sobject: str, include_deleted: bool) -> Iterable[Mapping[str, Any]]:
        """Every stored row of ``sobject`` (canonical name)."""
        ...

    def get(self, record_id: str) -> Mapping[str, Any] | None:
        """Any stored row by its 18-character id, for parent paths such as Account.Name."""
        ...


@dataclass(frozen=True)
class QueryResult:
    total_size: int
    records: list[dict[str, Any]]
    is_count: bool = False
