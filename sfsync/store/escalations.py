"""The escalation record: one row per escalation key, claimed before anything is written.

An escalation key is ``<case key>:esc:<level>`` (:func:`sfsync.escalation.escalation_key`). Its
row is the claim that makes "exactly once per threshold" hold when runs repeat or overlap:

* **claim** (:func:`claim_escalation`): a unique insert, committed before any Salesforce write.
  A second run's insert loses and that run skips the key. A row whose holder died (``holder``
  set, untouched for ``stale_after``) or that a failed attempt released (``holder`` empty) can
  be claimed again, and the new holder resumes where the row says the work stands;
* **state** says how far the work got: ``planned`` (Case update and Task may or may not be
  done; both are safe to redo: the update is by id, the Task goes through the task ledger),
  ``sent`` (the Chatter post was sent and may or may not exist: look for ``feed_body`` on the
  Case before posting again), ``applied`` (done; the key is in ``already`` from now on);
* lower levels settled by a higher one are rows in ``applied`` with ``settled_by`` set;
* the manager alert rides on the row (``alert`` payload, ``alert_state``), so an alert that
  failed is sent again by a later run (the delivery table keeps it from going twice).

Like every repository these functions take the caller's session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from sfsync.store.models import KEY_LENGTH, SALESFORCE_ID_LENGTH, Base, enum_column
from sfsync.store.repositories import dialect_insert
from sfsync.store.types import UTCDateTime

LEVEL_LENGTH = 40
HOLDER_LENGTH = 64
_POPULATE = {"populate_existing": True}


class EscalationState(StrEnum):
    """How far one escalation got: ``planned`` → ``sent`` (Chatter post in doubt) → ``applied``."""

    PLANNED = "planned"
    SENT = "sent"
    APPLIED = "applied"


class AlertState(StrEnum):
    """The manager alert of an applied escalation: ``pending`` until every delivery went out."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class EscalationRecord(Base):
    """One escalation key: who holds it, how far it got, and the ids it produced."""

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    case_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    level: Mapped[str] = mapped_column(String(LEVEL_LENGTH))
    case_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    task_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    feed_item_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    state: Mapped[EscalationState] = mapped_column(
        enum_column(EscalationState, "escalation_state"), index=True
    )
    holder: Mapped[str | None] = mapped_column(String(HOLDER_LENGTH))
    settled_by: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    feed_body: Mapped[str | None] = mapped_column(Text)
    alert: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    alert_state: Mapped[AlertState | None] = mapped_column(enum_column(AlertState, "alert_state"))
    alert_runs: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class EscalationClaim:
    """What a run records when it claims a key: the Case, the post to make, the alert to send."""

    key: str
    case_key: str
    level: str
    case_id: str
    feed_body: str
    alert: dict[str, Any]


def claim_escalation(
    session: Session,
    claim: EscalationClaim,
    *,
    holder: str,
    now: datetime,
    stale_after: timedelta,
) -> EscalationRecord | None:
    """Take the key for ``holder``; the row to work from, or None when someone else has it.

    A new key is inserted ``planned``. An existing key that is not ``applied`` is taken again
    when nobody holds it (a failed attempt released it) or its holder went quiet for
    ``stale_after`` (crashed); its ``state`` is kept, so the new holder resumes. Each step is
    one statement, so two runs can never both win. Commit before writing to Salesforce.
    """
    inserted = session.execute(
        dialect_insert(session, EscalationRecord)
        .values(
            key=claim.key,
            case_key=claim.case_key,
            level=claim.level,
            case_id=claim.case_id,
            state=EscalationState.PLANNED,
            holder=holder,
            feed_body=claim.feed_body,
            alert=claim.alert,
            alert_runs=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[EscalationRecord.key])
        .returning(EscalationRecord.id)
    ).first()
    if inserted is None:
        retaken = session.execute(
            update(EscalationRecord)
            .where(
                EscalationRecord.key == claim.key,
                EscalationRecord.state != EscalationState.APPLIED,
                or_(
                    EscalationRecord.holder.is_(None),
                    EscalationRecord.updated_at < now - stale_after,
                ),
            )
            .values(holder=holder, updated_at=now)
            .returning(EscalationRecord.id)
            .execution_options(synchronize_session=False)
        ).first()
        if retaken is None:
            return None
    return get_escalation(session, claim.key)


def get_escalation(session: Session, key: str) -> EscalationRecord | None:
    """The row stored under ``key``, freshly read."""
    return session.scalars(
        select(EscalationRecord).where(EscalationRecord.key == key), execution_options=_POPULATE
    ).one_or_none()


def escalations_for_cases(session: Session, case_keys: Sequence[str]) -> list[EscalationRecord]:
    """Every row of these Cases (any state), for ``already`` and in-flight checks."""
    rows: list[EscalationRecord] = []
    for start in range(0, len(case_keys), 5_000):
        part = case_keys[start : start + 5_000]
        statement = select(EscalationRecord).where(EscalationRecord.case_key.in_(part))
        rows.extend(session.scalars(statement, execution_options=_POPULATE))
    return rows


def list_escalations(session: Session) -> list[EscalationRecord]:
    """Every row, oldest first (reports and tests)."""
    statement = select(EscalationRecord).order_by(EscalationRecord.id)
    return list(session.scalars(statement, execution_options=_POPULATE))


def record_task(session: Session, key: str, *, task_id: str, at: datetime) -> None:
    """The escalation Task exists as ``task_id``."""
    _set(session, key, at, task_id=task_id)


def mark_escalation_sent(session: Session, key: str, *, at: datetime) -> None:
    """``planned → sent``: commit before posting to Chatter (the post has no external id)."""
    session.execute(
        update(EscalationRecord)
        .where(EscalationRecord.key == key, EscalationRecord.state == EscalationState.PLANNED)
        .values(state=EscalationState.SENT, updated_at=at)
        .execution_options(synchronize_session=False)
    )


def mark_escalation_applied(
    session: Session,
    key: str,
    *,
    feed_item_id: str,
    settles: Iterable[str],
    case_key: str,
    at: datetime,
) -> None:
    """Done: record the post, free the key, and settle the lower levels crossed with it."""
    _set(
        session,
        key,
        at,
        state=EscalationState.APPLIED,
        feed_item_id=feed_item_id,
        holder=None,
        error=None,
        applied_at=at,
        alert_state=AlertState.PENDING,
    )
    for lower in settles:
        if lower == key:
            continue
        statement = dialect_insert(session, EscalationRecord).values(
            key=lower,
            case_key=case_key,
            level=lower.rsplit(":", 1)[-1],
            state=EscalationState.APPLIED,
            settled_by=key,
            alert_runs=0,
            created_at=at,
            updated_at=at,
            applied_at=at,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[EscalationRecord.key],
                set_={
                    "state": EscalationState.APPLIED,
                    "settled_by": key,
                    "holder": None,
                    "updated_at": at,
                    "applied_at": at,
                },
            )
        )


def release_escalation(session: Session, key: str, *, error: str, at: datetime) -> None:
    """An attempt failed: keep the progress, record why, and let a later run claim it."""
    _set(session, key, at, holder=None, error=error)


def alerts_due(session: Session, *, max_runs: int) -> list[EscalationRecord]:
    """Applied escalations whose alert has not gone out to everyone (fewer than ``max_runs``)."""
    statement = (
        select(EscalationRecord)
        .where(
            EscalationRecord.state == EscalationState.APPLIED,
            EscalationRecord.alert.is_not(None),
            EscalationRecord.alert_state.in_([AlertState.PENDING, AlertState.FAILED]),
            EscalationRecord.alert_runs < max_runs,
        )
        .order_by(EscalationRecord.id)
    )
    return list(session.scalars(statement, execution_options=_POPULATE))


def record_alert_result(session: Session, key: str, *, sent: bool, at: datetime) -> None:
    """One dispatch of the row's alert: ``sent`` when every delivery went out (or had)."""
    _set(
        session,
        key,
        at,
        alert_state=AlertState.SENT if sent else AlertState.FAILED,
        alert_runs=EscalationRecord.alert_runs + 1,
    )


def escalations_without_alerts(session: Session) -> int:
    """Applied escalations whose alert no run has tried: they ran with no alert channel.

    A run with a channel tries every due alert (``alert_runs`` goes up), so what is left at
    zero here are the managers never told; ``sfsync status`` counts them.
    """
    statement = (
        select(func.count())
        .select_from(EscalationRecord)
        .where(
            EscalationRecord.state == EscalationState.APPLIED,
            EscalationRecord.alert.is_not(None),
            EscalationRecord.alert_state == AlertState.PENDING,
            EscalationRecord.alert_runs == 0,
        )
    )
    return int(session.scalar(statement) or 0)


def escalation_problems(session: Session) -> list[EscalationRecord]:
    """What ``sfsync status`` shows: escalations left unfinished with an error, newest first."""
    statement = (
        select(EscalationRecord)
        .where(
            and_(
                EscalationRecord.state != EscalationState.APPLIED,
                EscalationRecord.error.is_not(None),
            )
        )
        .order_by(EscalationRecord.updated_at.desc(), EscalationRecord.id.desc())
    )
    return list(session.scalars(statement, execution_options=_POPULATE))


def _set(session: Session, key: str, at: datetime, **values: Any) -> None:
    session.execute(
        update(EscalationRecord)
        .where(EscalationRecord.key == key)
        .values(updated_at=at, **values)
        .execution_options(synchronize_session=False)
    )
