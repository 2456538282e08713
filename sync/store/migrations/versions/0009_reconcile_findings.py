"""The findings table of `revbridge reconcile` (see :mod:`sync.store.findings`).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import JsonColumn, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the findings table and its scope index."""
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("finding_key", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("flow", sa.String(80), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("system", sa.String(40), nullable=False),
        sa.Column("canonical_id", sa.String(64), nullable=True, index=True),
        sa.Column("system_ids", JsonColumn, nullable=False),
        sa.Column("field", sa.String(120), nullable=True),
        sa.Column("expected_value", JsonColumn, nullable=True),
        sa.Column("actual_value", JsonColumn, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("amount_at_risk_minor", sa.BigInteger(), nullable=True),
        sa.Column("reporting_currency", sa.String(3), nullable=True),
        sa.Column("reporting_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("first_seen", UtcDateTime(), nullable=False),
        sa.Column("last_seen", UtcDateTime(), nullable=False),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_findings_scope", "findings", ["flow", "entity", "resolved_at"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_findings_scope", "findings")
    op.drop_table("findings")
