"""``sfsync run``'s loop is the main job: each run reads back what reps did, then syncs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sfsync.runner import StopFlag, run_loop
from sfsync.writeback import CollectionsReport
from tests.writeback.conftest import START, World

pytestmark = pytest.mark.org

TODAY = START.date()
CASE = "erp:C1:USD:1"


def test_the_loop_keeps_a_rep_dispute_out_of_the_chase_and_opens_the_dispute_case(
    world: World,
) -> None:
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.ledger.invoice("I2", "C1", "400.00", due=TODAY - timedelta(days=5))
    world.account("C1", "Acme Ltd")
    deps = world.deps()
    stop = StopFlag()
    reports: list[CollectionsReport] = []

    def keep(report: CollectionsReport) -> None:
        reports.append(report)
        if len(reports) == 1:
            # Between two runs a rep reports a dispute on the call Task.
            world.advance(hours=2)
            world.complete(
                f"{CASE}:day_7_call",
                Collections_Outcome__c="Disputed",
                Description="Customer says INV-I2 was never delivered",
            )
            world.advance(hours=1)
        else:
            stop.event.set()

    runs = run_loop(deps, interval=0, stop=stop, on_report=keep)

    assert runs == 2
    assert reports[0].cycle.counts["cases_opened"] == 1
    assert reports[1].writeback.counts["disputes_recorded"] == 1
    assert reports[1].dispute_cases["opened"] == 1
    case = world.case(CASE)
    assert case["Past_Due_Amount__c"] == 1000  # INV-I2 left the chase
    assert case["Disputed_Amount__c"] == 400
    assert not world.case(f"{CASE}:dispute")["IsClosed"]


def test_the_loop_judges_a_promise_on_a_customer_whose_books_did_not_change(
    world: World,
) -> None:
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "1000.00", due=TODAY - timedelta(days=10))
    world.account("C1", "Acme Ltd")
    world.collect()
    world.advance(hours=2)
    world.complete(
        f"{CASE}:day_7_call",
        Collections_Outcome__c="Promise to Pay",
        Promise_Date__c=(TODAY + timedelta(days=3)).isoformat(),
        Promise_Amount__c=1000,
    )
    world.collect()
    assert world.case(CASE)["Promise_Status__c"] == "Pending"
    world.advance(days=10)  # nothing paid: past the date and the grace days
    stop = StopFlag()
    reports: list[CollectionsReport] = []

    def once(report: CollectionsReport) -> None:
        reports.append(report)
        stop.event.set()

    run_loop(world.deps(), interval=0, stop=stop, on_report=once)

    assert [status.value for _, status in reports[0].verdicts] == ["broken"]
    case = world.case(CASE)
    assert case["Promise_Status__c"] == "Broken"
    assert case["Priority"] == "High"
