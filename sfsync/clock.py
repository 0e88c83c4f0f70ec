"""The injected clock. Nothing in sfsync reads the wall clock except :class:`SystemClock`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time; always timezone-aware UTC."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, used only at the edges (CLI, workers)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock tests and the demo move by hand."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, when: datetime) -> None:
        self.current = when


def today(clock: Clock) -> date:
    """The UTC calendar date of ``clock``."""
    return clock.now().date()
