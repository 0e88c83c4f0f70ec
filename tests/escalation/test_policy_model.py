"""The escalation section of policy.yaml: defaults, and every admin mistake refused with its fix."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from sfsync.domain import Priority
from sfsync.escalation import Assignee, EscalationLevel, EscalationPolicy, Region
from tests.escalation.factories import GB_REGION, LADDER, US_REGION

DOC = Path(__file__).resolve().parents[2] / "docs" / "escalation.md"


def _errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        EscalationPolicy.model_validate(data)
    return [
        ".".join(str(p) for p in item["loc"]) + ": " + item["msg"] for item in caught.value.errors()
    ]


def _level(name: str, days: int, **extra: object) -> dict[str, object]:
    return {"name": name, "after_days": days, **extra}


def test_defaults_escalate_to_the_manager_after_fourteen_calendar_days() -> None:
    policy = EscalationPolicy()

    (level,) = policy.levels
    assert (level.name, level.after_days, level.mode) == ("manager", 14, "calendar")
    assert level.status == "Escalated"
    assert level.assign_to == Assignee("manager")
    assert level.fallback == Assignee("queue", "Collections_Managers")
    assert level.task_priority is Priority.HIGH
    assert policy.no_response_attempts == 3
    assert policy.region_of(level) is None


def test_assignees_read_and_serialise_as_written() -> None:
    level = EscalationLevel.model_validate(
        _level("legal", 30, assign_to="user:legal@example.com", fallback="queue:Legal")
    )

    assert level.assign_to == Assignee("user", "legal@example.com")
    assert level.model_dump()["assign_to"] == "user:legal@example.com"
    assert level.model_dump()["fallback"] == "queue:Legal"
    assert str(Assignee("manager")) == "manager"
    built = EscalationLevel(name="x", after_days=1, assign_to=Assignee("queue", "Q"))
    assert built.assign_to == Assignee("queue", "Q")


def test_a_region_reads_business_hours_and_its_holiday_calendar() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "region": "us",
            "regions": {
                "us": US_REGION,
                "gb": {**GB_REGION, "end": "17:30", "extra_closed_days": ["2026-12-24"]},
            },
            "levels": [
                _level("manager", 10, mode="business"),
                _level("legal", 20, mode="business", region="gb"),
            ],
        }
    )

    us = policy.region_of(policy.levels[0])
    gb = policy.region_of(policy.levels[1])
    assert us is not None
    assert us.country == "US"
    assert us.weekdays == ("mon", "tue", "wed", "thu", "fri")
    assert us.day_seconds == 8 * 3600
    assert gb is not None
    assert gb.end == time(17, 30)
    assert gb.day_seconds == 8 * 3600 + 1800
    assert not gb.is_working_day(date(2026, 12, 24))  # extra closed day (a Thursday)
    assert not gb.is_working_day(date(2026, 12, 28))  # Boxing Day observed (a Monday)
    assert gb.is_working_day(date(2026, 12, 29))


def test_every_mistake_is_reported_at_once_with_its_place_and_fix() -> None:
    errors = _errors(
        {
            "no_response_attempts": 0,
            "regions": {
                "mars": {"country": "XX", "time_zone": "Mars/Olympus"},
                "late": {**US_REGION, "start": "18:00", "end": "09:00"},
                "nowork": {**US_REGION, "weekdays": []},
                "twice": {**US_REGION, "weekdays": ["mon", "mon"]},
                "yaml": {**US_REGION, "end": 1020},
                "ca": {**US_REGION, "subdivision": "XX"},
            },
            "levels": [
                _level(
                    "manager",
                    14,
                    assign_to="boss",
                    fallback="manager",
                    task_subject="{customer.__class__}",
                    chatter="{past_due:d}",
                ),
            ],
        }
    )

    joined = "\n".join(errors)
    assert "no_response_attempts: Input should be greater than or equal to 1" in joined
    assert "regions.mars.time_zone: Value error, time zone 'Mars/Olympus' is unknown" in joined
    assert "end 09:00 must be after start 18:00" in joined
    assert "regions.nowork.weekdays: Value error, weekdays is empty" in joined
    assert "weekdays ['mon', 'mon'] names a day twice" in joined
    assert "regions.yaml.end: Value error, time 1020 is a number: write times quoted" in joined
    assert "subdivision 'XX' is not one of US's: AK, AL" in joined
    assert "levels.0.assign_to: Value error, assignee 'boss' is not one of manager" in joined
    assert "levels.0.fallback: Value error, fallback must be queue:<name> or user:" in joined
    assert "task_subject placeholder {customer.__class__} is unknown; use {customer}" in joined
    assert "levels.0.chatter: Value error, chatter '{past_due:d}' has a bad format spec" in joined


def test_an_unknown_country_is_refused_naming_the_code_to_use() -> None:
    errors = _errors({"regions": {"mars": {"country": "XX", "time_zone": "UTC"}}})

    expected = (
        "regions.mars: Value error, country 'XX' has no holiday calendar; use an ISO 3166 code "
        "such as US, GB, DE"
    )
    assert errors == [expected]


def test_a_broken_template_is_refused() -> None:
    errors = _errors({"levels": [_level("manager", 14, chatter="Escalated {")]})

    assert "chatter 'Escalated {' is not a valid template" in errors[0]


def test_level_names_must_be_unique_and_thresholds_strictly_increasing() -> None:
    duplicate = _errors({"levels": [_level("manager", 14), _level("manager", 30)]})
    unordered = _errors({"levels": [_level("legal", 30), _level("manager", 14)]})

    assert "level name 'manager' is used twice" in duplicate[0]
    assert "level 'manager' (after_days 14) must come after 'legal' (after_days 30)" in unordered[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"region": "us"}, "region 'us' is not defined under regions"),
        (
            {"levels": [_level("manager", 14, region="gb")]},
            "level 'manager': region 'gb' is not defined under regions",
        ),
        (
            {"levels": [_level("manager", 10, mode="business")]},
            "level 'manager' counts business days but names no region",
        ),
    ],
)
def test_regions_must_exist_and_business_levels_must_have_one(
    data: dict[str, Any], message: str
) -> None:
    assert message in _errors(data)[0]


def test_the_example_ladder_routes_legal_to_its_queue() -> None:
    legal = LADDER.levels[1]

    assert legal.assign_to == Assignee("queue", "Legal_Collections")
    assert legal.status == "Escalated - Legal"
    assert Region.model_validate(GB_REGION).subdivision == "ENG"


def test_the_documented_example_is_a_valid_policy() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]

    policy = EscalationPolicy.model_validate(yaml.safe_load(block)["escalation"])

    assert [(level.name, level.mode) for level in policy.levels] == [
        ("manager", "calendar"),
        ("legal", "business"),
    ]
    assert policy.regions["us"].subdivision == "NY"
    assert not policy.regions["us"].is_working_day(date(2026, 12, 24))
