"""The task ledger: planned → sent → created makes Task creation idempotent after a crash."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sfsync.store.db import create_session_factory
from sfsync.store.models import TaskLedgerEntry, TaskState
from sfsync.store.repositories import (
    TASK_TRANSITIONS,
    TaskStateError,
    get_task,
    keys_for_case,
    mark_closed,
    mark_created,
    mark_failed,
    mark_sent,
    mark_unknown,
    plan_task,
    replan_task,
    tasks_for_case,
    unknown_outcomes,
)
from tests.store.conftest import LOCK_WAIT_TIMEOUT_S, T0, wait_until_blocked_on_lock

CASE = "erp:C-100:1"
KEY = f"{CASE}:day7_call"
SF_ID = "00T000000000001AAA"
LATER = T0 + timedelta(minutes=1)


def _plan(session: Session, key: str = KEY) -> TaskLedgerEntry:
    case_key, step = key.rsplit(":", 1)
    return plan_task(session, task_key=key, case_key=case_key, step=step, at=T0)


MOVES: dict[TaskState, Callable[[Session], TaskLedgerEntry]] = {
    TaskState.SENT: lambda s: mark_sent(s, KEY, at=LATER),
    TaskState.CREATED: lambda s: mark_created(s, KEY, SF_ID, at=LATER),
    TaskState.FAILED: lambda s: mark_failed(s, KEY, "REQUIRED_FIELD_MISSING", at=LATER),
    TaskState.UNKNOWN: lambda s: mark_unknown(s, KEY, at=LATER),
    TaskState.PLANNED: lambda s: replan_task(s, KEY, at=LATER),
    TaskState.CLOSED: lambda s: mark_closed(s, KEY, at=LATER),
}
PATH_TO: dict[TaskState, list[TaskState]] = {
    TaskState.PLANNED: [],
    TaskState.SENT: [TaskState.SENT],
    TaskState.CREATED: [TaskState.SENT, TaskState.CREATED],
    TaskState.CLOSED: [TaskState.SENT, TaskState.CREATED, TaskState.CLOSED],
    TaskState.FAILED: [TaskState.SENT, TaskState.FAILED],
    TaskState.UNKNOWN: [TaskState.SENT, TaskState.UNKNOWN],
}


def _bring_to(session: Session, state: TaskState) -> None:
    _plan(session)
    for step in PATH_TO[state]:
        MOVES[step](session)


def test_happy_path_records_the_salesforce_id(session: Session) -> None:
    planned = _plan(session)
    assert (planned.state, planned.salesforce_id) == (TaskState.PLANNED, None)

    mark_sent(session, KEY, at=LATER)
    session.commit()
    created = mark_created(session, KEY, SF_ID, at=LATER + timedelta(seconds=2))
    session.commit()
    session.expunge_all()

    stored = get_task(session, KEY)
    assert stored is not None
    assert (stored.state, stored.salesforce_id, stored.step) == (
        TaskState.CREATED,
        SF_ID,
        "day7_call",
    )
    assert (stored.created_at, stored.updated_at) == (T0, LATER + timedelta(seconds=2))
    assert created.salesforce_id == SF_ID


def test_planning_again_never_resets_progress(session: Session) -> None:
    _plan(session)
    mark_sent(session, KEY, at=LATER)

    again = _plan(session)

    assert again.state is TaskState.SENT


def test_the_key_is_unique(session: Session) -> None:
    _plan(session)
    session.commit()
    session.add(
        TaskLedgerEntry(
            task_key=KEY,
            case_key=CASE,
            step="x",
            state=TaskState.PLANNED,
            created_at=T0,
            updated_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.parametrize("start", list(TaskState), ids=str)
@pytest.mark.parametrize("target", list(TaskState), ids=str)
def test_only_protocol_transitions_are_allowed(
    session: Session, start: TaskState, target: TaskState
) -> None:
    _bring_to(session, start)
    harmless_repeats = {
        (TaskState.CREATED, TaskState.CREATED),
        (TaskState.CLOSED, TaskState.CLOSED),
        (TaskState.CLOSED, TaskState.CREATED),
    }

    if target in TASK_TRANSITIONS[start]:
        assert MOVES[target](session).state is target
    elif (start, target) in harmless_repeats:  # a replayed confirmation with the same id
        assert MOVES[target](session).state is start
    else:
        with pytest.raises(TaskStateError, match=f"is {start}, cannot become {target}"):
            MOVES[target](session)
        entry = get_task(session, KEY)
        assert entry is not None
        assert entry.state is start


def test_a_sent_task_cannot_be_sent_again_until_its_outcome_is_known(session: Session) -> None:
    _plan(session)
    mark_sent(session, KEY, at=LATER)
    session.commit()

    with pytest.raises(TaskStateError, match="is sent, cannot become sent"):
        mark_sent(session, KEY, at=LATER)


def test_crash_after_send_leaves_an_unknown_outcome_to_query(
    session: Session, other_session: Session
) -> None:
    for key in (KEY, f"{CASE}:day14_call", f"{CASE}:day1_email", f"{CASE}:day30_final"):
        _plan(session, key)
    mark_sent(session, KEY, at=LATER)
    session.commit()  # committed before the Salesforce call, as the protocol requires
    mark_sent(session, f"{CASE}:day1_email", at=LATER)
    mark_created(session, f"{CASE}:day1_email", SF_ID, at=LATER)
    mark_sent(session, f"{CASE}:day30_final", at=LATER)
    mark_unknown(session, f"{CASE}:day30_final", at=LATER)
    session.commit()

    in_doubt = [entry.task_key for entry in unknown_outcomes(other_session)]

    assert in_doubt == [f"{CASE}:day30_final", KEY]


def test_unknown_outcome_resolved_by_a_found_task_records_its_id(session: Session) -> None:
    _bring_to(session, TaskState.UNKNOWN)

    found = mark_created(session, KEY, SF_ID, at=LATER)

    assert (found.state, found.salesforce_id) == (TaskState.CREATED, SF_ID)
    assert unknown_outcomes(session) == []


def test_unknown_outcome_with_no_task_found_goes_back_to_planned(session: Session) -> None:
    _bring_to(session, TaskState.UNKNOWN)

    assert replan_task(session, KEY, at=LATER).state is TaskState.PLANNED
    assert mark_sent(session, KEY, at=LATER).state is TaskState.SENT


def test_recording_a_second_salesforce_id_is_refused_as_a_duplicate(session: Session) -> None:
    _bring_to(session, TaskState.CREATED)

    with pytest.raises(TaskStateError, match="would be a duplicate"):
        mark_created(session, KEY, "00T000000000002AAA", at=LATER)

    entry = get_task(session, KEY)
    assert entry is not None
    assert entry.salesforce_id == SF_ID


def test_failure_keeps_the_error_and_replay_clears_it(session: Session) -> None:
    _bring_to(session, TaskState.FAILED)
    failed = get_task(session, KEY)
    assert failed is not None
    assert failed.error == "REQUIRED_FIELD_MISSING"

    replan_task(session, KEY, at=LATER)
    resent = mark_sent(session, KEY, at=LATER)

    assert resent.error is None


def test_transitions_of_unplanned_tasks_are_refused(session: Session) -> None:
    with pytest.raises(TaskStateError, match="not in the ledger"):
        mark_sent(session, KEY, at=LATER)


def test_keys_and_tasks_for_a_case(session: Session) -> None:
    for key in (f"{CASE}:day7_call", f"{CASE}:day1_email", "erp:C-200:1:day1_email"):
        _plan(session, key)
    mark_sent(session, f"{CASE}:day1_email", at=LATER)
    mark_created(session, f"{CASE}:day1_email", SF_ID, at=LATER)

    keys = keys_for_case(session, CASE)
    created = tasks_for_case(session, CASE, states=[TaskState.CREATED])

    assert keys == [f"{CASE}:day1_email", f"{CASE}:day7_call"]
    assert [entry.task_key for entry in created] == [f"{CASE}:day1_email"]
    assert len(tasks_for_case(session, CASE)) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
def test_two_workers_cannot_both_send_the_same_task(engine: Engine) -> None:
    """Worker B tries to send while A's ``mark_sent`` is uncommitted: B waits, then is refused."""
    factory = create_session_factory(engine)
    with factory() as setup:
        _plan(setup)
        setup.commit()
    outcome: dict[str, object] = {}

    def worker_b() -> None:
        with factory() as session_b:
            try:
                outcome["b"] = mark_sent(session_b, KEY, at=LATER)
            except TaskStateError as exc:
                outcome["b"] = exc

    with factory() as session_a:
        mark_sent(session_a, KEY, at=LATER)
        thread = threading.Thread(target=worker_b)
        thread.start()
        wait_until_blocked_on_lock(engine)
        session_a.commit()
    thread.join(LOCK_WAIT_TIMEOUT_S)

    assert not thread.is_alive()
    assert isinstance(outcome["b"], TaskStateError)
    assert "is sent, cannot become sent" in str(outcome["b"])
