"""Run status ``stopped_budget``: a run that stopped writing at the API budget's reserve.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_CONSTRAINT = "ck_sync_runs_run_status"
_WITH_BUDGET = "status IN ('running', 'succeeded', 'failed', 'stopped_budget')"
_WITHOUT_BUDGET = "status IN ('running', 'succeeded', 'failed')"


def upgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(_CONSTRAINT), _WITH_BUDGET)


def downgrade() -> None:
    # Older code knows no stopped_budget: such runs go back to failed, as it recorded them.
    op.execute("UPDATE sync_runs SET status = 'failed' WHERE status = 'stopped_budget'")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(_CONSTRAINT), type_="check")
        batch_op.create_check_constraint(op.f(_CONSTRAINT), _WITHOUT_BUDGET)
