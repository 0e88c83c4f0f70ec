"""Invariants of planning over random account histories (hypothesis, derandomized).

Each example is a timeline: the same invoices seen on successive days with balances paid
down, disputes raised and lifted, credits arriving, reps completing Tasks and promises made.
After every day's plan is applied, the invariants must hold.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfsync.cases import apply_plan_to_state, plan_account
from sfsync.domain import (
    AccountState,
    CaseAction,
    Invoice,
    InvoiceStatus,
    Promise,
    PromiseStatus,
    TaskAction,
)
from tests.core.factories import AS_OF, POLICY, credit, invoice, ledger

TOLERANCE = POLICY.cadence.tolerance_for("USD")


@dataclass(frozen=True)
class Day:
    """One day of an account's life."""

    advance: int
    invoices: tuple[Invoice, ...]
    credit_cents: int
    completed: bool
    promise: PromiseStatus | None


def _invoice(ident: str, due_offset: int) -> st.SearchStrategy[Invoice]:
    def build(cents: int, paid_share: int, disputed: bool, voided: bool) -> Invoice:
        amount = Decimal(cents).scaleb(-2)
        balance = (amount * (100 - paid_share) / 100).quantize(Decimal("0.01"))
        status = InvoiceStatus.OPEN
        if voided:
            status, balance = InvoiceStatus.VOID, Decimal(0)
        elif balance == 0:
            status = InvoiceStatus.PAID
        return invoice(
            ident,
            days_past_due=due_offset,
            amount=str(amount),
            balance=str(balance),
            status=status,
            disputed=disputed,
        )

    return st.builds(
        build,
        st.integers(1, 60_000),
        st.sampled_from([0, 0, 0, 30, 100]),
        st.booleans(),
        st.sampled_from([False, False, False, False, True]),
    )


@st.composite
def timelines(draw: st.DrawFn) -> list[Day]:
    offsets = draw(st.lists(st.integers(-40, 120), min_size=0, max_size=5))
    days: list[Day] = []
    for _ in range(draw(st.integers(1, 6))):
        invoices = tuple(draw(_invoice(f"I{n}", offset)) for n, offset in enumerate(offsets))
        days.append(
            Day(
                advance=draw(st.integers(0, 25)),
                invoices=invoices,
                credit_cents=draw(st.sampled_from([0, 0, 500, 5_000, 50_000])),
                completed=draw(st.booleans()),
                promise=draw(
                    st.sampled_from([None, None, PromiseStatus.PENDING, PromiseStatus.BROKEN])
                ),
            )
        )
    return days


def _chased_past_due(
    invoices: tuple[Invoice, ...], credit_amount: Decimal, as_of_days: int
) -> Decimal:
    """Independent oracle: credits go oldest first, so they hit past-due money before current."""
    owed = sum(
        (
            i.balance
            for i in invoices
            if i.is_open
            and not i.disputed
            and (AS_OF + timedelta(days=as_of_days) - i.due_date).days > 0
        ),
        Decimal(0),
    )
    return max(Decimal(0), owed - credit_amount)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(timelines())
def test_planning_invariants_hold_over_any_account_history(days: list[Day]) -> None:
    state = AccountState()
    elapsed = 0
    open_cases: set[str] = set()
    created_ever: set[str] = set()
    for day in days:
        elapsed += day.advance
        as_of = AS_OF + timedelta(days=elapsed)
        payments = (credit(str(Decimal(day.credit_cents).scaleb(-2))),) if day.credit_cents else ()
        account = ledger(*day.invoices, payments=payments)
        promise = None
        if day.promise is not None:
            promise = Promise(
                "PR1", "USD", Decimal(10), as_of + timedelta(days=3), as_of, day.promise
            )
        state = replace(state, promise=promise)
        if day.completed:
            state = replace(state, open_task_keys=frozenset())

        plan = plan_account(account, state, POLICY, as_of)
        state = apply_plan_to_state(state, plan)

        # planning again after applying gives an empty plan
        assert plan_account(account, state, POLICY, as_of).is_empty
        # a Case is open iff the chased past-due balance is above the tolerance
        credit_total = sum((p.amount for p in payments), Decimal(0))
        chased = _chased_past_due(day.invoices, credit_total, elapsed)
        assert state.case_open == (chased > TOLERANCE)
        # at most one open Case per account, and only a closed one is followed by a new one
        if plan.case is not None and plan.case.action is CaseAction.OPEN:
            assert not open_cases
            open_cases.add(plan.case.key)
        if plan.case is not None and plan.case.action is CaseAction.CLOSE:
            open_cases.discard(plan.case.key)
        assert len(open_cases) <= 1
        # disputed amounts are never in the chased balance
        if plan.case is not None:
            assert plan.case.values.past_due == chased
            assert plan.case.values.disputed_amount == sum(
                (i.balance for i in day.invoices if i.is_open and i.disputed), Decimal(0)
            )
        # Task keys are unique, and a step is never created twice
        keys = [t.key for t in plan.tasks]
        assert len(keys) == len(set(keys))
        created = {t.key for t in plan.tasks if t.action is TaskAction.CREATE}
        assert not created & created_ever
        assert len({key for key in created if ":promise-" not in key}) <= 1
        created_ever |= created
        # a pending promise pauses the cadence
        if day.promise is PromiseStatus.PENDING:
            assert not created
