"""Initial schema: API tokens, snippets, snippet versions, executions.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_LIVE = sa.text("deleted_at IS NULL")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_table(
        "snippets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("hook_token", sa.String(64), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("deleted_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_snippets"),
    )
    op.create_index(
        "uq_snippets_name_live",
        "snippets",
        ["name"],
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    )
    op.create_table(
        "snippet_versions",
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        sa.Column("created_by", sa.String(100), nullable=True),
        sa.Column("rolled_back_from", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["snippet_id"], ["snippets.id"], name="fk_snippet_versions_snippet_id_snippets"
        ),
        sa.PrimaryKeyConstraint("snippet_id", "number", name="pk_snippet_versions"),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(26), nullable=False),
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("snippet_name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("hs_execution_state", sa.String(32), nullable=True),
        sa.Column("callback_id", sa.String(255), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("object_type", sa.String(64), nullable=True),
        sa.Column("object_id", sa.String(64), nullable=True),
        sa.Column("portal_id", sa.String(64), nullable=True),
        sa.Column("event", sa.JSON(), nullable=True),
        sa.Column("output_fields", sa.JSON(), nullable=True),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("cpu_ms", sa.Float(), nullable=True),
        sa.Column("memory_kb", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempt_log", sa.JSON(), nullable=False),
        sa.Column("writeback", sa.JSON(), nullable=True),
        sa.Column("callback", sa.JSON(), nullable=True),
        _timestamp("created_at"),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["snippet_id"], ["snippets.id"], name="fk_executions_snippet_id_snippets"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        sa.UniqueConstraint(
            "snippet_id", "idempotency_key", name="uq_executions_snippet_id_idempotency_key"
        ),
    )
    op.create_index("ix_executions_created_at_id", "executions", ["created_at", "id"])
    op.create_index(
        "ix_executions_snippet_name_created_at", "executions", ["snippet_name", "created_at"]
    )
    op.create_index("ix_executions_status_created_at", "executions", ["status", "created_at"])
    op.create_index("ix_executions_object_id_created_at", "executions", ["object_id", "created_at"])


def downgrade() -> None:
    op.drop_table("executions")
    op.drop_table("snippet_versions")
    op.drop_index("uq_snippets_name_live", table_name="snippets")
    op.drop_table("snippets")
    op.drop_table("api_tokens")
