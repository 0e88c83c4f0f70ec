"""A manager Task no one can own (no manager, a queue fallback): who gets it, and saying so."""

from __future__ import annotations

import pytest
from simple_salesforce.format import format_soql
from structlog.testing import capture_logs

from tests.escalate.conftest import (
    CASEY,
    FALLBACK_MAIL,
    MORGAN,
    RILEY,
    ROUTING,
    T0,
    EscalationHarness,
    days,
)

pytestmark = pytest.mark.org


def _task(harness: EscalationHarness, case_id: str) -> dict[str, object]:
    soql = format_soql("SELECT OwnerId, Subject, Description FROM Task WHERE WhatId = {}", case_id)
    (task,) = harness.sf.query(soql)["records"]
    return dict(task)


def test_the_alert_fallbacks_salesforce_user_takes_the_managers_task(
    harness: EscalationHarness,
) -> None:
    # Riley has left (inactive: skipped); Casey is an active user of the org.
    harness.routing = ROUTING.model_copy(update={"fallback": ("slack:collections", RILEY, CASEY)})
    harness.sf.User.update(harness.user_id(RILEY), {"IsActive": False})
    case = harness.seed_case(owner=MORGAN)  # Morgan has no manager
    harness.at(T0 + days(15))

    with capture_logs() as logs:
        harness.run()

    task = _task(harness, case["Id"])
    assert task["OwnerId"] == harness.user_id(CASEY)
    assert not str(task["Subject"]).startswith("[Unassigned]")
    assert harness.case(case["Id"])["OwnerId"] == harness.queue_id("Collections_Managers")
    assert not [line for line in logs if line["event"] == "escalation_task_unassigned"]


def test_with_no_user_to_take_it_the_task_says_it_is_unassigned(
    harness: EscalationHarness,
) -> None:
    assert harness.routing.fallback == (FALLBACK_MAIL,)  # not a Salesforce user
    case = harness.seed_case(owner=MORGAN)
    harness.at(T0 + days(15))

    with capture_logs() as logs:
        harness.run()

    task = _task(harness, case["Id"])
    assert task["OwnerId"] == harness.server.org.user_id  # the integration user
    assert str(task["Subject"]).startswith("[Unassigned] Escalation")
    assert "owners.task_queue_fallback" in str(task["Description"])
    assert "queue:Collections_Managers" in str(task["Description"])
    (line,) = [entry for entry in logs if entry["event"] == "escalation_task_unassigned"]
    assert line["log_level"] == "warning"
    assert line["task_owner"] == "queue:Collections_Managers"
