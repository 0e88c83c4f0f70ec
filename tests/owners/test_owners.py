"""Who owns the Cases and Tasks sfsync writes, seen the way reps see it in the local org."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from simple_salesforce.format import format_soql
from structlog.testing import capture_logs

from sfsync.errors import ConfigError
from sfsync.escalate import EscalationDeps, run_escalation
from sfsync.policy import Policy
from sfsync.sync import run_cycle
from tests.owners.conftest import (
    CASEY,
    MORGAN,
    RILEY,
    account,
    cases_by_key,
    queue_id,
    shipped_policy,
    tasks_by_key,
    user_id,
)
from tests.sync.conftest import START, SyncHarness

pytestmark = pytest.mark.org


def _past_due(world: SyncHarness, customer: str, days: int, owner: str = RILEY) -> str:
    """A customer owing 1,200 that is ``days`` past due on START, with an Account of ``owner``."""
    account_id = account(world, customer, f"{customer} Ltd", owner)
    world.ledger.customer(customer, f"{customer} Ltd")
    world.ledger.invoice(f"{customer}-I1", customer, "1200.00", due=START.date() - timedelta(days))
    return account_id


def test_a_new_case_goes_to_the_collections_queue_and_a_reassigned_one_stays_with_the_rep(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10)

    world.run()

    case = cases_by_key(world)["erp:C1:USD:1"]
    assert case["OwnerId"] == queue_id(world, "Collections")
    # day_7_call belongs to the case owner; a queue cannot own a Task and no fallback user is
    # configured, so the integration user keeps it.
    assert tasks_by_key(world)["erp:C1:USD:1:day_7_call"]["OwnerId"] == world.org.user_id

    riley = user_id(world, RILEY)
    [moved] = world.gateway().update("Case", [{"Id": case["Id"], "OwnerId": riley}])
    assert moved.ok
    world.advance(days=4)  # 14 days past due: day_14_call, for the case owner
    report = world.run()

    assert report.counts["cases_updated"] == 1
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == riley  # not taken back
    assert tasks_by_key(world)["erp:C1:USD:1:day_14_call"]["OwnerId"] == riley


def test_a_reminder_on_the_account_belongs_to_the_account_owner(world: SyncHarness) -> None:
    account_id = account(world, "C1", "Acme Ltd", CASEY)
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "500.00", due=date(2026, 3, 18))

    world.run()

    reminder = tasks_by_key(world)["erp:C1:USD:due-I1:pre_due_reminder"]
    assert (reminder["WhatId"], reminder["OwnerId"]) == (account_id, user_id(world, CASEY))


def test_my_collections_cases_lists_the_reps_accounts_when_the_rule_is_account_owner(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10, owner=RILEY)
    _past_due(world, "C2", 10, owner=CASEY)
    _past_due(world, "C3", 20, owner=RILEY)
    policy = shipped_policy(case={"owner": "account_owner"})

    report = run_cycle(replace(world.deps(), policy=policy))

    assert report.counts["cases_opened"] == 3
    riley = user_id(world, RILEY)
    mine = world.rows(
        format_soql(
            "SELECT Collections_Key__c FROM Case WHERE OwnerId = {} AND IsClosed = false "
            "ORDER BY Collections_Key__c",
            riley,
        )
    )
    assert [row["Collections_Key__c"] for row in mine] == ["erp:C1:USD:1", "erp:C3:USD:1"]
    tasks = tasks_by_key(world)
    assert tasks["erp:C1:USD:1:day_7_call"]["OwnerId"] == riley  # the case owner, a user now
    assert tasks["erp:C2:USD:1:day_7_call"]["OwnerId"] == user_id(world, CASEY)


def test_a_task_for_a_queue_goes_to_the_fallback_user(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 15)
    policy = shipped_policy(owners={"task_queue_fallback": MORGAN})

    run_cycle(replace(world.deps(), policy=policy))

    review = tasks_by_key(world)["erp:C1:USD:1:day_15_review"]  # queue:Collections_Managers
    assert review["OwnerId"] == user_id(world, MORGAN)
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == queue_id(world, "Collections")


def test_an_inactive_account_owner_hands_the_task_to_the_fallback_and_says_so(
    world: SyncHarness,
) -> None:
    account(world, "C1", "Acme Ltd", CASEY)
    world.ledger.customer("C1", "Acme Ltd")
    world.ledger.invoice("I1", "C1", "500.00", due=date(2026, 3, 18))
    [left] = world.gateway().update("User", [{"Id": user_id(world, CASEY), "IsActive": False}])
    assert left.ok
    policy = shipped_policy(owners={"task_queue_fallback": MORGAN})

    with capture_logs() as logs:
        report = run_cycle(replace(world.deps(), policy=policy))

    assert report.counts["dead_lettered"] == 0
    reminder = tasks_by_key(world)["erp:C1:USD:due-I1:pre_due_reminder"]
    assert reminder["OwnerId"] == user_id(world, MORGAN)
    [line] = [entry for entry in logs if entry["event"] == "owner_inactive"]
    assert line["record"] == "erp:C1:USD:due-I1:pre_due_reminder"
    assert (line["fallback"], line["log_level"]) == (MORGAN, "warning")


def test_an_inactive_account_owner_without_a_fallback_leaves_the_integration_user(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10, owner=CASEY)
    [left] = world.gateway().update("User", [{"Id": user_id(world, CASEY), "IsActive": False}])
    assert left.ok
    policy = shipped_policy(case={"owner": "account_owner"})

    report = run_cycle(replace(world.deps(), policy=policy))

    assert (report.status, report.counts["dead_lettered"]) == ("succeeded", 0)
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == world.org.user_id


def _nothing_written(world: SyncHarness) -> bool:
    return all(
        world.rows(f"SELECT Id FROM {sobject}") == []  # noqa: S608 - fixed names
        for sobject in ("Case", "Task", "AR_Invoice__c")
    )


def test_an_unknown_case_queue_is_a_config_error_before_any_write(world: SyncHarness) -> None:
    _past_due(world, "C1", 10)
    policy = shipped_policy(case={"owner": "queue:No_Such_Queue"})

    with pytest.raises(ConfigError, match=r"queue:No_Such_Queue .*policy\.yaml"):
        run_cycle(replace(world.deps(), policy=policy))

    assert _nothing_written(world)


def test_a_step_queue_the_account_has_not_reached_still_fails_before_any_write(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10)  # day 7: day_15_review is a week away
    data = shipped_policy().model_dump(mode="json")
    data["cadence"]["steps"][4]["owner"] = "queue:Reviewers"
    policy = type(shipped_policy()).model_validate(data)

    with pytest.raises(ConfigError, match="queue:Reviewers"):
        run_cycle(replace(world.deps(), policy=policy))

    assert _nothing_written(world)


def test_an_unknown_fallback_user_is_a_config_error_naming_the_key(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10)
    policy = shipped_policy(owners={"task_queue_fallback": "nobody@sfsync.local"})

    with pytest.raises(ConfigError, match=r"owners\.task_queue_fallback.*nobody@sfsync\.local"):
        run_cycle(replace(world.deps(), policy=policy))

    assert _nothing_written(world)


def test_escalation_tasks_go_to_the_manager_then_legal_takes_the_case_and_its_task_a_user(
    world: SyncHarness,
) -> None:
    world.org.clock.set(START, frozen=True)
    gateway = world.gateway()
    account_id = account(world, "C1", "Acme Ltd", RILEY)
    [created] = gateway.create(
        "Case",
        [
            {
                "Subject": "Collections: Acme Ltd (USD)",
                "AccountId": account_id,
                "Collections_Key__c": "erp:C1:USD:1",
                "OwnerId": user_id(world, RILEY),
                "Past_Due_Amount__c": 1200.0,
                "Collections_Currency__c": "USD",
            }
        ],
    )
    assert created.ok
    escalation = shipped_policy().escalation

    def escalate_at(days: int) -> None:
        when = START + timedelta(days=days)
        world.org.clock.set(when, frozen=True)
        world.clock.set(when)
        deps = EscalationDeps(
            gateway=world.gateway(),
            sessions=world.sessions,
            policy=escalation,
            clock=world.clock,
            task_queue_fallback=CASEY,
        )
        assert run_escalation(deps, dry_run=False).failed == []

    escalate_at(15)
    tasks = tasks_by_key(world)
    assert tasks["erp:C1:USD:1:esc:manager"]["OwnerId"] == user_id(world, MORGAN)
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == user_id(world, RILEY)

    escalate_at(31)  # legal: assign_to queue:Legal_Collections
    tasks = tasks_by_key(world)
    assert tasks["erp:C1:USD:1:esc:legal"]["OwnerId"] == user_id(world, CASEY)
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == queue_id(world, "Legal_Collections")


def _with_step_owner(owner: str, step: int = 4) -> Policy:
    """The shipped policy with cadence step ``step`` (day_15_review) owned by ``owner``."""
    data = shipped_policy().model_dump(mode="json")
    data["cadence"]["steps"][step]["owner"] = owner
    return type(shipped_policy()).model_validate(data)


def test_a_step_for_a_named_user_goes_to_that_user_whoever_owns_the_case(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 15)  # day_15_review is due
    policy = _with_step_owner(f"user:{MORGAN}")

    run_cycle(replace(world.deps(), policy=policy))

    review = tasks_by_key(world)["erp:C1:USD:1:day_15_review"]
    assert review["OwnerId"] == user_id(world, MORGAN)
    assert cases_by_key(world)["erp:C1:USD:1"]["OwnerId"] == queue_id(world, "Collections")


def test_a_step_for_a_user_who_left_is_a_config_error_before_any_write(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10)  # day 7: the day-15 step is not due yet, and still checked
    [left] = world.gateway().update("User", [{"Id": user_id(world, MORGAN), "IsActive": False}])
    assert left.ok
    policy = _with_step_owner(f"user:{MORGAN}")

    with pytest.raises(ConfigError, match=rf"user:{MORGAN} .*not an active user"):
        run_cycle(replace(world.deps(), policy=policy))

    assert _nothing_written(world)


def test_a_cycle_that_only_updates_invoices_asks_the_org_about_no_owner(
    world: SyncHarness,
) -> None:
    _past_due(world, "C1", 10)
    policy = shipped_policy(owners={"task_queue_fallback": MORGAN})
    run_cycle(replace(world.deps(), policy=policy))
    world.ledger.correct("C1-I1", balance="900.00")  # a part payment: same step, new amount

    report = run_cycle(replace(world.deps(), policy=policy))

    assert report.counts["invoices_upserted"] == 1
    assert report.counts["tasks_created"] == 0
    # The Case upsert's own read only: no queue, fallback user or Account owner lookup (the
    # first cycle made those, once: match + queues + fallback user).
    assert report.calls.read == 1
