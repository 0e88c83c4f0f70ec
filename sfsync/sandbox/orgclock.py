"""The org's settable clock: CreatedDate, token expiry and the rolling API window all read it.

It runs from an injected base clock plus an offset, or stands frozen at a set instant, so tests
and demos can move an org days ahead without waiting.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sfsync.clock import Clock

SALESFORCE_DATETIME = "%Y-%m-%dT%H:%M:%S.000+0000"


class OrgClock:
    """A thread-safe clock that can be set, frozen and advanced while the org serves."""

    def __init__(self, base: Clock) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None

    def now(self) -> datetime:
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._base.now() + self._offset

    def set(self, when: datetime, *, frozen: bool = False) -> None:
        """Jump to ``when``; from there time runs on with the base clock unless ``frozen``."""
        if when.tzinfo is None:
            raise ValueError("the org clock needs a timezone-aware datetime")
        with self._lock:
            if frozen:
                self._frozen_at = when.astimezone(UTC)
            else:
                self._frozen_at = None
                self._offset = when - self._base.now()

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward (or back, with a negative delta)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += delta
            else:
                self._offset += delta

    def reset(self) -> None:
        """Follow the base clock again."""
        with self._lock:
            self._frozen_at = None
            self._offset = timedelta(0)


def format_datetime(when: datetime) -> str:
    """A datetime as Salesforce renders it: UTC with milliseconds and ``+0000``."""
    return when.astimezone(UTC).strftime(SALESFORCE_DATETIME)
