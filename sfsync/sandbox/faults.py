"""Faults on demand: what a real org does on a bad day, made to happen when a test asks.

The server consults one thread-safe :class:`FaultController` per request. Faults are counted in
requests or writes rather than wall time wherever possible, so tests stay deterministic; the
503 window may also be given in seconds for demos, measured on the org clock so a test (or demo)
that moves the clock past the window ends it without waiting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sfsync.clock import Clock


@dataclass(frozen=True)
class FaultState:
    """A snapshot of the armed faults, as the admin endpoint reports them."""

    lock_failures_remaining: int
    unavailable_requests_remaining: int
    unavailable_until: datetime | None
    latency_seconds: float
    drops_after_commit_remaining: int


class FaultController:
    """Armed faults; every method is safe to call from any thread while the org serves."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._lock_failures = 0
        self._unavailable_requests = 0
        self._unavailable_until: datetime | None = None
        self._latency = 0.0
        self._drops_after_commit = 0

    def fail_next_writes(self, count: int) -> None:
        """The next ``count`` record writes fail with UNABLE_TO_LOCK_ROW."""
        with self._lock:
            self._lock_failures = max(0, count)

    def unavailable(self, requests: int = 0, seconds: float = 0.0) -> None:
        """Answer 503 to the next ``requests`` requests and/or for ``seconds`` of org time."""
        until = self._clock.now() + timedelta(seconds=seconds) if seconds > 0 else None
        with self._lock:
            self._unavailable_requests = max(0, requests)
            self._unavailable_until = until

    def add_latency(self, seconds: float) -> None:
        """Delay every response by ``seconds`` (0 removes the delay)."""
        with self._lock:
            self._latency = max(0.0, seconds)

    def drop_after_commit(self, count: int = 1) -> None:
        """For the next ``count`` writing requests: commit, then close the connection unanswered."""
        with self._lock:
            self._drops_after_commit = max(0, count)

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._lock_failures = 0
            self._unavailable_requests = 0
            self._unavailable_until = None
            self._latency = 0.0
            self._drops_after_commit = 0

    def state(self) -> FaultState:
        with self._lock:
            return FaultState(
                lock_failures_remaining=self._lock_failures,
                unavailable_requests_remaining=self._unavailable_requests,
                unavailable_until=self._unavailable_until,
                latency_seconds=self._latency,
                drops_after_commit_remaining=self._drops_after_commit,
            )

    # --- consulted by the server -------------------------------------------------------------

    def latency(self) -> float:
        with self._lock:
            return self._latency

    def take_unavailable(self) -> bool:
        """True when this request must be answered 503 (and counts it)."""
        now = self._clock.now()
        with self._lock:
            if self._unavailable_requests > 0:
                self._unavailable_requests -= 1
                return True
            if self._unavailable_until is not None:
                if now < self._unavailable_until:
                    return True
                self._unavailable_until = None
            return False

    def take_lock_failure(self) -> bool:
        """True when this record write must fail with UNABLE_TO_LOCK_ROW (and counts it)."""
        with self._lock:
            if self._lock_failures > 0:
                self._lock_failures -= 1
                return True
            return False

    def take_drop_after_commit(self) -> bool:
        """True when this committed write must go unanswered (and counts it)."""
        with self._lock:
            if self._drops_after_commit > 0:
                self._drops_after_commit -= 1
                return True
            return False
