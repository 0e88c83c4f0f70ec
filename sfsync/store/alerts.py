"""The alert delivery record: every alert send, keyed so the same alert is never sent twice.

One row per delivery key — (mode, case, threshold, channel, recipient) for an immediate alert,
(mode, channel, recipient, date) for a daily digest — hashed into ``key`` (unique). A row moves
``pending`` → ``sent`` or ``failed``; ``attempts`` counts every try and ``last_error`` keeps the
latest failure. Routing problems (owner left, unknown manager) are rows on channel ``routing``
in ``failed``, so ``sfsync status`` lists them with the failed sends (:func:`delivery_problems`).
A routing problem is *closed* (``sent``, ``sent_at`` when it was) once a later dispatch routes
the same Case and threshold without a problem and delivers it (:func:`close_routing_problems`);
seen again, it opens again. ``sfsync status`` counts the open problems by kind
(:func:`problem_counts`) besides listing the newest.

Like every repository, these functions take the caller's session and never commit; the delivery
step commits a claim *before* sending (see :mod:`sfsync.alerts.delivery`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Date,
    Index,
    String,
    Text,
    and_,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from sfsync.store.models import SALESFORCE_ID_LENGTH, Base, enum_column
from sfsync.store.repositories import dialect_insert
from sfsync.store.types import UTCDateTime

KEY_HASH_LENGTH = 64
#: The channel name routing problems are recorded on.
ROUTING_CHANNEL = "routing"
RECIPIENT_LENGTH = 320
_KEY_SEPARATOR = "\x1f"


class DeliveryStatus(StrEnum):
    """A delivery is ``pending`` while being sent, then ``sent`` or ``failed``."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class AlertDelivery(Base):
    """One alert (or digest) to one recipient on one channel, and what became of it."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index(None, "status", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_HASH_LENGTH), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(RECIPIENT_LENGTH))
    mode: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    case_number: Mapped[str | None] = mapped_column(String(40))
    threshold: Mapped[str | None] = mapped_column(String(64))
    digest_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


def delivery_key(*parts: str) -> str:
    """The stored key of a delivery: a SHA-256 of its parts (recipients can be long)."""
    return hashlib.sha256(_KEY_SEPARATOR.join(parts).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DeliveryValues:
    """What identifies and describes one delivery."""

    key: str
    channel: str
    recipient: str
    mode: str
    case_id: str | None = None
    case_number: str | None = None
    threshold: str | None = None
    digest_date: date | None = None


def _row_values(values: DeliveryValues, status: DeliveryStatus, at: datetime) -> dict[str, object]:
    return {
        "key": values.key,
        "channel": values.channel,
        "recipient": values.recipient,
        "mode": values.mode,
        "case_id": values.case_id,
        "case_number": values.case_number,
        "threshold": values.threshold,
        "digest_date": values.digest_date,
        "status": status,
        "attempts": 0,
        "created_at": at,
        "updated_at": at,
    }


def claim_delivery(
    session: Session, values: DeliveryValues, *, now: datetime, stale_after: timedelta
) -> bool:
    """Take the right to send this delivery: True when the caller should send it now.

    A new key is inserted ``pending``. An existing key is taken again only if it ``failed``
    (retry on a later run) or is ``pending`` but untouched for ``stale_after`` (its sender died).
    A ``sent`` key, or one another sender holds, is not claimed: sending it again would
    duplicate the alert. Both steps are single statements, so two senders cannot both win.
    """
    inserted = session.execute(
        dialect_insert(session, AlertDelivery)
        .values(**_row_values(values, DeliveryStatus.PENDING, now))
        .on_conflict_do_nothing(index_elements=[AlertDelivery.key])
        .returning(AlertDelivery.id)
    ).first()
    if inserted is not None:
        return True
    retaken = session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.key == values.key,
            or_(
                AlertDelivery.status == DeliveryStatus.FAILED,
                and_(
                    AlertDelivery.status == DeliveryStatus.PENDING,
                    AlertDelivery.updated_at < now - stale_after,
                ),
            ),
        )
        .values(status=DeliveryStatus.PENDING, updated_at=now)
        .returning(AlertDelivery.id)
        .execution_options(synchronize_session=False)
    ).first()
    return retaken is not None


def record_attempt(session: Session, key: str, *, at: datetime, error: str | None = None) -> None:
    """Count one try of ``key``; ``error`` (when it failed) becomes its ``last_error``."""
    values: dict[str, object] = {"attempts": AlertDelivery.attempts + 1, "updated_at": at}
    if error is not None:
        values["last_error"] = error
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.key == key)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def mark_delivery_sent(session: Session, key: str, *, at: datetime) -> None:
    """The channel accepted the delivery."""
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.key == key)
        .values(status=DeliveryStatus.SENT, sent_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )


def mark_delivery_failed(session: Session, key: str, *, error: str, at: datetime) -> None:
    """The delivery gave up (permanent error, or retries exhausted); ``error`` says why."""
    session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.key == key)
        .values(status=DeliveryStatus.FAILED, last_error=error, updated_at=at)
        .execution_options(synchronize_session=False)
    )


def record_routing_problem(
    session: Session, values: DeliveryValues, *, message: str, at: datetime
) -> None:
    """Record, refresh or reopen a routing problem: a ``failed`` row on channel ``routing``."""
    row = _row_values(values, DeliveryStatus.FAILED, at) | {"last_error": message, "attempts": 1}
    statement = dialect_insert(session, AlertDelivery).values(**row)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[AlertDelivery.key],
            set_={
                "status": DeliveryStatus.FAILED,
                "sent_at": None,
                "last_error": statement.excluded.last_error,
                "updated_at": statement.excluded.updated_at,
                "attempts": AlertDelivery.attempts + 1,
            },
        )
    )


def close_routing_problems(session: Session, case_id: str, threshold: str, *, at: datetime) -> int:
    """Close the open routing problems of one Case and threshold: its alert now got through.

    The row stays (``sent``, ``sent_at`` = when it was closed, ``last_error`` = what it was), so
    the history is kept while ``sfsync status`` stops showing it. Returns how many closed.
    """
    result = session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.channel == ROUTING_CHANNEL,
            AlertDelivery.case_id == case_id,
            AlertDelivery.threshold == threshold,
            AlertDelivery.status == DeliveryStatus.FAILED,
        )
        .values(status=DeliveryStatus.SENT, sent_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def get_delivery(session: Session, key: str) -> AlertDelivery | None:
    """The delivery stored under ``key``, freshly read."""
    return session.scalars(
        select(AlertDelivery).where(AlertDelivery.key == key),
        execution_options={"populate_existing": True},
    ).one_or_none()


def list_deliveries(session: Session) -> list[AlertDelivery]:
    """Every delivery, oldest first (reports and tests)."""
    return list(
        session.scalars(
            select(AlertDelivery).order_by(AlertDelivery.id),
            execution_options={"populate_existing": True},
        )
    )


def delivery_problems(
    session: Session,
    *,
    now: datetime | None = None,
    stuck_after: timedelta | None = None,
    limit: int | None = None,
) -> list[AlertDelivery]:
    """What ``sfsync status`` shows: failed deliveries and routing problems, newest first.

    With ``now`` and ``stuck_after``, deliveries left ``pending`` longer than that (a sender
    died mid-send) are listed too: an alert is never silently dropped.
    """
    statement = (
        select(AlertDelivery)
        .where(_problem(now, stuck_after))
        .order_by(AlertDelivery.updated_at.desc(), AlertDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement, execution_options={"populate_existing": True}))


def problem_counts(
    session: Session, *, now: datetime | None = None, stuck_after: timedelta | None = None
) -> dict[str, int]:
    """Every problem :func:`delivery_problems` would list, counted by kind, largest first.

    A kind is ``routing <problem>`` (``routing unknown_manager``), ``<channel> failed`` or
    ``<channel> stuck``, so a pile of routing noise cannot hide a failing channel.
    """
    kind = case(
        (AlertDelivery.channel == ROUTING_CHANNEL, "routing " + AlertDelivery.mode),
        (AlertDelivery.status == DeliveryStatus.FAILED, AlertDelivery.channel + " failed"),
        else_=AlertDelivery.channel + " stuck",
    )
    statement = select(kind, func.count()).where(_problem(now, stuck_after)).group_by(kind)
    rows = [(str(name), int(count)) for name, count in session.execute(statement)]
    return dict(sorted(rows, key=lambda row: (-row[1], row[0])))


def _problem(now: datetime | None, stuck_after: timedelta | None) -> ColumnElement[bool]:
    """Failed (routing problems included), or, with ``now`` and ``stuck_after``, stuck pending."""
    condition: ColumnElement[bool] = AlertDelivery.status == DeliveryStatus.FAILED
    if now is not None and stuck_after is not None:
        condition = or_(
            condition,
            and_(
                AlertDelivery.status == DeliveryStatus.PENDING,
                AlertDelivery.updated_at < now - stuck_after,
            ),
        )
    return condition
