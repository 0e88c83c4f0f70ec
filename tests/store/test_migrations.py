"""The Alembic migrations build exactly the schema the models describe, on both dialects."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import inspect

from sfsync.store.db import (
    create_engine_from_url,
    current_revision,
    downgrade_database,
    head_revision,
    upgrade_database,
)
from sfsync.store.models import Base

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
