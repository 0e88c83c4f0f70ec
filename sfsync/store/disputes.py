"""Disputes raised by reps, and the dispute Case of each account: two tables of the state store.

A dispute flagged in the accounting system needs no row here: the source's ``disputed`` flag
reaches the planner with the invoice. A rep who completes a Task with the outcome *Disputed*
and names an invoice creates an :class:`InvoiceDispute`; the sync cycle then treats that invoice
as disputed (out of the chase and the aging) until the dispute clears: the invoice is paid or
voided, or the accounting team took the dispute over (flagged it) and later cleared the flag.

:class:`DisputeCase` remembers the child Case sfsync opened for an account's disputes (key
``<collections case key>:dispute``, owned by the dispute queue): its Salesforce id, whether it
is open and the content hash last written, so an unchanged dispute Case costs no write.

Like every repository, these functions take the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from sfsync.store.models import HASH_LENGTH, KEY_LENGTH, SALESFORCE_ID_LENGTH, Base
from sfsync.store.repositories import dialect_insert
from sfsync.store.types import UTCDateTime


class InvoiceDispute(Base):
    """An invoice a rep reported disputed; ``cleared_at`` is set when the dispute ends."""

    __tablename__ = "invoice_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    account_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    reason: Mapped[str] = mapped_column(Text)
    salesforce_task_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    seen_in_source: Mapped[bool] = mapped_column(default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DisputeCase(Base):
    """The dispute child Case of one account (``<source>:<customer>:<currency>``)."""

    __tablename__ = "dispute_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    case_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    salesforce_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    is_open: Mapped[bool] = mapped_column(default=True)
    content_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


@dataclass(frozen=True)
class DisputeValues:
    """A rep's dispute of one invoice, as read back from a completed Task."""

    invoice_key: str
    account_key: str
    reason: str
    salesforce_task_id: str | None = None


def open_dispute(session: Session, dispute: DisputeValues, *, at: datetime) -> bool:
    """Record the dispute (or reopen a cleared one); False when it is already open."""
    statement = dialect_insert(session, InvoiceDispute).values(
        invoice_key=dispute.invoice_key,
        account_key=dispute.account_key,
        reason=dispute.reason,
        salesforce_task_id=dispute.salesforce_task_id,
        seen_in_source=False,
        opened_at=at,
        cleared_at=None,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[InvoiceDispute.invoice_key],
        set_={
            "reason": statement.excluded.reason,
            "salesforce_task_id": statement.excluded.salesforce_task_id,
            "seen_in_source": False,
            "opened_at": statement.excluded.opened_at,
            "cleared_at": None,
        },
        where=InvoiceDispute.cleared_at.is_not(None),
    ).returning(InvoiceDispute.id)
    return session.execute(upsert).scalar_one_or_none() is not None


def open_disputes(session: Session, account_keys: list[str]) -> dict[str, InvoiceDispute]:
    """Open rep disputes of ``account_keys``, by invoice key."""
    if not account_keys:
        return {}
    statement = select(InvoiceDispute).where(
        InvoiceDispute.account_key.in_(account_keys), InvoiceDispute.cleared_at.is_(None)
    )
    return {row.invoice_key: row for row in session.scalars(statement)}


def mark_seen_in_source(session: Session, invoice_key: str) -> None:
    """The accounting system flagged the invoice too: its flag decides from now on."""
    session.execute(
        update(InvoiceDispute)
        .where(InvoiceDispute.invoice_key == invoice_key)
        .values(seen_in_source=True)
    )


def clear_dispute(session: Session, invoice_key: str, *, at: datetime) -> None:
    """The dispute ended (invoice closed, or the source cleared its flag)."""
    session.execute(
        update(InvoiceDispute)
        .where(InvoiceDispute.invoice_key == invoice_key, InvoiceDispute.cleared_at.is_(None))
        .values(cleared_at=at)
    )


def dispute_cases(session: Session, account_keys: list[str]) -> dict[str, DisputeCase]:
    """The dispute Cases of ``account_keys``, by account key."""
    if not account_keys:
        return {}
    statement = select(DisputeCase).where(DisputeCase.account_key.in_(account_keys))
    return {row.account_key: row for row in session.scalars(statement)}


@dataclass(frozen=True)
class DisputeCaseValues:
    """A dispute Case as written to Salesforce."""

    account_key: str
    case_key: str
    salesforce_id: str | None
    is_open: bool
    content_hash: str


def put_dispute_case(session: Session, values: DisputeCaseValues, *, at: datetime) -> None:
    """Remember what was written for the account's dispute Case."""
    statement = dialect_insert(session, DisputeCase).values(
        account_key=values.account_key,
        case_key=values.case_key,
        salesforce_id=values.salesforce_id,
        is_open=values.is_open,
        content_hash=values.content_hash,
        updated_at=at,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[DisputeCase.account_key],
            set_={
                "case_key": statement.excluded.case_key,
                "salesforce_id": statement.excluded.salesforce_id,
                "is_open": statement.excluded.is_open,
                "content_hash": statement.excluded.content_hash,
                "updated_at": statement.excluded.updated_at,
            },
        )
    )


__all__ = [
    "DisputeCase",
    "DisputeCaseValues",
    "DisputeValues",
    "InvoiceDispute",
    "clear_dispute",
    "dispute_cases",
    "mark_seen_in_source",
    "open_dispute",
    "open_disputes",
    "put_dispute_case",
]
