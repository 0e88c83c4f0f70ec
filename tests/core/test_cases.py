"""plan_account: Case episodes, cadence Tasks, reminders, promises, disputes, invoice records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from sfsync.cases import (
    AccountLedger,
    apply_plan_to_state,
    build_ledgers,
    plan_account,
    plan_customer,
)
from sfsync.domain import (
    AccountPlan,
    AccountState,
    AgingBuckets,
    CaseAction,
    Customer,
    Invoice,
    InvoiceStatus,
    OwnerRule,
    Payment,
    Priority,
    Promise,
    PromiseStatus,
    TaskAction,
)
from sfsync.policy import Policy
from tests.core.factories import AS_OF, CUSTOMER, POLICY, SOURCE, credit, invoice, ledger, row


def _plan(
    account: AccountLedger,
    state: AccountState | None = None,
    *,
    as_of: date = AS_OF,
    policy: Policy = POLICY,
) -> AccountPlan:
    return plan_account(account, state or AccountState(), policy, as_of)


def _settle(
    account: AccountLedger, state: AccountState | None = None, *, as_of: date = AS_OF
) -> tuple[AccountPlan, AccountState]:
    plan = _plan(account, state, as_of=as_of)
    return plan, apply_plan_to_state(state or AccountState(), plan)


def _created(plan: AccountPlan) -> list[str]:
    return [t.key for t in plan.tasks if t.action is TaskAction.CREATE]


def _closed(plan: AccountPlan) -> list[str]:
    return [t.key for t in plan.tasks if t.action is TaskAction.CLOSE]


def test_a_delinquent_account_opens_one_case_with_its_latest_step_and_invoices() -> None:
    plan = _plan(ledger(invoice("I1", days_past_due=10), invoice("I2", days_past_due=-5)))

    assert plan.case is not None
    assert plan.case.action is CaseAction.OPEN
    assert plan.case.key == "erp:C1:USD:1"
    values = plan.case.values
    assert values.past_due == Decimal(100)
    assert values.aging == AgingBuckets(current=Decimal(100), days_1_30=Decimal(100))
    assert values.open_invoice_count == 2
    assert values.oldest_days_past_due == 10
    assert values.step == "day_7_call"
    assert values.next_action_date == AS_OF - timedelta(days=10) + timedelta(days=30)
    assert values.owner == OwnerRule("queue", "Collections")
    assert values.subject == "Collections: Acme Ltd (USD)"
    assert values.priority is Priority.NORMAL
    assert values.promise_status is None
    assert _created(plan) == ["erp:C1:USD:1:day_7_call"]
    task = plan.tasks[0]
    assert task.case_key == "erp:C1:USD:1"
    assert task.values is not None
    assert task.values.subject == "Call: 1 invoice(s), USD 100.00"
    assert task.values.activity_date == AS_OF
    assert [(i.key, i.case_key) for i in plan.invoices] == [
        ("erp:I1", "erp:C1:USD:1"),
        ("erp:I2", "erp:C1:USD:1"),
    ]
    assert plan.invoices[0].values.days_past_due == 10
    assert plan.invoices[1].values.days_past_due == 0


def test_planning_again_after_applying_is_empty_and_the_next_day_only_refreshes() -> None:
    account = ledger(invoice("I1", days_past_due=10))
    _, state = _settle(account)

    assert _plan(account, state).is_empty
    next_day = _plan(account, state, as_of=AS_OF + timedelta(days=1))
    assert next_day.case is not None
    assert next_day.case.action is CaseAction.UPDATE
    assert next_day.case.values.oldest_days_past_due == 11
    assert [i.values.days_past_due for i in next_day.invoices] == [11]
    assert next_day.tasks == ()


def test_the_ladder_climbs_one_new_task_per_step_reached_and_raises_priority() -> None:
    account = ledger(invoice("I1", days_past_due=1))
    first, state = _settle(account)
    week, state = _settle(account, state, as_of=AS_OF + timedelta(days=6))
    month, state = _settle(account, state, as_of=AS_OF + timedelta(days=29))

    assert _created(first) == ["erp:C1:USD:1:day_1_email"]
    assert _created(week) == ["erp:C1:USD:1:day_7_call"]
    assert _created(month) == ["erp:C1:USD:1:day_30_final"]
    assert month.case is not None
    assert month.case.values.priority is Priority.HIGH
    assert month.case.values.next_action_date is None
    assert month.tasks[0].values is not None
    assert month.tasks[0].values.owner == OwnerRule("queue", "Collections")
    assert state.open_task_keys == {
        "erp:C1:USD:1:day_1_email",
        "erp:C1:USD:1:day_7_call",
        "erp:C1:USD:1:day_30_final",
    }


def test_an_account_jumping_several_steps_gets_only_the_latest() -> None:
    plan = _plan(ledger(invoice("I1", days_past_due=45)))

    assert _created(plan) == ["erp:C1:USD:1:day_30_final"]


def test_paid_in_full_closes_the_case_and_its_open_tasks_and_shows_final_status() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=10), invoice("I2", days_past_due=3)))
    state = replace(state, open_task_keys=frozenset())  # the rep completed the call already
    _, state = _settle(
        ledger(invoice("I1", days_past_due=10), invoice("I2", days_past_due=3)), state
    )
    state = replace(state, open_task_keys=frozenset({"erp:C1:USD:1:day_7_call"}))
    paid = ledger(
        invoice("I1", days_past_due=10, balance="0", status=InvoiceStatus.PAID),
        invoice("I2", days_past_due=3, balance="0", status=InvoiceStatus.VOID),
    )

    plan, state = _settle(paid, state)

    assert plan.case is not None
    assert plan.case.action is CaseAction.CLOSE
    assert plan.case.key == "erp:C1:USD:1"
    assert plan.case.values.past_due == 0
    assert plan.case.values.oldest_days_past_due == 0
    assert plan.case.values.step is None
    assert _closed(plan) == ["erp:C1:USD:1:day_7_call"]
    assert [(i.values.status, i.values.days_past_due, i.case_key) for i in plan.invoices] == [
        (InvoiceStatus.PAID, 0, "erp:C1:USD:1"),
        (InvoiceStatus.VOID, 0, "erp:C1:USD:1"),
    ]
    assert not state.case_open
    assert _plan(paid, state).is_empty
    assert _plan(paid, state, as_of=AS_OF + timedelta(days=40)).is_empty


def test_a_later_delinquency_opens_a_new_episode_with_its_own_tasks() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=10)))
    _, state = _settle(
        ledger(invoice("I1", days_past_due=10, balance="0", status=InvoiceStatus.PAID)), state
    )

    plan = _plan(ledger(invoice("I3", days_past_due=8)), state)

    assert plan.case is not None
    assert (plan.case.action, plan.case.key, plan.case.episode) == (
        CaseAction.OPEN,
        "erp:C1:USD:2",
        2,
    )
    assert _created(plan) == ["erp:C1:USD:2:day_7_call"]


def test_a_case_opens_only_above_the_tolerance() -> None:
    at_tolerance = _plan(ledger(invoice("I1", days_past_due=10, amount="10.00")))
    above = _plan(ledger(invoice("I1", days_past_due=10, amount="10.01")))

    assert at_tolerance.case is None
    assert at_tolerance.tasks == ()
    assert len(at_tolerance.invoices) == 1
    assert above.case is not None


def test_a_residual_at_or_below_tolerance_closes_the_case_and_shows_what_is_left() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=10)))

    plan = _plan(ledger(invoice("I1", days_past_due=10, balance="4.00")), state)

    assert plan.case is not None
    assert plan.case.action is CaseAction.CLOSE
    assert plan.case.values.past_due == Decimal(4)
    assert plan.case.values.oldest_days_past_due == 10
    assert _closed(plan) == ["erp:C1:USD:1:day_7_call"]


def test_disputed_invoices_are_shown_but_never_chased() -> None:
    only_disputed = _plan(ledger(invoice("D1", days_past_due=40, amount="500", disputed=True)))
    mixed = _plan(
        ledger(
            invoice("D1", days_past_due=40, amount="500", disputed=True),
            invoice("I1", days_past_due=8, amount="50"),
        )
    )

    assert only_disputed.case is None
    assert only_disputed.tasks == ()
    assert only_disputed.invoices[0].values.disputed
    assert only_disputed.invoices[0].values.dispute_reason == "goods damaged"
    assert mixed.case is not None
    assert mixed.case.values.past_due == Decimal(50)
    assert mixed.case.values.disputed_amount == Decimal(500)
    assert mixed.case.values.oldest_days_past_due == 8
    assert _created(mixed) == ["erp:C1:USD:1:day_7_call"]


def test_a_credit_on_the_oldest_invoice_recomputes_the_step_from_the_next_one() -> None:
    invoices = (invoice("OLD", days_past_due=40), invoice("NEW", days_past_due=8))

    without = _plan(ledger(*invoices))
    with_credit = _plan(ledger(*invoices, payments=(credit("100"),)))

    assert _created(without) == ["erp:C1:USD:1:day_30_final"]
    assert _created(with_credit) == ["erp:C1:USD:1:day_7_call"]
    assert with_credit.case is not None
    assert with_credit.case.values.past_due == Decimal(100)


def test_a_partial_payment_moves_the_next_action_but_never_steps_the_ladder_down() -> None:
    _, state = _settle(ledger(invoice("OLD", days_past_due=10), invoice("NEW", days_past_due=3)))

    plan = _plan(
        ledger(
            invoice("OLD", days_past_due=10, balance="0", status=InvoiceStatus.PAID),
            invoice("NEW", days_past_due=3),
        ),
        state,
    )

    assert plan.case is not None
    assert plan.case.values.step == "day_7_call"
    assert plan.case.values.next_action_date == AS_OF - timedelta(days=3) + timedelta(days=30)
    assert plan.tasks == ()


def test_a_case_below_its_first_step_waits_for_it() -> None:
    policy = POLICY.model_copy(
        update={
            "cadence": POLICY.cadence.model_copy(
                update={"steps": tuple(s for s in POLICY.cadence.steps if s.offset_days != 1)}
            )
        }
    )

    plan = _plan(ledger(invoice("I1", days_past_due=3)), policy=policy)

    assert plan.case is not None
    assert plan.case.values.step is None
    assert plan.case.values.priority is Priority.NORMAL
    assert plan.case.values.next_action_date == AS_OF + timedelta(days=4)
    assert plan.tasks == ()


def test_a_pending_promise_pauses_the_cadence_and_sets_the_next_action() -> None:
    promise = Promise("PR1", "USD", Decimal(100), AS_OF + timedelta(days=5), AS_OF)
    state = AccountState(promise=promise)

    plan = _plan(ledger(invoice("I1", days_past_due=12)), state)

    assert plan.case is not None
    assert plan.tasks == ()
    assert plan.case.values.next_action_date == AS_OF + timedelta(days=7)
    assert plan.case.values.promise_status is PromiseStatus.PENDING
    assert plan.case.values.promise_amount == Decimal(100)
    assert plan.case.values.promise_date == AS_OF + timedelta(days=5)


def test_a_broken_promise_resumes_the_cadence_with_high_priority_and_one_follow_up() -> None:
    promise = Promise(
        "PR1", "USD", Decimal(100), AS_OF - timedelta(days=5), AS_OF - timedelta(days=9),
        PromiseStatus.BROKEN,
    )  # fmt: skip
    account = ledger(invoice("I1", days_past_due=12))

    plan, state = _settle(account, AccountState(promise=promise))

    assert plan.case is not None
    assert plan.case.values.priority is Priority.HIGH
    assert _created(plan) == ["erp:C1:USD:1:day_7_call", "erp:C1:USD:1:promise-PR1"]
    follow_up = plan.tasks[1].values
    assert follow_up is not None
    assert follow_up.step == "broken_promise"
    assert follow_up.subject == "Promise broken: call Acme Ltd about USD 100.00"
    assert follow_up.priority is Priority.HIGH
    assert follow_up.owner == OwnerRule("case_owner")
    assert _plan(account, state, as_of=AS_OF + timedelta(days=1)).tasks == ()


def test_a_broken_promise_without_a_case_creates_no_follow_up() -> None:
    promise = Promise(
        "PR1", "USD", Decimal(100), AS_OF - timedelta(days=5), AS_OF - timedelta(days=9),
        PromiseStatus.BROKEN,
    )  # fmt: skip

    plan = _plan(ledger(invoice("I1", days_past_due=12, amount="5")), AccountState(promise=promise))

    assert plan.tasks == ()


def test_a_reminder_goes_out_before_the_due_date_on_the_account() -> None:
    early = _plan(ledger(invoice("I1", days_past_due=-5)))
    plan, state = _settle(ledger(invoice("I1", days_past_due=-2), invoice("I2", days_past_due=-20)))

    assert early.case is None
    assert _created(early) == []
    assert plan.case is None
    assert _created(plan) == ["erp:C1:USD:due-I1:reminder"]
    task = plan.tasks[0]
    assert task.case_key is None
    assert task.values is not None
    assert task.values.owner == OwnerRule("account_owner")
    assert task.values.subject == "Reminder: USD 200.00 due"
    assert [i.case_key for i in plan.invoices] == [None, None]
    assert (
        _plan(
            ledger(invoice("I1", days_past_due=-1), invoice("I2", days_past_due=-19)),
            state,
            as_of=AS_OF + timedelta(days=1),
        ).tasks
        == ()
    )


def test_no_reminder_for_small_amounts_or_while_a_promise_is_pending() -> None:
    small = _plan(ledger(invoice("I1", days_past_due=-2, amount="5")))
    promise = Promise("PR1", "USD", Decimal(100), AS_OF + timedelta(days=5), AS_OF)
    promised = _plan(ledger(invoice("I1", days_past_due=-2)), AccountState(promise=promise))

    assert small.tasks == ()
    assert promised.tasks == ()


def test_a_reminder_closes_when_its_invoice_goes_past_due_into_a_case() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=-2)))

    plan = _plan(ledger(invoice("I1", days_past_due=-2)), state, as_of=AS_OF + timedelta(days=4))

    assert plan.case is not None
    assert _closed(plan) == ["erp:C1:USD:due-I1:reminder"]
    assert _created(plan) == ["erp:C1:USD:1:day_1_email"]


def test_a_reminder_closes_when_its_invoice_is_paid_and_the_next_one_is_not_due_yet() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=-2), invoice("I2", days_past_due=-20)))

    plan = _plan(
        ledger(
            invoice("I1", days_past_due=-2, balance="0", status=InvoiceStatus.PAID),
            invoice("I2", days_past_due=-20),
        ),
        state,
    )

    assert _closed(plan) == ["erp:C1:USD:due-I1:reminder"]
    assert _created(plan) == []


def test_a_paid_invoice_never_written_is_not_sent() -> None:
    plan = _plan(ledger(invoice("I1", days_past_due=50, balance="0", status=InvoiceStatus.PAID)))

    assert plan.is_empty


def test_applying_an_empty_plan_keeps_the_state() -> None:
    state = AccountState(episode=3, task_keys=frozenset({"k"}))

    assert apply_plan_to_state(state, AccountPlan(ledger().key)) == state


def test_build_ledgers_splits_by_currency_and_skips_bad_foreign_and_duplicate_rows() -> None:
    built = build_ledgers(
        SOURCE,
        CUSTOMER,
        [
            row(id="I1"),
            row(id="I2", currency="EUR"),
            row(id="I1", number="INV-1 again"),
            row(id="I3", customer_id="C2"),
            row(id="I4", amount="abc"),
            invoice("I5", currency="EUR"),
        ],
        [credit("10", ident="P1", currency="GBP"), Payment("P2", "C9", "USD", Decimal(1), AS_OF)],
    )

    assert [(led.key.currency, [i.id for i in led.invoices]) for led in built.ledgers] == [
        ("EUR", ["I2", "I5"]),
        ("GBP", []),
        ("USD", ["I1"]),
    ]
    assert [(s.key, s.reason) for s in built.skipped] == [
        ("erp:I1", "invoice INV-1 again: appears twice in the source; the first row was used"),
        (
            "erp:I3",
            "invoice INV-9: belongs to customer 'C2', not 'C1'; check the source's customer link",
        ),
        ("erp:I4", "invoice INV-9: amount 'abc' is not a number"),
        ("erp:P2", "payment: belongs to customer 'C9', not 'C1'; check the source's customer link"),
    ]


def test_a_bad_row_never_stops_the_customers_other_invoices_from_planning() -> None:
    planned = plan_customer(
        SOURCE,
        CUSTOMER,
        [row(id="I1", due_date="2026-02-30"), row(id="I2")],
        states={},
        policy=POLICY,
        as_of=AS_OF,
    )

    assert [s.key for s in planned.skipped] == ["erp:I1"]
    assert [p.case.key for p in planned.plans if p.case] == ["erp:C1:USD:1"]
    assert [i.key for p in planned.plans for i in p.invoices] == ["erp:I2"]


def test_a_currency_that_vanished_from_the_source_still_closes_its_case() -> None:
    _, eur_state = _settle(ledger(invoice("E1", days_past_due=10, currency="EUR"), currency="EUR"))
    forgotten = AccountState(episode=2)

    planned = plan_customer(
        SOURCE,
        Customer("C1", "Acme Ltd"),
        [invoice("U1", days_past_due=10)],
        states={"EUR": eur_state, "GBP": forgotten},
        policy=POLICY,
        as_of=AS_OF,
    )

    assert [(p.account.currency, p.case.action if p.case else None) for p in planned.plans] == [
        ("EUR", CaseAction.CLOSE),
        ("USD", CaseAction.OPEN),
    ]


def test_invoices_of_two_currencies_are_never_summed() -> None:
    planned = plan_customer(
        SOURCE,
        CUSTOMER,
        [
            invoice("U1", days_past_due=10, amount="8"),
            invoice("E1", days_past_due=10, amount="8", currency="EUR"),
        ],
        states={},
        policy=POLICY,
        as_of=AS_OF,
    )

    assert [p.case for p in planned.plans] == [None, None]


def test_an_open_invoice_object_is_planned_as_given() -> None:
    given = Invoice(
        "I7", "C1", "INV-7", "USD", Decimal(50), Decimal(50), date(2026, 1, 1), date(2026, 1, 31)
    )

    plan = _plan(ledger(given))

    assert plan.invoices[0].values.number == "INV-7"


def test_after_a_case_closes_records_keep_their_link_and_new_ones_hang_from_the_account() -> None:
    _, state = _settle(ledger(invoice("I1", days_past_due=10), invoice("I2", days_past_due=-20)))
    _, state = _settle(
        ledger(
            invoice("I1", days_past_due=10, balance="0", status=InvoiceStatus.PAID),
            invoice("I2", days_past_due=-20),
        ),
        state,
    )
    later = ledger(
        invoice("I1", days_past_due=10, balance="0", status=InvoiceStatus.PAID),
        invoice("I2", days_past_due=-20, balance="60"),
        invoice("I3", days_past_due=-25),
    )

    plan, state = _settle(later, state)

    assert [(i.key, i.case_key) for i in plan.invoices] == [("erp:I2", None), ("erp:I3", None)]
    assert _plan(later, state).is_empty
