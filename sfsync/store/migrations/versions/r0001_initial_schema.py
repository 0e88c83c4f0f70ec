"""Initial schema: runs, watermarks, links, task ledger, promises, outcomes, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sfsync.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "account_leases",
        sa.Column("lease_key", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lease_key", name=op.f("pk_account_leases")),
    )
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("salesforce_account_id", sa.String(length=18), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("case_key", sa.String(length=255), nullable=True),
        sa.Column("case_id", sa.String(length=18), nullable=True),
        sa.Column("case_open", sa.Boolean(), nullable=False),
        sa.Column("case_hash", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_links")),
        sa.UniqueConstraint("case_key", name=op.f("uq_account_links_case_key")),
        sa.UniqueConstraint(
            "source",
            "customer_id",
            "currency",
            name=op.f("uq_account_links_source_customer_id_currency"),
        ),
    )
    op.create_table(
        "invoice_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_key", sa.String(length=255), nullable=False),
        sa.Column("salesforce_id", sa.String(length=18), nullable=True),
        sa.Column("case_key", sa.String(length=255), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_links")),
        sa.UniqueConstraint("invoice_key", name=op.f("uq_invoice_links_invoice_key")),
    )
    with op.batch_alter_table("invoice_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_links_case_key"), ["case_key"], unique=False)

    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salesforce_task_id", sa.String(length=18), nullable=False),
        sa.Column("task_key", sa.String(length=255), nullable=True),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("outcome_code", sa.String(length=40), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("completed_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("written_back", sa.Boolean(), nullable=False),
        sa.Column("written_back_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
        sa.UniqueConstraint("salesforce_task_id", name=op.f("uq_outcomes_salesforce_task_id")),
    )
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcomes_case_key"), ["case_key"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outcomes_written_back"), ["written_back"], unique=False
        )

    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("promise_key", sa.String(length=255), nullable=False),
        sa.Column("customer_id", sa.String(length=255), nullable=False),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("promised_date", sa.Date(), nullable=False),
        sa.Column("amount", sfsync.store.types.Money(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "kept",
                "partially_kept",
                "broken",
                name="promise_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("source_task_id", sa.String(length=18), nullable=True),
        sa.Column("created_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("judged_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
        sa.UniqueConstraint("promise_key", name=op.f("uq_promises_promise_key")),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promises_case_key"), ["case_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_promises_status"), ["status"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("started_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                name="run_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("api_calls", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("schedule_key", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        sa.UniqueConstraint("schedule_key", name=op.f("uq_sync_runs_schedule_key")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_runs_kind_source_started_at"),
            ["kind", "source", "started_at"],
            unique=False,
        )

    op.create_table(
        "task_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_key", sa.String(length=255), nullable=False),
        sa.Column("salesforce_id", sa.String(length=18), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "sent",
                "created",
                "closed",
                "failed",
                "unknown",
                name="task_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_ledger")),
        sa.UniqueConstraint("task_key", name=op.f("uq_task_ledger_task_key")),
    )
    with op.batch_alter_table("task_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_task_ledger_case_key"), ["case_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_task_ledger_state"), ["state"], unique=False)

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("sobject", sa.String(length=80), nullable=False),
        sa.Column("record_key", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(length=80), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_dead_letters_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            "uq_dead_letters_open",
            ["sobject", "record_key", "operation"],
            unique=True,
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        )

    op.create_table(
        "quarantined_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("row_key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("first_seen", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_quarantined_rows_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantined_rows")),
        sa.UniqueConstraint("source", "row_key", name=op.f("uq_quarantined_rows_source_row_key")),
    )
    op.create_table(
        "watermarks",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("value_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sync_runs.id"],
            name=op.f("fk_watermarks_run_id_sync_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("source", "stream", name=op.f("pk_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("watermarks")
    op.drop_table("quarantined_rows")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_dead_letters_open",
            sqlite_where=sa.text("resolved_at IS NULL"),
            postgresql_where=sa.text("resolved_at IS NULL"),
        )

    op.drop_table("dead_letters")
    with op.batch_alter_table("task_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_task_ledger_state"))
        batch_op.drop_index(batch_op.f("ix_task_ledger_case_key"))

    op.drop_table("task_ledger")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_kind_source_started_at"))

    op.drop_table("sync_runs")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_promises_status"))
        batch_op.drop_index(batch_op.f("ix_promises_case_key"))

    op.drop_table("promises")
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcomes_written_back"))
        batch_op.drop_index(batch_op.f("ix_outcomes_case_key"))

    op.drop_table("outcomes")
    with op.batch_alter_table("invoice_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_links_case_key"))

    op.drop_table("invoice_links")
    op.drop_table("account_links")
    op.drop_table("account_leases")
