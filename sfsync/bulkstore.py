"""Batched forms of the store writes a cycle makes thousands of times.

The repositories write one row per statement (with ``RETURNING`` for the caller); a first sync of
10,000 accounts would spend most of its time there. These do the same moves for many rows in a
few statements, with the same guarantees:

* :func:`put_account_links` is ``put_account_link`` for many links: one ``INSERT … ON CONFLICT``
  executed for all rows.
* :func:`mark_tasks_sent` is ``plan_task`` + (``replan_task`` of failed rows) + ``mark_sent``:
  the move to ``sent`` is a compare-and-set from ``planned`` that returns the keys it moved,
  so a Task another writer holds is never sent twice.
* :func:`mark_tasks_created` is ``mark_created`` for rows this run moved to ``sent``.

The caller commits, as with the repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import and_, bindparam, or_, update
from sqlalchemy.orm import Session

from sfsync.store.models import AccountLink, TaskLedgerEntry, TaskState
from sfsync.store.repositories import AccountLinkValues, dialect_insert

_CHUNK = 500


def put_account_links(
    session: Session, links: Sequence[AccountLinkValues], *, at: datetime
) -> None:
    """Insert or replace the links for their (source, customer, currency) keys."""
    if not links:
        return
    statement = dialect_insert(session, AccountLink)
    names = (*asdict(links[0]), "updated_at")
    statement = statement.on_conflict_do_update(
        index_elements=[AccountLink.source, AccountLink.customer_id, AccountLink.currency],
        set_={name: statement.excluded[name] for name in names},
    )
    rows = [{**asdict(link), "updated_at": at} for link in links]
    for start in range(0, len(rows), _CHUNK):
        session.execute(statement, rows[start : start + _CHUNK])


def mark_tasks_sent(
    session: Session, tasks: Sequence[tuple[str, str, str]], *, at: datetime
) -> set[str]:
    """Plan ``(task key, case key, step)`` rows and move them to ``sent``; returns those moved.

    Rows new to the ledger are inserted as ``planned``; ``failed`` rows go back to ``planned``
    (the plan wants them again); then ``planned → sent`` in one compare-and-set per chunk.
    A key in any other state (``sent``, ``created``...) is left alone and not returned.
    """
    keys = [key for key, _, _ in tasks]
    if not keys:
        return set()
    insert = dialect_insert(session, TaskLedgerEntry).on_conflict_do_nothing(
        index_elements=[TaskLedgerEntry.task_key]
    )
    rows = [
        {
            "task_key": key,
            "case_key": case_key,
            "step": step,
            "state": TaskState.PLANNED,
            "created_at": at,
            "updated_at": at,
        }
        for key, case_key, step in tasks
    ]
    sent: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert, rows[start : start + _CHUNK])
        part = keys[start : start + _CHUNK]
        session.execute(
            update(TaskLedgerEntry)
            .where(TaskLedgerEntry.task_key.in_(part), TaskLedgerEntry.state == TaskState.FAILED)
            .values(state=TaskState.PLANNED, updated_at=at)
        )
        moved = session.execute(
            update(TaskLedgerEntry)
            .where(TaskLedgerEntry.task_key.in_(part), TaskLedgerEntry.state == TaskState.PLANNED)
            .values(state=TaskState.SENT, updated_at=at, error=None)
            .returning(TaskLedgerEntry.task_key)
        )
        sent.update(moved.scalars())
    return sent


def mark_tasks_created(
    session: Session, created: Sequence[tuple[str, str]], *, at: datetime
) -> None:
    """``sent | unknown → created`` with each Task's Salesforce id."""
    if not created:
        return
    statement = (
        update(TaskLedgerEntry)
        .where(
            and_(
                TaskLedgerEntry.task_key == bindparam("key"),
                or_(
                    TaskLedgerEntry.state == TaskState.SENT,
                    TaskLedgerEntry.state == TaskState.UNKNOWN,
                ),
            )
        )
        .values(
            state=TaskState.CREATED, salesforce_id=bindparam("sf_id"), updated_at=at, error=None
        )
        .execution_options(synchronize_session=False)
    )
    rows = [{"key": key, "sf_id": task_id} for key, task_id in created]
    for start in range(0, len(rows), _CHUNK):
        session.connection().execute(statement, rows[start : start + _CHUNK])
