"""The console's users, sessions, API tokens and failed logins.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sync.store.schema import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four tables of :mod:`sync.store.user_tables`."""
    op.create_table(
        "console_users",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("disabled_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id_digest", sa.String(64), primary_key=True),
        sa.Column(
            "user_name",
            sa.String(80),
            sa.ForeignKey("console_users.name", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user_name"])
    op.create_index("ix_console_sessions_expires", "console_sessions", ["expires_at"])
    op.create_table(
        "console_api_tokens",
        sa.Column("token_id", sa.String(24), primary_key=True),
        sa.Column("secret_digest", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "user_name",
            sa.String(80),
            sa.ForeignKey("console_users.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "console_login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("throttle_key", sa.String(300), nullable=False),
        sa.Column("failed_at", UtcDateTime(), nullable=False),
    )
    op.create_index(
        "ix_console_login_failures_key", "console_login_failures", ["throttle_key", "failed_at"]
    )


def downgrade() -> None:
    """Drop the four tables."""
    op.drop_table("console_login_failures")
    op.drop_table("console_api_tokens")
    op.drop_table("console_sessions")
    op.drop_table("console_users")
