"""One writer at a time: store leases, and on PostgreSQL advisory locks that refuse even a
second execution of the same task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sfsync.jobs.locks import advisory_key, exclusive
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import AccountLease
from tests.jobs.conftest import fresh_database

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TTL = timedelta(minutes=5)
KEYS = ["shard:0/2", "shard:1/2"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_url"))
    upgrade_database(url)
    engine = create_engine_from_url(url)
    yield engine
    engine.dispose()


def _leases(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {row.lease_key: row.holder for row in session.query(AccountLease)}


def test_a_second_holder_is_refused_until_the_first_lets_go(store: Engine) -> None:
    sessions = create_session_factory(store)

    with exclusive(sessions, keys=KEYS, holder="task-a", now=NOW, ttl=TTL) as first:
        assert first
        assert _leases(sessions) == dict.fromkeys(KEYS, "task-a")
        with exclusive(sessions, keys=KEYS[1:], holder="task-b", now=NOW, ttl=TTL) as second:
            assert not second
        assert _leases(sessions) == dict.fromkeys(KEYS, "task-a"), "a refusal takes nothing"

    assert _leases(sessions) == {}
    with exclusive(sessions, keys=KEYS[1:], holder="task-b", now=NOW, ttl=TTL) as later:
        assert later


def test_a_refused_key_gives_back_the_keys_taken_before_it(store: Engine) -> None:
    sessions = create_session_factory(store)

    with exclusive(sessions, keys=KEYS[1:], holder="task-a", now=NOW, ttl=TTL) as first:
        assert first
        with exclusive(sessions, keys=KEYS, holder="task-b", now=NOW, ttl=TTL) as both:
            assert not both
        assert _leases(sessions) == {"shard:1/2": "task-a"}


@pytest.mark.postgres
def test_two_executions_of_the_same_task_never_overlap_on_postgresql(
    postgres_url: str,
) -> None:
    url = fresh_database(postgres_url)
    upgrade_database(url)
    engine = create_engine_from_url(url)
    sessions = create_session_factory(engine)
    try:
        with exclusive(sessions, keys=KEYS[:1], holder="task-a", now=NOW, ttl=TTL) as first:
            assert first
            # The same message delivered again (same task id): the store lease would let it
            # renew, the advisory lock does not.
            with exclusive(sessions, keys=KEYS[:1], holder="task-a", now=NOW, ttl=TTL) as again:
                assert not again
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_killed_holders_lock_is_freed_with_its_connection(postgres_url: str) -> None:
    url = fresh_database(postgres_url)
    upgrade_database(url)
    parts = make_url(url)
    holder = psycopg.connect(
        f"host={parts.host} port={parts.port} user={parts.username} dbname={parts.database}",
        autocommit=True,
        connect_timeout=10,
    )
    holder.execute("SELECT pg_advisory_lock(%s)", (advisory_key(KEYS[0]),))
    engine = create_engine_from_url(url)
    sessions = create_session_factory(engine)
    try:
        with exclusive(sessions, keys=KEYS[:1], holder="task-b", now=NOW, ttl=TTL) as busy:
            assert not busy
        holder.close()  # what the kernel does for a process killed with SIGKILL
        with exclusive(sessions, keys=KEYS[:1], holder="task-b", now=NOW, ttl=TTL) as free:
            assert free
    finally:
        holder.close()
        engine.dispose()
