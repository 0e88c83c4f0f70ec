"""The org's rolling 24-hour API request counter, counted as Salesforce counts.

One per REST call, one per sObject Collections or composite request, one per subrequest of
composite/batch. The window runs on the org clock, so moving the clock a day ahead frees the
allocation, as it would in a real org.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

from sfsync.clock import Clock

WINDOW = timedelta(hours=24)


class ApiRequestCounter:
    """Counts API requests in a rolling 24-hour window against an allocation."""

    def __init__(self, clock: Clock, allocation: int) -> None:
        self._clock = clock
        self.allocation = allocation
        self._lock = threading.Lock()
        self._calls: deque[tuple[datetime, int]] = deque()
        self._used = 0

    def _expire(self, now: datetime) -> None:
        while self._calls and self._calls[0][0] <= now - WINDOW:
            _, count = self._calls.popleft()
            self._used -= count

    def used(self) -> int:
        """Requests counted in the last 24 hours of org time."""
        with self._lock:
            self._expire(self._clock.now())
            return self._used

    def try_consume(self, count: int = 1) -> bool:
        """Count ``count`` requests, or refuse (False) when the allocation is already spent."""
        with self._lock:
            now = self._clock.now()
            self._expire(now)
            if self._used >= self.allocation:
                return False
            self._record(now, count)
            return True

    def consume(self, count: int) -> None:
        """Count requests without checking the allocation: how tests spend part of it, as
        another integration sharing the org would."""
        with self._lock:
            self._record(self._clock.now(), count)

    def exhaust(self) -> None:
        """Use up whatever remains of the allocation (a fault for tests and demos)."""
        with self._lock:
            now = self._clock.now()
            self._expire(now)
            remaining = self.allocation - self._used
            if remaining > 0:
                self._record(now, remaining)

    def reset(self) -> None:
        """Forget every counted request."""
        with self._lock:
            self._calls.clear()
            self._used = 0

    def _record(self, now: datetime, count: int) -> None:
        if count <= 0:
            return
        self._calls.append((now, count))
        self._used += count

    def header(self) -> str:
        """The ``Sforce-Limit-Info`` value."""
        return f"api-usage={self.used()}/{self.allocation}"
