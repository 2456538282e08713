"""Initial state store: canonical records, xref, cursors, runs, error queue, conflict log.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import JsonColumn, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of the first release."""
    op.create_table(
        "canonical_records",
        sa.Column("canonical_id", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("payload", JsonColumn, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False),
        sa.Column("source_object", sa.String(80), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("source_modified_at", UtcDateTime(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_canonical_records_entity", "canonical_records", ["entity"])
    op.create_table(
        "xref",
        sa.Column("system", sa.String(40), primary_key=True),
        sa.Column("canonical_id", sa.String(64), primary_key=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("object_name", sa.String(80), nullable=False),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("last_written_hash", sa.String(64), nullable=True),
        sa.Column("last_written_at", UtcDateTime(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint(
            "system", "entity", "external_id", name="uq_xref_system_entity_external"
        ),
    )
    op.create_table(
        "cursors",
        sa.Column("flow", sa.String(80), primary_key=True),
        sa.Column("system", sa.String(40), primary_key=True),
        sa.Column("entity", sa.String(40), primary_key=True),
        sa.Column("position", JsonColumn, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("flow", sa.String(80), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("stats", JsonColumn, nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
    )
    op.create_index("ix_runs_flow", "runs", ["flow"])
    op.create_table(
        "error_queue",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("flow", sa.String(80), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("source_system", sa.String(40), nullable=False),
        sa.Column("source_object", sa.String(80), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("canonical_id", sa.String(64), nullable=True),
        sa.Column("target_system", sa.String(40), nullable=False, server_default=""),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("error_class", sa.String(60), nullable=False),
        sa.Column("code", sa.String(80), nullable=False, server_default=""),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", JsonColumn, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_error_queue_status", "error_queue", ["status"])
    op.create_index(
        "ix_error_queue_record",
        "error_queue",
        ["entity", "source_system", "source_id", "target_system", "status"],
    )
    op.create_table(
        "conflict_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("canonical_id", sa.String(64), nullable=False),
        sa.Column("target_system", sa.String(40), nullable=False),
        sa.Column("field", sa.String(120), nullable=False),
        sa.Column("base_value", JsonColumn, nullable=True),
        sa.Column("source_value", JsonColumn, nullable=True),
        sa.Column("target_value", JsonColumn, nullable=True),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_conflict_log_canonical_id", "conflict_log", ["canonical_id"])


def downgrade() -> None:
    """Drop everything the upgrade created."""
    for table in ("conflict_log", "error_queue", "runs", "cursors", "xref", "canonical_records"):
        op.drop_table(table)
