"""Keep what revbridge last wrote to each target (the base of three-way merges); held conflicts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import JsonColumn, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CONFLICT_COLUMNS = (
    "source_system",
    "source_id",
    "policy",
    "status",
    "resolution",
    "resolved_at",
    "held_payload",
)


def upgrade() -> None:
    """Add xref.last_written_payload/last_source_payload and the conflict log's workflow columns."""
    with op.batch_alter_table("xref") as batch:
        batch.add_column(sa.Column("last_written_payload", JsonColumn, nullable=True))
        batch.add_column(sa.Column("last_source_payload", JsonColumn, nullable=True))
    with op.batch_alter_table("conflict_log") as batch:
        batch.add_column(sa.Column("source_system", sa.String(40), nullable=True))
        batch.add_column(sa.Column("source_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("policy", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(20), nullable=False, server_default="decided")
        )
        batch.add_column(sa.Column("resolution", sa.String(20), nullable=True))
        batch.add_column(sa.Column("resolved_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("held_payload", JsonColumn, nullable=True))
    op.create_index("ix_conflict_log_status", "conflict_log", ["status"])


def downgrade() -> None:
    """Drop what the upgrade added."""
    op.drop_index("ix_conflict_log_status", "conflict_log")
    with op.batch_alter_table("conflict_log") as batch:
        for column in reversed(_CONFLICT_COLUMNS):
            batch.drop_column(column)
    with op.batch_alter_table("xref") as batch:
        batch.drop_column("last_source_payload")
        batch.drop_column("last_written_payload")
