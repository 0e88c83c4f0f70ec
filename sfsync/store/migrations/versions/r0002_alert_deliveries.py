"""Alert deliveries: one row per alert (or digest) per channel and recipient, de-duplicated.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sfsync.store.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=18), nullable=True),
        sa.Column("case_number", sa.String(length=40), nullable=True),
        sa.Column("threshold", sa.String(length=64), nullable=True),
        sa.Column("digest_date", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sent",
                "failed",
                name="delivery_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sfsync.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("key", name=op.f("uq_alert_deliveries_key")),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_status_updated_at"),
            ["status", "updated_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_deliveries_status_updated_at"))

    op.drop_table("alert_deliveries")
