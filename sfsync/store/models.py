"""The state store's tables, as SQLAlchemy 2 typed models.

The local store is the truth about what sfsync wrote to Salesforce (DESIGN.md invariant 3). Every
table here is keyed the way the sync engine looks rows up, and every uniqueness the invariants rely
on is a database constraint, not a convention: one link row per accounting customer and currency
(so at most one open Case per account), one ledger row per Task key, one open dead letter per
failed write, one row per scheduled run.

Timestamps are :class:`~sfsync.store.types.UTCDateTime` and money is
:class:`~sfsync.store.types.Money`; nothing here reads the clock: callers pass the injected time.
See docs/store.md for the task-ledger protocol.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sfsync.store.types import Money, UTCDateTime

# Deterministic constraint names, so migrations can drop and alter them on both dialects.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

KEY_LENGTH = 255
SALESFORCE_ID_LENGTH = 18
HASH_LENGTH = 64


class RunStatus(StrEnum):
    """Where a sync run is: it starts ``running`` and ends ``succeeded``, ``failed`` or
    ``stopped_budget`` (writes stopped cleanly at the API budget's reserve; what was applied
    is committed and the rest is read again by the next run)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED_BUDGET = "stopped_budget"


class TaskState(StrEnum):
    """A Task's place in the creation protocol (see ``repositories.TASK_TRANSITIONS``)."""

    PLANNED = "planned"
    SENT = "sent"
    CREATED = "created"
    CLOSED = "closed"
    FAILED = "failed"
    UNKNOWN = "unknown"


class PromiseStatus(StrEnum):
    """A promise to pay, judged against payments received by its date plus grace days."""

    PENDING = "pending"
    KEPT = "kept"
    PARTIALLY_KEPT = "partially_kept"
    BROKEN = "broken"


def enum_column(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR plus CHECK constraint holding the enum's values (portable, no native enum)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SyncRun(Base):
    """One run of a job (cycle, writeback, escalation) and what it did.

    ``schedule_key`` is unique: when two beats fire the same scheduled slot, the second insert
    loses and that run is not started twice.
    """

    __tablename__ = "sync_runs"
    __table_args__ = (Index(None, "kind", "source", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_column(RunStatus, "run_status"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    api_calls: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    schedule_key: Mapped[str | None] = mapped_column(String(200), unique=True)


class Watermark(Base):
    """How far a (source, stream) has been read; moved only by a run's final commit."""

    __tablename__ = "watermarks"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cursor: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountLink(Base):
    """An accounting customer (in one currency) linked to its Salesforce Account and Case.

    One row per (source, customer, currency) is what makes a second open Case for the same
    account impossible: the current episode, Case key and open flag live on this single row.
    """

    __tablename__ = "account_links"
    __table_args__ = (UniqueConstraint("source", "customer_id", "currency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    currency: Mapped[str] = mapped_column(String(3))
    salesforce_account_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    episode: Mapped[int] = mapped_column(default=1)
    case_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH), unique=True)
    case_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    case_open: Mapped[bool] = mapped_column(default=False)
    case_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TaskLedgerEntry(Base):
    """A follow-up Task by key: the local ledger that makes Task creation idempotent.

    A row in ``sent`` with no Salesforce id after a crash means the outcome is unknown: query
    Salesforce by key before creating the Task again.
    """

    __tablename__ = "task_ledger"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    salesforce_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    state: Mapped[TaskState] = mapped_column(enum_column(TaskState, "task_state"), index=True)
    case_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    step: Mapped[str] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InvoiceLink(Base):
    """An accounting invoice linked to its AR_Invoice__c record, with the hash last written."""

    __tablename__ = "invoice_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    salesforce_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    case_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH), index=True)
    content_hash: Mapped[str | None] = mapped_column(String(HASH_LENGTH))
    status: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Promise(Base):
    """A promise to pay logged by a rep, and how it was judged."""

    __tablename__ = "promises"

    id: Mapped[int] = mapped_column(primary_key=True)
    promise_key: Mapped[str] = mapped_column(String(KEY_LENGTH), unique=True)
    customer_id: Mapped[str] = mapped_column(String(KEY_LENGTH))
    case_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    promised_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[PromiseStatus] = mapped_column(
        enum_column(PromiseStatus, "promise_status"), index=True
    )
    source_task_id: Mapped[str | None] = mapped_column(String(SALESFORCE_ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    judged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Outcome(Base):
    """A completed Task read back from Salesforce, waiting to be (or already) written back."""

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    salesforce_task_id: Mapped[str] = mapped_column(String(SALESFORCE_ID_LENGTH), unique=True)
    task_key: Mapped[str | None] = mapped_column(String(KEY_LENGTH))
    case_key: Mapped[str] = mapped_column(String(KEY_LENGTH), index=True)
    outcome_code: Mapped[str] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_back: Mapped[bool] = mapped_column(default=False, index=True)
    written_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeadLetter(Base):
    """A write Salesforce refused, with its code and message, kept until replayed or resolved.

    At most one *open* dead letter exists per (object, key, operation): a repeated failure bumps
    ``attempts`` on it instead of adding rows.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (
        Index(
            "uq_dead_letters_open",
            "sobject",
            "record_key",
            "operation",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    sobject: Mapped[str] = mapped_column(String(80))
    record_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    operation: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    error_code: Mapped[str] = mapped_column(String(80))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    first_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class QuarantinedRow(Base):
    """A source row sfsync could not use, with the reason an admin can act on."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (UniqueConstraint("source", "row_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    row_key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("sync_runs.id", ondelete="SET NULL"))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountLease(Base):
    """Who may write an account (or shard) until when: one writer per account at a time."""

    __tablename__ = "account_leases"

    lease_key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(KEY_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
