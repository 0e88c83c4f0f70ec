"""Routing: owner → manager, queue → recipients, fallback with a recorded problem."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from pydantic import ValidationError

from sfsync.alerts.model import Channel
from sfsync.alerts.routing import (
    AlertRouter,
    AlertRouting,
    ProblemKind,
    Recipient,
    digest_date_due,
    parse_recipient,
)
from tests.alerts.conftest import make_alert

BOSS = "jane.boss@example.com"
LEAD = "ar-lead@example.com"

ROUTING = AlertRouting(
    managers={
        "005000000000001AAA": BOSS,
        "Other.Rep@Example.com": [LEAD, "slack:collections"],
    },
    queues={"Disputes": ["disputes@example.com"]},
    fallback=[LEAD],
    broadcast=["teams:ar-team"],
)


def test_owner_id_routes_to_the_manager_plus_broadcast() -> None:
    route = AlertRouter(ROUTING).route(make_alert())

    assert route.recipients == (
        Recipient(Channel.EMAIL, BOSS),
        Recipient(Channel.TEAMS, "ar-team"),
    )
    assert route.problem is None


def test_owner_username_matches_case_insensitively_and_lists_are_kept_in_order() -> None:
    alert = make_alert(owner_id="005000000000009AAA", owner_username="other.rep@example.com")

    route = AlertRouter(ROUTING).route(alert)

    assert [str(recipient) for recipient in route.recipients] == [
        LEAD,
        "slack:collections",
        "teams:ar-team",
    ]


def test_queue_owned_case_goes_to_the_queue_recipients() -> None:
    alert = make_alert(owner_id="00G000000000001AAA", owner_name="Disputes", queue="disputes")

    route = AlertRouter(ROUTING).route(alert)

    assert [str(recipient) for recipient in route.recipients] == [
        "disputes@example.com",
        "teams:ar-team",
    ]
    assert route.problem is None


def test_unknown_owner_goes_to_fallback_with_a_problem() -> None:
    alert = make_alert(owner_id="005000000000777AAA", owner_name="New Hire", owner_username=None)

    route = AlertRouter(ROUTING).route(alert)

    assert [str(recipient) for recipient in route.recipients] == [LEAD, "teams:ar-team"]
    assert route.problem is not None
    assert route.problem.kind is ProblemKind.UNKNOWN_MANAGER
    assert route.problem.message == (
        "Case 00001001: no manager configured for owner New Hire (005000000000777AAA); "
        f"alert sent to fallback {LEAD}"
    )


def test_owner_who_left_goes_to_fallback_even_with_a_manager() -> None:
    route = AlertRouter(ROUTING).route(make_alert(owner_active=False))

    assert [str(recipient) for recipient in route.recipients] == [LEAD, "teams:ar-team"]
    assert route.problem is not None
    assert route.problem.kind is ProblemKind.OWNER_INACTIVE
    assert "has left (inactive user)" in route.problem.message


def test_nobody_to_send_to_is_a_problem_of_its_own() -> None:
    route = AlertRouter(AlertRouting()).route(make_alert())

    assert route.recipients == ()
    assert route.problem is not None
    assert route.problem.kind is ProblemKind.NO_RECIPIENT
    assert "set alerts.routing.fallback" in route.problem.message


def test_a_manager_also_on_broadcast_gets_one_copy() -> None:
    routing = AlertRouting(managers={"005000000000001AAA": BOSS}, broadcast=[BOSS.upper()])

    assert AlertRouter(routing).route(make_alert()).recipients == (Recipient(Channel.EMAIL, BOSS),)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("boss@example.com", Recipient(Channel.EMAIL, "boss@example.com")),
        ("slack:#collections", Recipient(Channel.SLACK, "#collections")),
        ("Teams: AR team", Recipient(Channel.TEAMS, "ar team")),
        ("Jane.Boss@Example.com", Recipient(Channel.EMAIL, "jane.boss@example.com")),
    ],
)
def test_recipients_parse_by_prefix(text: str, expected: Recipient) -> None:
    assert parse_recipient(text) == expected


def test_bad_recipients_are_reported_with_their_key() -> None:
    with pytest.raises(ValidationError) as raised:
        AlertRouting.model_validate(
            {"managers": {"rita": "not-an-address"}, "fallback": ["slack:"], "queue": {}}
        )

    problems = {(tuple(error["loc"][:2]), error["type"]) for error in raised.value.errors()}
    assert (("managers", "rita"), "value_error") in problems
    assert (("fallback", 0), "value_error") in problems
    assert (("queue",), "extra_forbidden") in problems


def test_digest_is_due_from_the_configured_time_of_day() -> None:
    routing = AlertRouting(digest_time=time(8, 0))

    assert digest_date_due(datetime(2026, 3, 2, 7, 59, tzinfo=UTC), routing) is None
    assert digest_date_due(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), routing) == date(2026, 3, 2)
