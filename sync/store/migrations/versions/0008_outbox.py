"""The change-event outbox: events written with each page, and which sinks acknowledged them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import JsonColumn, UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the outbox, its per-sink deliveries and the sinks' failure state."""
    op.create_table(
        "outbox_events",
        sa.Column("sequence", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("flow", sa.String(80), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("change", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("data", JsonColumn, nullable=False),
    )
    op.create_table(
        "outbox_deliveries",
        sa.Column("sink", sa.String(80), primary_key=True),
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("published_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "outbox_sinks",
        sa.Column("sink", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_failed_at", UtcDateTime(), nullable=True),
        sa.Column("last_published_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("outbox_sinks")
    op.drop_table("outbox_deliveries")
    op.drop_table("outbox_events")
