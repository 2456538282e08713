"""An index that covers the overview's grouping of open errors.

The overview counts open entries by flow, entity, system and class on every visit; with this
index PostgreSQL answers from the index alone instead of reading every row of the queue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = ["status", "flow", "entity", "error_class", "target_system", "source_system"]


def upgrade() -> None:
    """Create the covering index."""
    op.create_index("ix_error_queue_open_groups", "error_queue", _COLUMNS)


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_error_queue_open_groups", "error_queue")
