"""Store fixtures: every store test runs on SQLite and on the real PostgreSQL server.

``store_url`` is an empty database (a new file, or a new PostgreSQL database). ``migrated_url``
is a store at the newest schema with no rows: on SQLite a copy of a file migrated once per
session, on PostgreSQL one database migrated once per session and emptied (TRUNCATE) before each
test, so every test starts from a clean, fully migrated store.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import Base
from tests.fixtures.databases import DIALECTS, admin_conninfo, empty_database

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LOCK_WAIT_TIMEOUT_S = 20.0


@pytest.fixture(scope="session")
def postgres_store_url(postgres_url: str) -> str:
    """URL of a PostgreSQL database migrated to head once per session (emptied per test)."""
    name = "sfsync_store"
    with psycopg.connect(admin_conninfo(postgres_url), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    upgrade_database(url)
    return url


def _empty_postgres_tables(url: str) -> None:
    """Remove every row and reset id sequences: a fresh store without re-creating the database."""
    parsed = make_url(url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    conninfo = (
        f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: the database the test runs on."""
    name: str = request.param
    return name


@pytest.fixture
def store_url(dialect: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an empty database of the test's dialect."""
    with empty_database(request, dialect, "store") as url:
        yield url


@pytest.fixture
def migrated_url(dialect: str, request: pytest.FixtureRequest) -> str:
    """URL of an empty store at the newest schema, of the test's dialect."""
    if dialect == "sqlite":
        sqlite_url: str = request.getfixturevalue("migrated_sqlite_url")
        return sqlite_url
    url: str = request.getfixturevalue("postgres_store_url")
    _empty_postgres_tables(url)
    return url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    """An engine on the migrated store, disposed after the test."""
    built = create_engine_from_url(migrated_url)
    yield built
    built.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated store; uncommitted work is rolled back at the end."""
    with create_session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def other_session(engine: Engine) -> Iterator[Session]:
    """A second, independent session: what another worker would see."""
    with create_session_factory(engine)() as opened:
        yield opened


def wait_until_blocked_on_lock(engine: Engine) -> None:
    """Poll pg_stat_activity until some backend waits on a lock, bounded by a timeout."""
    deadline = time.monotonic() + LOCK_WAIT_TIMEOUT_S
    with engine.connect() as probe:
        while time.monotonic() < deadline:
            waiting = probe.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
            probe.rollback()
            if waiting:
                return
            time.sleep(0.02)
    pytest.fail("no session ever waited on another one's lock")
