"""The API budget: every response's ``Sforce-Limit-Info`` is recorded, and writes stop cleanly
when the remaining daily allocation would fall below the configured reserve.

A real org blocks *all* its users once the rolling 24-hour allocation is spent, so sfsync keeps a
reserve (default 20 %) for people and other integrations: before each write request the gateway
asks :meth:`ApiBudget.check_write`, which raises :class:`BudgetExhaustedError` — before anything is
sent, with one ``api_budget_exhausted`` log line — when the request would eat into the reserve.
A 403 ``REQUEST_LIMIT_EXCEEDED`` seen during the run stops later writes the same way.
"""

from __future__ import annotations

import re
import threading

from sfsync.errors import BudgetExhaustedError
from sfsync.logs import get_logger
from sfsync.salesforce.ports import ApiUsage

_log = get_logger(__name__)
_API_USAGE = re.compile(r"(?:^|[;\s])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str | None) -> ApiUsage | None:
    """``api-usage=18/5000; per-app-api-usage=...`` → ``ApiUsage(18, 5000)`` (None if absent)."""
    if not header:
        return None
    match = _API_USAGE.search(header)
    if match is None:
        return None
    return ApiUsage(used=int(match.group(1)), allocation=int(match.group(2)))


class ApiBudget:
    """The latest reported usage, the reserve, and whether writes have been stopped."""

    def __init__(self, reserve_fraction: float) -> None:
        self.reserve_fraction = reserve_fraction
        self._lock = threading.Lock()
        self._usage: ApiUsage | None = None
        self._stopped = False

    @property
    def usage(self) -> ApiUsage | None:
        with self._lock:
            return self._usage

    @property
    def stopped(self) -> bool:
        """True once writes were refused for this run (reserve reached or limit exceeded)."""
        with self._lock:
            return self._stopped

    def record(self, header: str | None) -> None:
        """Remember the usage a response reported (responses without the header change nothing)."""
        usage = parse_limit_info(header)
        if usage is not None:
            with self._lock:
                self._usage = usage

    def stop(self) -> bool:
        """Refuse every later write in this run; True the first time (the moment to log it)."""
        with self._lock:
            first = not self._stopped
            self._stopped = True
            return first

    def check_write(self, calls: int = 1) -> None:
        """Raise BudgetExhaustedError unless ``calls`` more requests leave the reserve intact.

        Called before a write is sent, so a refusal leaves nothing half-applied. Once refused,
        every later write of the run is refused too; only the first refusal is logged."""
        with self._lock:
            usage, stopped = self._usage, self._stopped
        if usage is None and not stopped:
            return
        if not stopped and usage is not None:
            after = usage.remaining - calls
            if usage.allocation and after / usage.allocation >= self.reserve_fraction:
                return
        used = usage.used if usage is not None else None
        allocation = usage.allocation if usage is not None else None
        if self.stop():
            _log.warning(
                "api_budget_exhausted",
                used=used,
                max=allocation,
                reserve=self.reserve_fraction,
                planned_calls=calls,
            )
        raise BudgetExhaustedError(
            f"Salesforce API budget: {used}/{allocation} daily calls used; writes stop to keep "
            f"{self.reserve_fraction:.0%} of the allocation in reserve"
        )
