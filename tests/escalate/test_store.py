"""The escalations record on SQLite and PostgreSQL: one claim wins, resumes keep their progress,
lower levels are settled, alerts stay due until sent, and the migration matches the model."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from sfsync.store.db import create_engine_from_url, downgrade_database, upgrade_database
from sfsync.store.escalations import (
    AlertState,
    EscalationClaim,
    EscalationState,
    alerts_due,
    claim_escalation,
    escalation_problems,
    escalations_for_cases,
    get_escalation,
    mark_escalation_applied,
    mark_escalation_sent,
    record_alert_result,
    release_escalation,
)
from sfsync.store.models import Base
from tests.escalate.conftest import T0

STALE = timedelta(minutes=15)
CASE_KEY = "erp:C1:USD:1"
KEY = f"{CASE_KEY}:esc:legal"
CLAIM = EscalationClaim(
    key=KEY,
    case_key=CASE_KEY,
    level="legal",
    case_id="500000000000001AAA",
    feed_body="Sent to legal after 31 calendar days. Why: no contact logged.",
    alert={"case_number": "00001001"},
)


def _claim(sessions: sessionmaker[Session], holder: str, minutes: float = 0) -> bool:
    with sessions() as session:
        row = claim_escalation(
            session, CLAIM, holder=holder, now=T0 + timedelta(minutes=minutes), stale_after=STALE
        )
        session.commit()
        return row is not None


def _state_and_holder(sessions: sessionmaker[Session]) -> tuple[EscalationState, str | None]:
    """How far the key got, and which run holds it now."""
    with sessions() as session:
        row = get_escalation(session, KEY)
        assert row is not None
        return row.state, row.holder


def test_the_first_claim_wins_and_a_live_holder_keeps_it(
    any_sessions: sessionmaker[Session],
) -> None:
    assert _claim(any_sessions, "run-a") is True
    assert _claim(any_sessions, "run-b", minutes=5) is False
    assert _state_and_holder(any_sessions) == (EscalationState.PLANNED, "run-a")


def test_a_dead_holder_is_replaced_and_the_progress_kept(
    any_sessions: sessionmaker[Session],
) -> None:
    _claim(any_sessions, "run-a")
    with any_sessions() as session:
        mark_escalation_sent(session, KEY, at=T0 + timedelta(minutes=1))
        session.commit()

    assert _claim(any_sessions, "run-b", minutes=20) is True
    assert _state_and_holder(any_sessions) == (EscalationState.SENT, "run-b")


def test_a_released_claim_is_listed_and_taken_again_at_once(
    any_sessions: sessionmaker[Session],
) -> None:
    _claim(any_sessions, "run-a")
    with any_sessions() as session:
        release_escalation(session, KEY, error="PermanentError: locked", at=T0)
        session.commit()
        assert [row.key for row in escalation_problems(session)] == [KEY]

    assert _claim(any_sessions, "run-b", minutes=1) is True


def test_applied_settles_the_lower_levels_and_is_never_claimed_again(
    any_sessions: sessionmaker[Session],
) -> None:
    _claim(any_sessions, "run-a")
    with any_sessions() as session:
        mark_escalation_applied(
            session,
            KEY,
            feed_item_id="0D5000000000001AAA",
            settles=(f"{CASE_KEY}:esc:manager", KEY),
            case_key=CASE_KEY,
            at=T0,
        )
        session.commit()
        rows = {row.key: row for row in escalations_for_cases(session, [CASE_KEY])}

    assert {key: (row.state, row.settled_by) for key, row in rows.items()} == {
        KEY: (EscalationState.APPLIED, None),
        f"{CASE_KEY}:esc:manager": (EscalationState.APPLIED, KEY),
    }
    assert rows[KEY].holder is None
    assert _claim(any_sessions, "run-b", minutes=60) is False


def test_an_alert_stays_due_until_sent_or_out_of_runs(any_sessions: sessionmaker[Session]) -> None:
    _claim(any_sessions, "run-a")
    with any_sessions() as session:
        mark_escalation_applied(
            session,
            KEY,
            feed_item_id="0D5000000000001AAA",
            settles=(KEY,),
            case_key=CASE_KEY,
            at=T0,
        )
        session.commit()
        assert [row.key for row in alerts_due(session, max_runs=2)] == [KEY]
        record_alert_result(session, KEY, sent=False, at=T0)
        session.commit()
        (row,) = alerts_due(session, max_runs=2)
        assert (row.alert_state, row.alert_runs) == (AlertState.FAILED, 1)
        record_alert_result(session, KEY, sent=False, at=T0)
        session.commit()
        assert alerts_due(session, max_runs=2) == []
        assert alerts_due(session, max_runs=3) != []
        record_alert_result(session, KEY, sent=True, at=T0)
        session.commit()
        assert alerts_due(session, max_runs=10) == []


def _only_escalations(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Compare this migration's table only: other migrations belong to other models."""
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table == "escalations"


def test_migration_0004_matches_the_model_and_downgrades_cleanly(empty_store_url: str) -> None:
    upgrade_database(empty_store_url, "0004")
    engine = create_engine_from_url(empty_store_url)
    try:
        with engine.connect() as connection:
            assert "escalations" in inspect(connection).get_table_names()
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": _only_escalations}
            )
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
        downgrade_database(empty_store_url, "0003")
        assert "escalations" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
