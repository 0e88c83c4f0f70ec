"""Case age in calendar days and in business days across weekends, holidays and time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sfsync.escalation import Age, Region, case_age, working_seconds
from tests.escalation.factories import GB_REGION, LONDON, NEW_YORK, US_REGION

US = Region.model_validate(US_REGION)
GB = Region.model_validate(GB_REGION)
HOUR = 3600


def _ny(day: int, month: int = 11, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


def test_calendar_age_counts_whole_24_hour_periods() -> None:
    created = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)

    assert case_age(created, created + timedelta(days=14, seconds=-1), "calendar", None).days == 13
    assert case_age(created, created + timedelta(days=14), "calendar", None) == Age(
        "calendar", 14, 14 * 86_400
    )


def test_calendar_age_ignores_weekends_and_holidays_even_with_a_region() -> None:
    # Thanksgiving week: 7 calendar days, whatever the holiday calendar says.
    age = case_age(_ny(23), _ny(30), "calendar", US)

    assert (age.days, age.unit) == (7, "calendar days")


def test_business_age_skips_the_weekend_and_thanksgiving() -> None:
    # Monday 23 Nov 09:00 → Monday 30 Nov 09:00: Mon, Tue, Wed, (Thu 26 Thanksgiving), Fri.
    age = case_age(_ny(23), _ny(30), "business", US)

    assert age == Age("business", 4, 4 * 8 * HOUR)
    assert age.unit == "business days"


def test_christmas_is_not_a_business_day() -> None:
    # Thursday 24 Dec 09:00 → Monday 28 Dec 09:00: only Thursday works (Fri 25 is Christmas).
    assert case_age(_ny(24, 12), _ny(28, 12), "business", US).days == 1


def test_a_case_created_friday_evening_starts_counting_monday_morning() -> None:
    created = _ny(6, hour=18, minute=30)  # Friday 6 Nov, after hours

    assert case_age(created, _ny(9, hour=16, minute=59), "business", US).days == 0
    assert case_age(created, _ny(9, hour=17), "business", US).days == 1
    # Wednesday 11 Nov is Veterans Day: no business time accrues on it.
    assert case_age(created, _ny(10, hour=17), "business", US).days == 2
    assert case_age(created, _ny(11, hour=17), "business", US).days == 2
    assert case_age(created, _ny(12, hour=17), "business", US).days == 3


def test_partial_days_add_up_to_a_business_day() -> None:
    # Wednesday 13:00 → Thursday 13:00 is 4 h + 4 h = one full working day.
    assert case_age(_ny(4, hour=13), _ny(5, hour=13), "business", US) == Age(
        "business", 1, 8 * HOUR
    )
    assert case_age(_ny(4, hour=13), _ny(5, hour=12, minute=59), "business", US).days == 0


def test_an_english_bank_holiday_counts_in_gb_but_not_in_the_us() -> None:
    # Friday 28 Aug → Tuesday 1 Sep, 09:00 London; Monday 31 Aug is the late summer bank holiday.
    created = datetime(2026, 8, 28, 9, 0, tzinfo=LONDON)
    now = datetime(2026, 9, 1, 9, 0, tzinfo=LONDON)

    assert case_age(created, now, "business", GB).days == 1
    # The same instants in New York (04:00 → 04:00): Friday and Monday are full working days.
    assert case_age(created, now, "business", US).days == 2


def test_business_hours_are_read_in_the_region_time_zone() -> None:
    created = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 in New York, 13:00 in London
    evening = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 17:00 in New York, 22:00 in London

    assert working_seconds(created, evening, US) == 8 * HOUR
    assert working_seconds(created, evening, GB) == 4 * HOUR


def test_daylight_saving_change_keeps_local_opening_hours() -> None:
    # US clocks go back on Sunday 1 Nov 2026. Friday 30 Oct 09:00 → Monday 2 Nov 17:00 local.
    created = _ny(30, month=10)
    now = _ny(2, hour=17)

    assert working_seconds(created, now, US) == 16 * HOUR
    # The calendar clock counts real elapsed time: 3 days and 9 hours (one hour gained).
    assert case_age(created, now, "calendar", None).seconds == 3 * 86_400 + 9 * HOUR


def test_a_weekend_only_region_counts_saturdays() -> None:
    weekend = Region.model_validate({**US_REGION, "weekdays": ["sat", "sun"]})

    # Friday 09:00 → Monday 09:00: Saturday and Sunday only.
    assert case_age(_ny(20), _ny(23), "business", weekend).days == 2
    assert case_age(_ny(20), _ny(23), "business", US).days == 1


def test_a_clock_behind_the_org_gives_age_zero() -> None:
    created = _ny(20)
    before = created - timedelta(hours=5)

    assert case_age(created, before, "calendar", None) == Age("calendar", 0, 0)
    assert case_age(created, before, "business", US) == Age("business", 0, 0)


def test_business_age_needs_a_region() -> None:
    with pytest.raises(ValueError, match="business age needs a region"):
        case_age(_ny(20), _ny(23), "business", None)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="now 2026-11-23T09:00:00 has no time zone"):
        case_age(_ny(20), datetime(2026, 11, 23, 9, 0), "calendar", None)  # noqa: DTZ001


def _day_by_day(start: datetime, end: datetime, region: Region) -> int:
    """The rule stated plainly: each local day's opening hours overlapping the interval."""
    total = 0
    day = start.astimezone(region.zone).date()
    while day <= end.astimezone(region.zone).date():
        if region.is_working_day(day):
            opens = datetime.combine(day, region.start, region.zone).astimezone(UTC)
            closes = datetime.combine(day, region.end, region.zone).astimezone(UTC)
            total += max(0, int((min(closes, end) - max(opens, start)).total_seconds()))
        day += timedelta(days=1)
    return total


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31)),  # noqa: DTZ001
    st.integers(min_value=0, max_value=3 * 365 * 86_400),
    st.sampled_from([US, GB]),
)
def test_running_totals_agree_with_counting_day_by_day(
    start: datetime, span: int, region: Region
) -> None:
    created = start.replace(tzinfo=UTC)
    now = created + timedelta(seconds=span)

    assert working_seconds(created, now, region) == _day_by_day(created, now, region)
