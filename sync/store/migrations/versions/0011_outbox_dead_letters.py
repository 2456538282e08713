"""Dead letters of the outbox: events a sink gave up on, per sink, until they are requeued.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import UtcDateTime

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``outbox_dead_letters``."""
    op.create_table(
        "outbox_dead_letters",
        sa.Column("sink", sa.String(80), primary_key=True),
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("dead_lettered_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("outbox_dead_letters")
