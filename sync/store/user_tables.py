"""The console's tables: its users, their sessions, API tokens, and failed logins.

Session ids and API tokens are kept only as SHA-256 digests: they are long random values (no
dictionary to guess from), so a fast digest is enough, and a copy of the database opens no
session. Passwords are argon2 hashes made by the console (:mod:`sync.console.passwords`).
"""

from __future__ import annotations

import sqlalchemy as sa

from sync.store.schema import UtcDateTime, metadata

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("name", sa.String(80), primary_key=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("disabled_at", UtcDateTime(), nullable=True),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_digest", sa.String(64), primary_key=True),
    # NULL until login: the login form's own session carries only its CSRF token.
    sa.Column(
        "user_name",
        sa.String(80),
        sa.ForeignKey("console_users.name", ondelete="CASCADE"),
        nullable=True,
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),
    sa.Index("ix_console_sessions_user", "user_name"),
    sa.Index("ix_console_sessions_expires", "expires_at"),
)

console_api_tokens = sa.Table(
    "console_api_tokens",
    metadata,
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

console_login_failures = sa.Table(
    "console_login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # "user:<name>" or "address:<ip>": one table throttles both ways.
    sa.Column("throttle_key", sa.String(300), nullable=False),
    sa.Column("failed_at", UtcDateTime(), nullable=False),
    sa.Index("ix_console_login_failures_key", "throttle_key", "failed_at"),
)
