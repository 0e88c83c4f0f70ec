"""Business-day thresholds against the org's CreatedDate: weekends and holidays do not count."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sfsync.escalation import EscalationLevel, EscalationPolicy, Region
from tests.escalate.conftest import EscalationHarness

pytestmark = pytest.mark.org

NEW_YORK = ZoneInfo("America/New_York")
US_POLICY = EscalationPolicy(
    region="us",
    regions={"us": Region(country="US", subdivision="NY", time_zone="America/New_York")},
    levels=(EscalationLevel(name="manager", after_days=4, mode="business"),),
)


def new_york(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=NEW_YORK)


def test_four_business_days_skip_the_weekend_and_thanksgiving(
    harness: EscalationHarness,
) -> None:
    harness.policy = US_POLICY
    harness.at(new_york(20, 10))  # Friday before Thanksgiving, 10:00 in New York
    case = harness.seed_case()

    harness.at(new_york(24, 17))  # Tuesday close: 7 + 8 + 8 working hours, four calendar days
    tuesday = harness.run()
    harness.at(new_york(26, 16))  # Thanksgiving afternoon: Wednesday counted, Thursday not
    thanksgiving = harness.run()
    harness.at(new_york(27, 10))  # Friday 10:00: the 32nd working hour
    friday = harness.run()

    assert tuesday.escalated == []
    assert thanksgiving.escalated == []
    assert friday.escalated == [f"{case['Collections_Key__c']}:esc:manager"]
    assert harness.case(case["Id"])["Escalation_Reason__c"] == (
        "Open 4 business days: no contact logged."
    )
    assert [row.age for row in friday.rows] == ["4 business days"]
