"""Invariants of escalation planning over random Cases, ledgers and runs (hypothesis).

Keys are unique; a key in ``already`` is never emitted (nor settled) again; replaying the plan's
keys gives an empty plan; and the level a Case reaches never goes down as it ages.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sfsync.escalation import EscalationPolicy, OpenCaseFacts, plan_escalations
from tests.escalation.factories import NOW, US_REGION, facts

POLICY = EscalationPolicy.model_validate(
    {
        "region": "us",
        "regions": {"us": US_REGION},
        "levels": [
            {"name": "manager", "after_days": 10, "mode": "business"},
            {"name": "director", "after_days": 21, "mode": "calendar"},
            {"name": "legal", "after_days": 30, "mode": "business", "assign_to": "queue:Legal"},
        ],
    }
)
LEVELS = [level.name for level in POLICY.levels]

ages = st.floats(min_value=0, max_value=120, allow_nan=False)
case_lists = st.lists(
    st.builds(
        lambda n, age, escalated, closed, active: facts(
            f"erp:C{n}:USD:1",
            age_days=age,
            is_escalated=escalated,
            is_closed=closed,
            owner_active=active,
        ),
        st.integers(1, 8),
        ages,
        st.booleans(),
        st.booleans(),
        st.booleans(),
    ),
    max_size=8,
)
already_sets = st.sets(
    st.builds(
        lambda n, level: f"erp:C{n}:USD:1:esc:{level}", st.integers(1, 8), st.sampled_from(LEVELS)
    )
)
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None)


@SETTINGS
@given(case_lists, already_sets)
def test_keys_are_unique_and_never_emitted_once_already_done(
    cases: list[OpenCaseFacts], already: set[str]
) -> None:
    plan = plan_escalations(cases, frozenset(already), NOW, POLICY)

    keys = [item.key for item in plan.escalations]
    settled = [key for item in plan.escalations for key in item.done_keys]
    assert len(keys) == len(set(keys))
    assert len(settled) == len(set(settled))
    assert not set(settled) & already
    assert all(item.key == item.done_keys[-1] for item in plan.escalations)
    assert (
        plan_escalations(cases, frozenset(already) | plan.done_keys, NOW, POLICY).escalations == ()
    )


@SETTINGS
@given(ages, st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=6))
def test_the_level_reached_never_goes_down_as_the_case_ages(age: float, later: list[float]) -> None:
    case = facts(age_days=age)
    reached = -1
    for days in [0.0, *sorted(later)]:
        plan = plan_escalations([case], frozenset(), NOW + timedelta(days=days), POLICY)
        level = LEVELS.index(plan.escalations[0].level) if plan.escalations else -1
        assert level >= reached
        reached = level


@SETTINGS
@given(ages, st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=6))
def test_runs_over_time_escalate_each_level_at_most_once(age: float, later: list[float]) -> None:
    case = facts(age_days=age)
    done: frozenset[str] = frozenset()
    emitted: list[str] = []
    for days in sorted(later):
        plan = plan_escalations([case], done, NOW + timedelta(days=days), POLICY)
        emitted.extend(item.key for item in plan.escalations)
        done |= plan.done_keys
    assert len(emitted) == len(set(emitted))
    assert [LEVELS.index(key.rsplit(":", 1)[1]) for key in emitted] == sorted(
        LEVELS.index(key.rsplit(":", 1)[1]) for key in emitted
    )
