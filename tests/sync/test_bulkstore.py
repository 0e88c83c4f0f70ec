"""The batched ledger and link writes keep the repositories' guarantees (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from sfsync.bulkstore import mark_tasks_created, mark_tasks_sent, put_account_links
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import TaskState
from sfsync.store.repositories import (
    AccountLinkValues,
    get_account_link,
    get_task,
    mark_failed,
    mark_sent,
    plan_task,
)

NOW = datetime(2026, 3, 16, 8, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_store")
    upgrade_database(url)
    engine = create_engine_from_url(url)
    yield create_session_factory(engine)
    engine.dispose()


def test_only_tasks_this_writer_moved_to_sent_are_returned(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        plan_task(session, task_key="k:held", case_key="k", step="s", at=NOW)
        mark_sent(session, "k:held", at=NOW)  # another writer is sending it
        plan_task(session, task_key="k:failed", case_key="k", step="s", at=NOW)
        mark_sent(session, "k:failed", at=NOW)
        mark_failed(session, "k:failed", "REFUSED", at=NOW)
        session.commit()

        sent = mark_tasks_sent(
            session,
            [("k:new", "k", "s"), ("k:held", "k", "s"), ("k:failed", "k", "s")],
            at=NOW,
        )
        session.commit()

        assert sent == {"k:new", "k:failed"}
        mark_tasks_created(session, [("k:new", "00T000000000001AAA")], at=NOW)
        session.commit()
        created = get_task(session, "k:new")
        assert created is not None
        assert (created.state, created.salesforce_id) == (TaskState.CREATED, "00T000000000001AAA")
        held = get_task(session, "k:held")
        assert held is not None
        assert held.state is TaskState.SENT


def test_links_are_inserted_then_replaced(sessions: sessionmaker[Session]) -> None:
    first = AccountLinkValues("erp", "C1", "USD", "001000000000001AAA", episode=0)
    with sessions() as session:
        put_account_links(session, [first], at=NOW)
        put_account_links(
            session,
            [
                AccountLinkValues(
                    "erp", "C1", "USD", "001000000000001AAA", 1, "erp:C1:USD:1", None, True, "h"
                )
            ],
            at=NOW,
        )
        session.commit()
        link = get_account_link(session, "erp", "C1", "USD")
        assert link is not None
        assert (link.episode, link.case_key, link.case_open) == (1, "erp:C1:USD:1", True)
