"""Disputes: invoices reps reported disputed, and each account's dispute Case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sfsync.store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "invoice_disputes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_key", sa.String(length=255), nullable=False),
        sa.Column("account_key", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("salesforce_task_id", sa.String(length=18), nullable=True),
        sa.Column("seen_in_source", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_disputes")),
        sa.UniqueConstraint("invoice_key", name=op.f("uq_invoice_disputes_invoice_key")),
    )
    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_invoice_disputes_account_key"), ["account_key"], unique=False
        )
    op.create_table(
        "dispute_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.String(length=255), nullable=False),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("salesforce_id", sa.String(length=18), nullable=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_cases")),
        sa.UniqueConstraint("account_key", name=op.f("uq_dispute_cases_account_key")),
    )


def downgrade() -> None:
    op.drop_table("dispute_cases")
    with op.batch_alter_table("invoice_disputes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_disputes_account_key"))
    op.drop_table("invoice_disputes")
