"""The audit table, "decisions stick" columns on the error queue, and the console's indexes.

The console pages the error queue by keyset (a seek on an index, never OFFSET), finds a record's
journey by any system's id, and groups runs and conflicts for the overview; each index below
serves one of those queries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ERROR_COLUMNS = ("payload_fingerprint", "mapping_version", "closed_by", "previous_id")

# (name, table, columns): keyset pages of the error queue per sort, journeys by any id, run
# detail and the overview.
_INDEXES = (
    ("ix_error_queue_status_id", "error_queue", ["status", "id"]),
    ("ix_error_queue_created_id", "error_queue", ["created_at", "id"]),
    ("ix_error_queue_status_created_id", "error_queue", ["status", "created_at", "id"]),
    ("ix_error_queue_updated_id", "error_queue", ["updated_at", "id"]),
    ("ix_error_queue_status_updated_id", "error_queue", ["status", "updated_at", "id"]),
    ("ix_error_queue_attempts_id", "error_queue", ["attempts", "id"]),
    ("ix_error_queue_source_id", "error_queue", ["source_id"]),
    ("ix_error_queue_canonical_id", "error_queue", ["canonical_id"]),
    ("ix_error_queue_run_id", "error_queue", ["run_id"]),
    ("ix_xref_external_id", "xref", ["external_id"]),
    ("ix_xref_canonical_id", "xref", ["canonical_id"]),
    ("ix_canonical_records_source_id", "canonical_records", ["source_id"]),
    ("ix_conflict_log_status_id", "conflict_log", ["status", "id"]),
    ("ix_conflict_log_run_id", "conflict_log", ["run_id"]),
    ("ix_runs_flow_id", "runs", ["flow", "id"]),
    ("ix_runs_started_at", "runs", ["started_at"]),
)


def upgrade() -> None:
    """Create the audit and attempt tables, add the error queue's columns and the indexes."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "audit_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit_log.id"), nullable=False),
        sa.Column("error_id", sa.Integer(), nullable=True),
        sa.Column("conflict_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(40), nullable=True),
        sa.Column("canonical_id", sa.String(64), nullable=True),
        sa.Column("source_system", sa.String(40), nullable=True),
        sa.Column("source_id", sa.String(255), nullable=True),
    )
    for column in ("audit_id", "error_id", "canonical_id", "source_id"):
        op.create_index(f"ix_audit_records_{column}", "audit_records", [column])
    op.create_table(
        "error_attempts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("error_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("error_class", sa.String(60), nullable=False),
        sa.Column("code", sa.String(80), nullable=False, server_default=""),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_error_attempts_error_id", "error_attempts", ["error_id"])
    with op.batch_alter_table("error_queue") as batch:
        batch.add_column(sa.Column("payload_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("mapping_version", sa.String(64), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("previous_id", sa.Integer(), nullable=True))
    for name, table, columns in _INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    """Drop what the upgrade added."""
    for name, table, _columns in reversed(_INDEXES):
        op.drop_index(name, table)
    with op.batch_alter_table("error_queue") as batch:
        for column in reversed(_ERROR_COLUMNS):
            batch.drop_column(column)
    op.drop_table("error_attempts")
    op.drop_table("audit_records")
    op.drop_table("audit_log")
