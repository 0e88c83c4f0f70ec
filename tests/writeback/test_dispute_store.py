"""The dispute tables on SQLite and the real PostgreSQL server: one open dispute per invoice,
reopened after it cleared, and one dispute Case row per account."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.disputes import (
    DisputeCaseValues,
    DisputeValues,
    clear_dispute,
    dispute_cases,
    mark_seen_in_source,
    open_dispute,
    open_disputes,
    put_dispute_case,
)

T0 = datetime(2026, 3, 16, 9, tzinfo=UTC)
ACCOUNT = "erp:C1:USD"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on a freshly migrated store of each dialect."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        dropping, admin = None, ""
    else:
        server = make_url(request.getfixturevalue("postgres_url"))
        dropping = f"wb_{uuid.uuid4().hex[:12]}"
        admin = f"host={server.host} port={server.port} user={server.username} dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {dropping}")
        url = server.set(database=dropping).render_as_string(hide_password=False)
    upgrade_database(url)
    engine = create_engine_from_url(url)
    try:
        with create_session_factory(engine)() as opened:
            yield opened
    finally:
        engine.dispose()
        if dropping is not None:
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {dropping} WITH (FORCE)")


def _dispute(reason: str = "goods damaged") -> DisputeValues:
    return DisputeValues("erp:I2", ACCOUNT, reason, "00T000000000001AAA")


def test_a_dispute_is_open_once_and_reopens_after_it_cleared(session: Session) -> None:
    assert open_dispute(session, _dispute(), at=T0)
    assert not open_dispute(session, _dispute("again"), at=T0 + timedelta(hours=1))
    assert open_disputes(session, [ACCOUNT])["erp:I2"].reason == "goods damaged"

    mark_seen_in_source(session, "erp:I2")
    clear_dispute(session, "erp:I2", at=T0 + timedelta(days=1))
    assert open_disputes(session, [ACCOUNT]) == {}

    assert open_dispute(session, _dispute("short delivery"), at=T0 + timedelta(days=2))
    reopened = open_disputes(session, [ACCOUNT])["erp:I2"]
    assert (reopened.reason, reopened.seen_in_source, reopened.cleared_at) == (
        "short delivery",
        False,
        None,
    )
    assert open_disputes(session, []) == {}


def test_the_dispute_case_row_is_replaced_per_account(session: Session) -> None:
    first = DisputeCaseValues(ACCOUNT, f"{ACCOUNT}:1:dispute", "5008d0000000001AAA", True, "a")
    put_dispute_case(session, first, at=T0)
    closed = DisputeCaseValues(ACCOUNT, f"{ACCOUNT}:1:dispute", "5008d0000000001AAA", False, "b")
    put_dispute_case(session, closed, at=T0 + timedelta(days=1))

    [row] = dispute_cases(session, [ACCOUNT]).values()
    assert (row.is_open, row.content_hash) == (False, "b")
    assert dispute_cases(session, []) == {}
