"""Planning escalations: the ladder, exactly once per level, routing, and the dry-run rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sfsync.domain import Outcome, OutcomeKind, Priority
from sfsync.escalation import (
    Age,
    CaseLedger,
    EscalatedCaseValues,
    EscalationAlert,
    EscalationPlan,
    EscalationPolicy,
    EscalationRow,
    EscalationTask,
    SkippedEscalation,
    TaskOwner,
    describe_escalations,
    escalation_key,
    plan_escalations,
)
from tests.escalation.factories import LADDER, NOW, US_REGION, facts

KEY = "erp:C1:USD:1"
MANAGER_KEY = f"{KEY}:esc:manager"
LEGAL_KEY = f"{KEY}:esc:legal"
NOBODY = frozenset[str]()


def test_a_case_past_fourteen_days_escalates_to_the_owners_manager() -> None:
    plan = plan_escalations([facts(age_days=20)], NOBODY, NOW, LADDER)

    (item,) = plan.escalations
    assert item.key == MANAGER_KEY == escalation_key(KEY, "manager")
    assert item.level == "manager"
    assert item.age == Age("calendar", 20, 20 * 86_400)
    assert item.case == EscalatedCaseValues(
        status="Escalated", reason="Open 20 calendar days: no contact logged.", is_escalated=True
    )
    assert item.task == EscalationTask(
        subject="Escalation (manager): Acme Ltd, case 00001001, 20 calendar days",
        priority=Priority.HIGH,
        owner=TaskOwner("user_id", "005000000000002AAA"),
        activity_date=date(2026, 12, 1),
    )
    assert item.feed_body == (
        "Escalated to manager: open 20 calendar days, USD 12,340.00 past due. "
        "Why: no contact logged."
    )
    assert item.alert == EscalationAlert(
        case_id="500000000000001AAA",
        case_number="00001001",
        account_name="Acme Ltd",
        currency="USD",
        past_due_amount=Decimal("12340.00"),
        age_days=20,
        age_mode="calendar",
        owner_id="005000000000001AAA",
        owner_name="Pat Lee",
        owner_active=True,
        reason="Open 20 calendar days: no contact logged.",
        threshold="manager",
        last_contact=None,
    )
    assert item.done_keys == (MANAGER_KEY,)
    assert (item.owner_inactive, item.routed_to_fallback) == (False, False)
    assert plan.done_keys == {MANAGER_KEY}
    assert plan.skipped == ()


def test_a_case_younger_than_the_first_threshold_is_left_alone() -> None:
    assert plan_escalations([facts(age_days=13.9)], NOBODY, NOW, LADDER) == EscalationPlan()


def test_exactly_once_planning_again_after_applying_emits_nothing() -> None:
    cases = [facts(age_days=20), facts("erp:C2:USD:1", age_days=40)]
    first = plan_escalations(cases, NOBODY, NOW, LADDER)

    assert plan_escalations(cases, NOBODY, NOW, LADDER) == first  # a repeat is equal
    assert plan_escalations(list(reversed(cases)), NOBODY, NOW, LADDER) == first
    assert plan_escalations(cases, first.done_keys, NOW, LADDER) == EscalationPlan()
    later = NOW + timedelta(days=5)
    assert plan_escalations(cases, first.done_keys, later, LADDER) == EscalationPlan()


def test_overlapping_runs_plan_the_same_keys_so_the_ledger_lets_one_through() -> None:
    # Two runs read the store before either recorded anything: a second apart, same keys.
    case = facts(age_days=20)
    run_a = plan_escalations([case], NOBODY, NOW, LADDER)
    run_b = plan_escalations([case], NOBODY, NOW + timedelta(seconds=1), LADDER)

    assert [e.key for e in run_a.escalations] == [e.key for e in run_b.escalations]
    assert run_a.escalations[0].content_hash == run_b.escalations[0].content_hash
    # Whichever recorded first, the other's keys are then in `already` and nothing re-emits.
    assert plan_escalations([case], run_b.done_keys, NOW, LADDER) == EscalationPlan()


def test_crossing_two_levels_at_once_emits_only_the_highest_and_settles_both() -> None:
    plan = plan_escalations([facts(age_days=31)], NOBODY, NOW, LADDER)

    (item,) = plan.escalations
    assert item.level == "legal"
    assert item.done_keys == (MANAGER_KEY, LEGAL_KEY)
    assert item.task.owner == TaskOwner("queue", "Legal_Collections")
    assert item.task.subject == "Legal review: Acme Ltd (00001001)"
    assert item.case.status == "Escalated - Legal"
    assert item.feed_body == "Sent to legal after 31 calendar days: no contact logged."
    assert plan_escalations([facts(age_days=45)], plan.done_keys, NOW, LADDER) == EscalationPlan()


def test_the_next_level_fires_once_the_first_is_done() -> None:
    plan = plan_escalations(
        [facts(age_days=31, is_escalated=True)], frozenset({MANAGER_KEY}), NOW, LADDER
    )

    (item,) = plan.escalations
    assert (item.level, item.done_keys) == ("legal", (LEGAL_KEY,))


def test_the_ladder_never_goes_down() -> None:
    # The legal level was escalated (then the policy or the case changed): no manager escalation.
    plan = plan_escalations([facts(age_days=20)], frozenset({LEGAL_KEY}), NOW, LADDER)

    assert plan == EscalationPlan()


def test_closed_cases_are_ignored() -> None:
    assert plan_escalations([facts(age_days=40, is_closed=True)], NOBODY, NOW, LADDER) == (
        EscalationPlan()
    )


def test_a_case_escalated_outside_sfsync_is_skipped_and_listed() -> None:
    plan = plan_escalations([facts(age_days=20, is_escalated=True)], NOBODY, NOW, LADDER)

    assert plan == EscalationPlan(
        skipped=(
            SkippedEscalation(
                KEY, "00001001", "Acme Ltd", "already escalated in Salesforce outside sfsync"
            ),
        )
    )


def test_an_owner_who_left_is_still_escalated_and_routed_to_the_fallback() -> None:
    plan = plan_escalations([facts(age_days=20, owner_active=False)], NOBODY, NOW, LADDER)

    (item,) = plan.escalations
    fallback = TaskOwner("queue", "Collections_Managers")
    assert item.case.is_escalated
    assert item.case.reassign_to == fallback
    assert item.task.owner == fallback
    assert (item.owner_inactive, item.routed_to_fallback) == (True, True)
    assert not item.alert.owner_active


def test_an_owner_without_a_manager_sends_the_task_to_the_fallback_user() -> None:
    policy = EscalationPolicy.model_validate(
        {"levels": [{"name": "manager", "after_days": 14, "fallback": "user:ar.lead@example.com"}]}
    )

    plan = plan_escalations([facts(manager_id=None, manager_name=None)], NOBODY, NOW, policy)

    (item,) = plan.escalations
    assert item.task.owner == TaskOwner("username", "ar.lead@example.com")
    assert item.case.reassign_to is None
    assert (item.owner_inactive, item.routed_to_fallback) == (False, True)


def test_a_queue_level_keeps_its_queue_when_the_owner_left() -> None:
    plan = plan_escalations([facts(age_days=35, owner_active=False)], NOBODY, NOW, LADDER)

    (item,) = plan.escalations
    assert item.task.owner == TaskOwner("queue", "Legal_Collections")
    assert item.case.reassign_to == TaskOwner("queue", "Collections_Managers")
    assert (item.owner_inactive, item.routed_to_fallback) == (True, False)


def test_a_case_key_read_twice_is_planned_once() -> None:
    plan = plan_escalations([facts(), facts(case_number="dup")], NOBODY, NOW, LADDER)

    assert [item.case_number for item in plan.escalations] == ["00001001"]


def test_business_days_decide_and_the_task_is_due_on_the_regions_date() -> None:
    policy = EscalationPolicy.model_validate(
        {
            "region": "us",
            "regions": {"us": US_REGION},
            "levels": [{"name": "manager", "after_days": 10, "mode": "business"}],
        }
    )
    now = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # still Monday 30 Nov in New York
    created = datetime(2026, 11, 16, 14, 0, tzinfo=UTC)  # Monday 16 Nov 09:00 New York
    # 16-20 Nov and 23-25, 27 Nov are 9 working days (Thanksgiving), so 10 needs 30 Nov.
    before = datetime(2026, 11, 30, 21, 59, tzinfo=UTC)

    assert plan_escalations([facts(created=created)], NOBODY, before, policy) == EscalationPlan()
    (item,) = plan_escalations([facts(created=created)], NOBODY, now, policy).escalations
    assert item.age.days == 10
    assert item.task.activity_date == date(2026, 11, 30)
    assert item.case.reason == "Open 10 business days: no contact logged."


def test_the_ledger_explains_the_escalation_and_dates_the_last_contact() -> None:
    called = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
    ledger = CaseLedger(
        attempts=tuple(
            Outcome(f"{KEY}:s{n}", OutcomeKind.NO_ANSWER, called - timedelta(days=n))
            for n in range(4)
        ),
        disputed_invoices=1,
    )

    (item,) = plan_escalations([facts(ledger=ledger)], NOBODY, NOW, LADDER).escalations

    assert item.case.reason == (
        "Open 20 calendar days: dispute open on 1 invoice; no response after 4 attempts."
    )
    assert item.alert.last_contact == called


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match=r"now .* has no time zone"):
        plan_escalations([], NOBODY, datetime(2026, 12, 1), LADDER)  # noqa: DTZ001
    with pytest.raises(ValueError, match=rf"case {KEY} created .* has no time zone"):
        facts(created=datetime(2026, 11, 1))  # noqa: DTZ001


def test_the_dry_run_lists_what_would_be_escalated_and_why() -> None:
    cases = [
        facts(age_days=20, ledger=CaseLedger(disputed_invoices=2)),
        facts("erp:C2:USD:1", age_days=31, account_name="Beta GmbH", owner_active=False),
        facts("erp:C3:USD:1", age_days=20, account_name="Gamma", manager_id=None),
        facts("erp:C4:USD:1", age_days=20, account_name="Delta", is_escalated=True),
    ]

    rows = describe_escalations(plan_escalations(cases, NOBODY, NOW, LADDER))

    assert rows == [
        EscalationRow(
            "escalate",
            "00001001",
            "Acme Ltd",
            "20 calendar days",
            "manager",
            "no contact logged; dispute open on 2 invoices",
            "user_id:005000000000002AAA",
            "",
        ),
        EscalationRow(
            "escalate",
            "00001001",
            "Beta GmbH",
            "31 calendar days",
            "legal",
            "no contact logged",
            "queue:Legal_Collections",
            "owner inactive: Case reassigned to queue:Collections_Managers; "
            "also settles 1 lower level(s)",
        ),
        EscalationRow(
            "escalate",
            "00001001",
            "Gamma",
            "20 calendar days",
            "manager",
            "no contact logged",
            "queue:Collections_Managers",
            "owner has no manager: Task to the fallback",
        ),
        EscalationRow(
            "skip",
            "00001001",
            "Delta",
            "",
            "",
            "already escalated in Salesforce outside sfsync",
            "",
            "",
        ),
    ]


def test_a_changed_amount_changes_the_content_hash_but_not_the_key() -> None:
    (one,) = plan_escalations([facts()], NOBODY, NOW, LADDER).escalations
    (two,) = plan_escalations(
        [replace(facts(), past_due=Decimal("99.00"))], NOBODY, NOW, LADDER
    ).escalations

    assert one.key == two.key
    assert one.content_hash != two.content_hash


def test_a_case_escalated_by_hand_still_reaches_the_legal_level() -> None:
    # The hand escalation stands for the manager level; at 31 days the legal level fires.
    plan = plan_escalations([facts(age_days=31, is_escalated=True)], NOBODY, NOW, LADDER)

    (item,) = plan.escalations
    assert (item.level, item.done_keys) == ("legal", (LEGAL_KEY,))
    assert plan.skipped == ()
    assert plan_escalations(
        [facts(age_days=45, is_escalated=True)], plan.done_keys, NOW, LADDER
    ) == (EscalationPlan())
