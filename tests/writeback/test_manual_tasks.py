"""Calls a rep logs by hand on the collections Case (a Task with no Collections_Key__c) are read
back like sfsync's own Tasks: they are contact attempts, and escalation counts them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sfsync.store import models
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"


def _delinquent(world: World) -> str:
    """C1 is 10 days past due: the first run opens its Case; returns the Case id."""
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.account("C1", "Acme Ltd")
    assert world.collect().cycle.counts["cases_opened"] == 1
    world.advance(hours=2)
    return str(world.case(CASE)["Id"])


def _outcomes(world: World) -> list[models.Outcome]:
    with world.sessions() as session:
        return list(session.scalars(select(models.Outcome)))


def test_a_call_logged_by_hand_on_the_case_is_recorded_as_an_outcome(world: World) -> None:
    case_id = _delinquent(world)
    logged = world.rep.Task.create(
        {
            "Subject": "Call",
            "WhatId": case_id,
            "Status": "Completed",
            "CallDisposition": "Left voicemail",
            "Description": "Left a message for the AP clerk",
        }
    )
    world.rep.Task.create({"Subject": "Call back", "WhatId": case_id, "Status": "Not Started"})
    other_case = world.rep.Case.create({"Subject": "Delivery question"})
    world.rep.Task.create(
        {"Subject": "Call", "WhatId": other_case["id"], "Status": "Completed", "Description": "x"}
    )
    world.advance(hours=1)

    report = world.writeback()

    assert report.counts["manual_tasks_read"] == 1
    assert report.counts["outcomes_recorded"] == 1
    [outcome] = _outcomes(world)
    assert outcome.salesforce_task_id == logged["id"]
    assert (outcome.case_key, outcome.outcome_code, outcome.task_key) == (
        CASE,
        "left_voicemail",
        None,
    )
    assert "AP clerk" in (outcome.notes or "")
    [note] = world.ledger.helper.notes("C1")
    assert "left voicemail" in note

    world.advance(hours=1)
    again = world.writeback()
    assert again.counts.get("outcomes_recorded", 0) == 0
    assert len(_outcomes(world)) == 1


def test_hand_logged_calls_are_read_by_the_writeback_window(world: World) -> None:
    """Only calls changed since the watermark (minus the overlap) are read, like keyed Tasks."""
    case_id = _delinquent(world)
    first = world.rep.Task.create(
        {"Subject": "Call", "WhatId": case_id, "Status": "Completed", "CallDisposition": "PTP"}
    )
    world.advance(hours=1)
    assert world.writeback().counts["manual_tasks_read"] == 1
    world.advance(hours=1)
    second = world.rep.Task.create(
        {"Subject": "Call", "WhatId": case_id, "Status": "Completed", "CallDisposition": "VM"}
    )
    world.advance(hours=1)
    assert world.writeback().counts["manual_tasks_read"] == 2  # the first is in the overlap
    world.advance(hours=1)

    report = world.writeback()

    assert report.counts["manual_tasks_read"] == 1  # the first is older than the window now
    codes = {row.salesforce_task_id: row.outcome_code for row in _outcomes(world)}
    assert codes == {first["id"]: "promise_to_pay", second["id"]: "left_voicemail"}
