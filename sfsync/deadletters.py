"""Dead letters and quarantined rows for the admin: list them, replay refused writes.

``sfsync dlq list`` shows every open dead letter (object, key, Salesforce code and message,
attempts) and every quarantined source row (key and reason) in one place, so "sync errors as a
list with reasons" is one command. ``sfsync dlq retry`` re-sends the stored payload of dead
letters: a success resolves the letter, a new refusal updates it (attempts + 1).

A Task create is replayed through the task ledger like any create (``planned → sent`` committed
before the call), so a replay racing a cycle still leaves exactly one Task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sfsync.apply import CREATE, UPDATE, SessionFactory
from sfsync.clock import Clock
from sfsync.logs import get_logger
from sfsync.salesforce.ports import ItemResult, SalesforceGateway
from sfsync.store.models import DeadLetter, QuarantinedRow, TaskState
from sfsync.store.repositories import (
    get_task,
    list_dead_letters,
    list_quarantined,
    mark_created,
    mark_failed,
    mark_sent,
    mark_unknown,
    record_dead_letter,
    replan_task,
    resolve_dead_letter,
)

_log = get_logger(__name__)


@dataclass(frozen=True)
class ErrorList:
    """What ``dlq list`` shows: open dead letters and quarantined rows."""

    dead_letters: list[DeadLetter]
    quarantined: list[QuarantinedRow]


def list_errors(sessions: SessionFactory, *, include_resolved: bool = False) -> ErrorList:
    """Open (or all) dead letters, oldest first, and every quarantined row."""
    with sessions() as session:
        return ErrorList(
            list_dead_letters(session, include_resolved=include_resolved),
            list_quarantined(session),
        )


@dataclass
class RetryResult:
    """What a replay did, per dead letter id."""

    resolved: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)


def retry_dead_letters(
    gateway: SalesforceGateway,
    sessions: SessionFactory,
    clock: Clock,
    *,
    ids: Sequence[int] | None = None,
) -> RetryResult:
    """Re-send the stored payload of the open dead letters ``ids`` (all open ones if None)."""
    result = RetryResult()
    with sessions() as session:
        letters = [
            letter for letter in list_dead_letters(session) if ids is None or letter.id in set(ids)
        ]
    for letter in letters:
        outcome = _replay(gateway, sessions, clock, letter)
        with sessions() as session:
            now = clock.now()
            if outcome.ok:
                resolve_dead_letter(session, letter.id, at=now)
                result.resolved.append(letter.id)
            else:
                record_dead_letter(
                    session,
                    sobject=letter.sobject,
                    record_key=letter.record_key,
                    operation=letter.operation,
                    payload=letter.payload,
                    error_code=outcome.code or "UNKNOWN_ERROR",
                    message=outcome.message,
                    at=now,
                )
                result.failed.append((letter.id, f"{outcome.code}: {outcome.message}"))
            session.commit()
    _log.info("dead_letters_retried", resolved=len(result.resolved), failed=len(result.failed))
    return result


def _replay(
    gateway: SalesforceGateway, sessions: SessionFactory, clock: Clock, letter: DeadLetter
) -> ItemResult:
    record: dict[str, Any] = dict(letter.payload.get("record") or {})
    if letter.operation == CREATE and letter.sobject.lower() == "task":
        return _replay_task(gateway, sessions, clock, letter.record_key, record)
    if letter.operation == CREATE:
        return gateway.create(letter.sobject, [record])[0]
    if letter.operation == UPDATE:
        return gateway.update(letter.sobject, [record])[0]
    external_id = str(letter.payload.get("external_id_field") or "")
    return gateway.upsert(letter.sobject, [record], external_id_field=external_id)[0]


def _replay_task(
    gateway: SalesforceGateway,
    sessions: SessionFactory,
    clock: Clock,
    key: str,
    record: dict[str, Any],
) -> ItemResult:
    """Create a refused Task again under the ledger protocol; one that exists already counts."""
    with sessions() as session:
        entry = get_task(session, key)
        if entry is not None and entry.state in (TaskState.CREATED, TaskState.CLOSED):
            return ItemResult(index=0, ok=True, id=entry.salesforce_id)
        if entry is not None:
            if entry.state in (TaskState.FAILED, TaskState.UNKNOWN):
                replan_task(session, key, at=clock.now())
            mark_sent(session, key, at=clock.now())
        session.commit()
    outcome = gateway.create("Task", [record])[0]
    if entry is None:
        return outcome
    with sessions() as session:
        if outcome.ok and outcome.id:
            mark_created(session, key, outcome.id, at=clock.now())
        elif outcome.outcome_unknown:
            mark_unknown(session, key, at=clock.now())
        else:
            mark_failed(session, key, f"{outcome.code}: {outcome.message}", at=clock.now())
        session.commit()
    return outcome
