"""Job leases: one row per flow naming the `serve` replica allowed to run it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the job_leases table."""
    op.create_table(
        "job_leases",
        sa.Column("flow", sa.String(80), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("acquired_at", UtcDateTime(), nullable=True),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("released_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    """Drop the job_leases table."""
    op.drop_table("job_leases")
