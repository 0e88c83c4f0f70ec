"""Every completed collections Task comes back: a recognised label (picklist or the rep's own
``CallDisposition``, any case, common synonyms) as its outcome, anything else as ``other`` with
the rep's label and notes, written to the source's notes too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sfsync.store import models
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"


def _rep_completes_day_7_call(world: World, **fields: object) -> None:
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.account("C1", "Acme Ltd")
    assert world.collect().cycle.counts["cases_opened"] == 1
    world.advance(hours=2)
    world.complete(f"{CASE}:day_7_call", **fields)
    world.advance(hours=1)


def _outcomes(world: World) -> list[models.Outcome]:
    with world.sessions() as session:
        return list(session.scalars(select(models.Outcome)))


@pytest.mark.parametrize(
    ("disposition", "code"),
    [
        ("Promise To Pay", "promise_to_pay"),
        ("PTP", "promise_to_pay"),
        ("Voicemail", "left_voicemail"),
        ("left voicemail", "left_voicemail"),
        ("NO-ANSWER", "no_answer"),
    ],
)
def test_a_recognised_call_disposition_is_the_outcome(
    world: World, disposition: str, code: str
) -> None:
    _rep_completes_day_7_call(world, CallDisposition=disposition, Description="spoke to AP")

    report = world.writeback()

    assert report.counts["outcomes_recorded"] == 1
    assert report.counts.get("outcomes_other", 0) == 0
    [outcome] = _outcomes(world)
    assert (outcome.case_key, outcome.outcome_code) == (CASE, code)
    assert "spoke to AP" in (outcome.notes or "")


def test_a_free_text_disposition_is_kept_as_other_with_its_notes_and_sent_to_the_source(
    world: World,
) -> None:
    _rep_completes_day_7_call(
        world,
        CallDisposition="Spoke to receptionist",
        Description="AP manager back Monday, call again",
    )

    report = world.writeback()

    assert report.counts["outcomes_recorded"] == 1
    assert report.counts["outcomes_other"] == 1
    assert report.counts["notes_written"] == 1
    [outcome] = _outcomes(world)
    assert (outcome.case_key, outcome.outcome_code) == (CASE, "other")
    assert outcome.task_key == f"{CASE}:day_7_call"
    assert "Spoke to receptionist" in (outcome.notes or "")
    assert "AP manager back Monday" in (outcome.notes or "")
    [note] = world.ledger.helper.notes("C1")
    assert "other: Spoke to receptionist" in note
    assert "AP manager back Monday, call again" in note


def test_a_task_completed_with_notes_only_is_recorded_not_dropped(world: World) -> None:
    _rep_completes_day_7_call(world, Description="Customer asked for a copy of INV I1")

    report = world.writeback()

    assert report.counts["outcomes_other"] == 1
    [outcome] = _outcomes(world)
    assert outcome.outcome_code == "other"
    assert "copy of INV I1" in (outcome.notes or "")


def test_tasks_sfsync_closed_itself_are_no_contact(world: World) -> None:
    """The account is paid off: the cycle closes the open call; reading it back records nothing."""
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.account("C1", "Acme Ltd")
    world.collect()
    world.advance(hours=2)
    world.ledger.pay("C1", "1000.00")
    closing = world.collect()
    assert closing.cycle.counts["cases_closed"] == 1
    assert closing.cycle.counts["tasks_closed"] == 1
    world.advance(hours=1)

    report = world.writeback()

    assert report.counts["tasks_closed_by_sync"] == 1
    assert report.counts.get("outcomes_recorded", 0) == 0
    assert _outcomes(world) == []
