"""Keep each record's raw source payload; remember mapping fingerprints per flow.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import JsonColumn, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add canonical_records.source_payload and the mapping_fingerprints table."""
    with op.batch_alter_table("canonical_records") as batch:
        batch.add_column(sa.Column("source_payload", JsonColumn, nullable=True))
    op.create_table(
        "mapping_fingerprints",
        sa.Column("flow", sa.String(80), primary_key=True),
        sa.Column("system", sa.String(40), primary_key=True),
        sa.Column("entity", sa.String(40), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop what the upgrade added."""
    op.drop_table("mapping_fingerprints")
    with op.batch_alter_table("canonical_records") as batch:
        batch.drop_column("source_payload")
