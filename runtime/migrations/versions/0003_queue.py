"""Queue work on executions: delivery state, next attempt time and worker lease.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("delivery", sa.String(32), nullable=True))
        table.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_executions_delivery", "executions", ["delivery"])


def downgrade() -> None:
    op.drop_index("ix_executions_delivery", table_name="executions")
    with op.batch_alter_table("executions") as table:
        table.drop_column("lease_until")
        table.drop_column("next_attempt_at")
        table.drop_column("delivery")
