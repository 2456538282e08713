"""API tokens for scripts: issued to a user, carry that user's role, stored as digests.

A token reads ``rbt_<token id>_<secret>``: the id names it for ``users revoke-token`` and
in listings without revealing it; the whole token is stored only as its SHA-256 digest.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from sync.store.database import Store
from sync.store.user_sessions import digest
from sync.store.user_tables import console_api_tokens, console_users
from sync.store.users import USER_COLUMNS, ConsoleUserRow, UserError, user_from_row

TOKEN_PREFIX = "rbt_"  # noqa: S105 - a marker for secret scanners, not a secret


@dataclass(frozen=True)
class IssuedToken:
    """A new token: shown once, never stored as it is."""

    token_id: str
    token: str


def issue_token(store: Store, user_name: str, now: datetime) -> IssuedToken:
    """A new token for an active ``user_name``; raises UserError otherwise."""
    token_id = secrets.token_hex(8)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    with store.transaction() as connection:
        user = connection.execute(
            sa.select(console_users.c.disabled_at).where(console_users.c.name == user_name)
        ).first()
        if user is None:
            raise UserError(f"no user {user_name}")
        if user.disabled_at is not None:
            raise UserError(f"user {user_name} is disabled")
        connection.execute(
            console_api_tokens.insert().values(
                token_id=token_id, secret_digest=digest(token), user_name=user_name, created_at=now
            )
        )
    return IssuedToken(token_id, token)


def find_token_user(store: Store, token: str) -> ConsoleUserRow | None:
    """The active user a live ``token`` belongs to; None for a revoked or unknown token."""
    query = (
        sa.select(
            *USER_COLUMNS,
        )
        .select_from(console_api_tokens.join(console_users))
        .where(
            console_api_tokens.c.secret_digest == digest(token),
            console_api_tokens.c.revoked_at.is_(None),
            console_users.c.disabled_at.is_(None),
        )
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    return None if row is None else user_from_row(row)


def revoke_token(store: Store, token_id: str, now: datetime) -> None:
    """Revoke the token ``token_id``; raises UserError when there is no such live token."""
    with store.transaction() as connection:
        revoked = connection.execute(
            console_api_tokens.update()
            .where(
                console_api_tokens.c.token_id == token_id,
                console_api_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    if not revoked:
        raise UserError(f"no live API token {token_id}")


def live_token_counts(store: Store) -> dict[str, int]:
    """User name -> how many unrevoked tokens they hold."""
    query = (
        sa.select(console_api_tokens.c.user_name, sa.func.count())
        .where(console_api_tokens.c.revoked_at.is_(None))
        .group_by(console_api_tokens.c.user_name)
    )
    with store.engine.connect() as connection:
        return {str(row[0]): int(row[1]) for row in connection.execute(query)}
