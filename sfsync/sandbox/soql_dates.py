"""Date and datetime handling for SOQL: literals, relative date ranges, stored wire values.

Relative literals (``TODAY``, ``LAST_N_DAYS:n`` ...) are ranges of whole days starting at 00:00 in
the org's time zone, which is UTC for the local org, computed from the injected ``now``
(salesforce-api.md §4). ``LAST_N_DAYS:n`` includes today; ``NEXT_N_DAYS:n`` starts tomorrow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sfsync.sandbox.soql_parser import DateLiteral

_MONTHS_PER_YEAR = 12
_DAYS_PER_WEEK = 7
_QUARTER_DAYS = 90


def parse_date(text: str) -> date:
    return date.fromisoformat(text[:10])


def parse_datetime(text: str) -> datetime:
    """A wire or literal datetime (``...000+0000``, ``Z``, ``±hh:mm``) as aware UTC."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _month_start(day: date, months_ahead: int) -> date:
    index = day.year * _MONTHS_PER_YEAR + day.month - 1 + months_ahead
    return date(index // _MONTHS_PER_YEAR, index % _MONTHS_PER_YEAR + 1, 1)


def date_range(literal: DateLiteral, now: datetime) -> tuple[date, date]:
    """The days ``literal`` covers relative to ``now``, as [start, end) in dates."""
    today = now.astimezone(UTC).date()
    day = timedelta(days=1)
    n = literal.n or 0
    week_start = today - timedelta(days=(today.weekday() + 1) % _DAYS_PER_WEEK)  # Sunday
    week = timedelta(days=_DAYS_PER_WEEK)
    ranges: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_WEEK": (week_start - week, week_start),
        "THIS_WEEK": (week_start, week_start + week),
        "NEXT_WEEK": (week_start + week, week_start + 2 * week),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today, 0)),
        "THIS_MONTH": (_month_start(today, 0), _month_start(today, 1)),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2)),
        "LAST_YEAR": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
        "THIS_YEAR": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "NEXT_YEAR": (date(today.year + 1, 1, 1), date(today.year + 2, 1, 1)),
        "LAST_90_DAYS": (today - _QUARTER_DAYS * day, today + day),
        "NEXT_90_DAYS": (today + day, today + (_QUARTER_DAYS + 1) * day),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
        "N_DAYS_AGO": (today - n * day, today - (n - 1) * day),
    }
    return ranges[literal.name]


def datetime_range(literal: DateLiteral, now: datetime) -> tuple[datetime, datetime]:
    """The same range as instants: from 00:00 UTC of the first day to 00:00 after the last."""
    start, end = date_range(literal, now)
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end, time(), tzinfo=UTC),
    )
