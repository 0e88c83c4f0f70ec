"""Sync runs: recorded, finished once, and de-duplicated by schedule key."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sfsync.store.db import create_session_factory
from sfsync.store.models import RunStatus, SyncRun
from sfsync.store.repositories import finish_run, last_run, start_run
from tests.store.conftest import LOCK_WAIT_TIMEOUT_S, T0, wait_until_blocked_on_lock


def test_run_is_recorded_running_then_finished_with_counts(session: Session) -> None:
    run = start_run(session, kind="cycle", source="erp", started_at=T0)
    assert run is not None
    session.commit()

    finish_run(
        session,
        run.id,
        status=RunStatus.SUCCEEDED,
        finished_at=T0 + timedelta(minutes=2),
        counts={"cases_upserted": 3, "tasks_created": 5},
        api_calls=4,
    )
    session.commit()
    session.expunge_all()

    stored = session.get_one(SyncRun, run.id)
    assert stored.status is RunStatus.SUCCEEDED
    assert stored.started_at == T0
    assert stored.finished_at == T0 + timedelta(minutes=2)
    assert stored.counts == {"cases_upserted": 3, "tasks_created": 5}
    assert stored.api_calls == 4
    assert stored.error is None


def test_failed_run_keeps_its_error(session: Session) -> None:
    run = start_run(session, kind="writeback", source="erp", started_at=T0)
    assert run is not None
    finish_run(
        session,
        run.id,
        status=RunStatus.FAILED,
        finished_at=T0,
        counts={},
        api_calls=1,
        error="RetryableError: 503 from Salesforce",
    )
    session.commit()
    session.expunge_all()
    assert session.get_one(SyncRun, run.id).error == "RetryableError: 503 from Salesforce"


def test_a_run_finishes_only_once(session: Session) -> None:
    run = start_run(session, kind="cycle", source="erp", started_at=T0)
    assert run is not None
    finish_run(session, run.id, status=RunStatus.FAILED, finished_at=T0, counts={}, api_calls=0)

    with pytest.raises(ValueError, match="already finished as failed"):
        finish_run(
            session, run.id, status=RunStatus.SUCCEEDED, finished_at=T0, counts={}, api_calls=0
        )
    with pytest.raises(ValueError, match="final status"):
        finish_run(
            session, run.id, status=RunStatus.RUNNING, finished_at=T0, counts={}, api_calls=0
        )


def test_second_insert_of_a_schedule_key_loses(session: Session) -> None:
    first = start_run(session, kind="cycle", source="erp", started_at=T0, schedule_key="cycle:T0")
    session.commit()
    second = start_run(session, kind="cycle", source="erp", started_at=T0, schedule_key="cycle:T0")
    session.commit()

    assert first is not None
    assert second is None
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_unscheduled_runs_are_never_deduplicated(session: Session) -> None:
    runs = [start_run(session, kind="cycle", source="erp", started_at=T0) for _ in range(2)]
    session.commit()
    assert all(run is not None for run in runs)
    assert session.scalar(select(func.count()).select_from(SyncRun)) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
def test_two_concurrent_beats_start_the_scheduled_run_once(engine: Engine) -> None:
    """Beat B inserts while beat A's insert is uncommitted: B waits, then loses to A's commit."""
    factory = create_session_factory(engine)
    outcome: dict[str, SyncRun | BaseException | None] = {}

    def beat_b() -> None:
        try:
            with factory() as session_b:
                outcome["b"] = start_run(
                    session_b, kind="cycle", source="erp", started_at=T0, schedule_key="slot-1"
                )
                session_b.commit()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread to assert on
            outcome["b"] = exc

    with factory() as session_a:
        won = start_run(session_a, kind="cycle", source="erp", started_at=T0, schedule_key="slot-1")
        thread = threading.Thread(target=beat_b)
        thread.start()
        wait_until_blocked_on_lock(engine)
        session_a.commit()
    thread.join(LOCK_WAIT_TIMEOUT_S)

    assert not thread.is_alive()
    assert won is not None
    assert outcome["b"] is None
    with factory() as check:
        assert check.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_last_run_is_the_latest_successful_one_by_default(session: Session) -> None:
    older = start_run(session, kind="cycle", source="erp", started_at=T0)
    newer = start_run(session, kind="cycle", source="erp", started_at=T0 + timedelta(hours=1))
    failed = start_run(session, kind="cycle", source="erp", started_at=T0 + timedelta(hours=2))
    start_run(session, kind="writeback", source="erp", started_at=T0 + timedelta(hours=3))
    assert older is not None
    assert newer is not None
    assert failed is not None
    for run in (older, newer):
        finish_run(
            session, run.id, status=RunStatus.SUCCEEDED, finished_at=T0, counts={}, api_calls=0
        )
    finish_run(session, failed.id, status=RunStatus.FAILED, finished_at=T0, counts={}, api_calls=0)

    latest_ok = last_run(session, kind="cycle", source="erp")
    latest_any = last_run(session, kind="cycle", source="erp", status=None)

    assert latest_ok is not None
    assert latest_ok.id == newer.id
    assert latest_any is not None
    assert latest_any.id == failed.id
    assert last_run(session, kind="cycle", source="other") is None
