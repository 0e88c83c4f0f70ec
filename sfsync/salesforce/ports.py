"""The Salesforce gateway as the sync layer sees it: a typed port and its result values.

This module imports nothing heavy (no requests, simple-salesforce or tenacity), so the sync layer
and its fakes can depend on it without pulling in I/O. The real implementation is
:class:`sfsync.salesforce.client.SimpleSalesforceGateway`, built by
:func:`sfsync.salesforce.client.connect`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sfsync.errors import PermanentError, RetryableError

#: Item code for a create whose request was sent but never answered: the record may or may not
#: exist. The caller looks it up by its key before trying again (creates are not idempotent).
OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"
#: Item code for a record never sent because the call stopped after earlier chunks were applied
#: (budget reached, retries exhausted); sending it again later is safe.
NOT_SENT = "NOT_SENT"
#: Per-item code Salesforce uses for a row lock held by another transaction (transient).
UNABLE_TO_LOCK_ROW = "UNABLE_TO_LOCK_ROW"

Record = dict[str, Any]


@dataclass(frozen=True)
class ItemResult:
    """What happened to one record of a write, at its position in the caller's input.

    A successful item has ``ok`` and the record ``id`` (``created`` tells an upsert's insert from
    its update). A failed item carries Salesforce's error ``code``, ``message`` and ``fields``.
    """

    index: int
    ok: bool
    id: str | None = None
    created: bool | None = None
    code: str = ""
    message: str = ""
    fields: tuple[str, ...] = ()

    @property
    def outcome_unknown(self) -> bool:
        """True when the write may or may not have happened (look the record up by its key)."""
        return self.code == OUTCOME_UNKNOWN

    @property
    def retryable(self) -> bool:
        """True when the same item may succeed if sent again later (still locked, not sent)."""
        return self.code in {UNABLE_TO_LOCK_ROW, NOT_SENT}

    def error(self) -> PermanentError | RetryableError | None:
        """The failed item as an error of its group: PermanentError goes to the dead-letter
        table, RetryableError waits for the next run; None for a success or an unknown
        outcome (look the record up by its key)."""
        if self.ok or self.outcome_unknown:
            return None
        if self.retryable:
            return RetryableError(f"{self.code}: {self.message}")
        return PermanentError(self.message, self.code, self.fields)


@dataclass(frozen=True)
class ApiUsage:
    """The org's daily API allocation as last reported by ``Sforce-Limit-Info``."""

    used: int
    allocation: int

    @property
    def remaining(self) -> int:
        return max(0, self.allocation - self.used)

    @property
    def remaining_fraction(self) -> float:
        return self.remaining / self.allocation if self.allocation else 0.0


@dataclass(frozen=True)
class CallCounts:
    """HTTP requests sfsync sent to Salesforce in this gateway's life (one run), by kind."""

    auth: int = 0
    read: int = 0
    write: int = 0

    @property
    def total(self) -> int:
        return self.auth + self.read + self.write


@runtime_checkable
class SalesforceGateway(Protocol):
    """Everything sync needs from Salesforce. Errors follow ``sfsync.errors``: a whole call fails
    with ConfigError, RetryableError (after bounded retries), BudgetExhaustedError or
    PermanentError; writes report per-item outcomes instead of raising for a refused record."""

    def query(self, soql: str) -> Iterator[Record]:
        """Every row of ``soql`` (built with ``format_soql``), following pagination."""
        ...

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
        """Rows whose ``field`` is one of ``values``, in as many queries as the URI limit needs.

        ``extra_where`` is a ``format_soql`` template ANDed to the IN clause, filled with
        ``extra_args``."""
        ...

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Insert records; one :class:`ItemResult` per input record, in input order.

        Writes raise only when nothing was applied; once a chunk is applied, a later failure
        comes back as ``NOT_SENT`` items instead, so no applied result is lost."""
        ...

    def update(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        """Update records by ``Id``; one :class:`ItemResult` per input record."""
        ...

    def upsert(
        self,
        object_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        external_id_field: str,
    ) -> list[ItemResult]:
        """Insert or update by external id; one :class:`ItemResult` per input record."""
        ...

    def delete(self, ids: Sequence[str]) -> list[ItemResult]:
        """Delete records by id; one :class:`ItemResult` per id."""
        ...

    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's describe (cached for the gateway's life)."""
        ...

    def describe_global(self) -> dict[str, Any]:
        """The org's global describe (cached)."""
        ...

    def limits(self) -> dict[str, Any]:
        """``GET /limits`` as Salesforce returns it."""
        ...

    @property
    def calls(self) -> CallCounts:
        """HTTP requests sent so far, by kind."""
        ...

    @property
    def usage(self) -> ApiUsage | None:
        """The last reported daily API usage (None before any response carried it)."""
        ...

    @property
    def instance_url(self) -> str:
        """The org's base URL (``https://…``, no trailing slash), where a person opens a record:
        the token's ``instance_url``, so it is right for the local org and a My Domain alike."""
        ...
