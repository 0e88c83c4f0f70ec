"""The Alembic migrations build exactly the schema the models describe, on both dialects."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from sfsync.store.db import (
    create_engine_from_url,
    create_session_factory,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from sfsync.store.models import Base, RunStatus, SyncRun
from sfsync.store.repositories import finish_run, start_run
from tests.store.conftest import T0

EXPECTED_TABLES = {
    "sync_runs",
    "watermarks",
    "account_links",
    "task_ledger",
    "invoice_links",
    "promises",
    "outcomes",
    "dead_letters",
    "quarantined_rows",
    "account_leases",
    "alert_deliveries",
    "invoice_disputes",
    "dispute_cases",
    "escalations",
}


def _table_names(url: str) -> set[str]:
    engine = create_engine_from_url(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_declare_every_table_the_sync_needs() -> None:
    assert set(Base.metadata.tables) == EXPECTED_TABLES


def test_upgrade_from_empty_creates_every_table(store_url: str) -> None:
    assert current_revision(store_url) is None

    upgrade_database(store_url)

    assert _table_names(store_url) == EXPECTED_TABLES | {"alembic_version"}
    assert current_revision(store_url) == head_revision()


def test_models_and_migrations_agree(store_url: str) -> None:
    """``alembic check``: autogenerate finds nothing to add, drop or alter after upgrade."""
    upgrade_database(store_url)
    engine = create_engine_from_url(store_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrade_twice_is_harmless(store_url: str) -> None:
    upgrade_database(store_url)
    upgrade_database(store_url)
    assert current_revision(store_url) == head_revision()


def test_downgrade_to_base_removes_everything_and_upgrade_restores_it(store_url: str) -> None:
    upgrade_database(store_url)

    downgrade_database(store_url, "base")
    assert _table_names(store_url) == {"alembic_version"}
    assert current_revision(store_url) is None

    upgrade_database(store_url)
    assert _table_names(store_url) == EXPECTED_TABLES | {"alembic_version"}


def test_unknown_revision_is_refused_and_changes_nothing(store_url: str) -> None:
    with pytest.raises(CommandError, match="nonexistent"):
        upgrade_database(store_url, "nonexistent")
    assert current_revision(store_url) is None


def test_a_run_stopped_at_the_budget_keeps_its_status_and_a_downgrade_calls_it_failed(
    store_url: str,
) -> None:
    """0005: ``stopped_budget`` is a run status of its own; older schemas knew only failed."""
    upgrade_database(store_url)
    engine = create_engine_from_url(store_url)
    try:
        with create_session_factory(engine)() as session:
            run = start_run(session, kind="cycle", source="erp", started_at=T0)
            assert run is not None
            finish_run(
                session,
                run.id,
                status=RunStatus.STOPPED_BUDGET,
                finished_at=T0,
                counts={},
                api_calls=0,
            )
            session.commit()
            run_id = run.id
        with create_session_factory(engine)() as session:
            assert session.get_one(SyncRun, run_id).status is RunStatus.STOPPED_BUDGET
        with engine.connect() as connection:
            with pytest.raises(IntegrityError):
                connection.execute(text("UPDATE sync_runs SET status = 'paused'"))
            connection.rollback()

        downgrade_database(store_url, "0004")
        with engine.connect() as connection:
            status = connection.execute(
                text("SELECT status FROM sync_runs WHERE id = :id"), {"id": run_id}
            ).scalar_one()
            assert status == "failed"
            with pytest.raises(IntegrityError):
                connection.execute(text("UPDATE sync_runs SET status = 'stopped_budget'"))
            connection.rollback()
    finally:
        engine.dispose()
    upgrade_database(store_url)
    assert current_revision(store_url) == head_revision()
