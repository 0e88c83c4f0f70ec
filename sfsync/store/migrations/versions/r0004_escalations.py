"""Escalations: one row per escalation key (Case and level), claimed before any write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sfsync.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("case_key", sa.String(length=255), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=18), nullable=True),
        sa.Column("task_id", sa.String(length=18), nullable=True),
        sa.Column("feed_item_id", sa.String(length=18), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "planned",
                "sent",
                "applied",
                name="escalation_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("settled_by", sa.String(length=255), nullable=True),
        sa.Column("feed_body", sa.Text(), nullable=True),
        sa.Column("alert", sa.JSON(), nullable=True),
        sa.Column(
            "alert_state",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="alert_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("alert_runs", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("key", name=op.f("uq_escalations_key")),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalations_case_key"), ["case_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_escalations_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_state"))
        batch_op.drop_index(batch_op.f("ix_escalations_case_key"))

    op.drop_table("escalations")
