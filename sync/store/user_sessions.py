"""Console sessions: opened at login, found on each request, ended by logout or disable.

A browser first gets a session with no user (the login form's CSRF token rides on it). Login
deletes that session and opens a new one under a new id in one transaction, so an id a
browser held before login (perhaps planted by someone else) opens nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from sync.store.database import Store
from sync.store.user_tables import console_sessions, console_users
from sync.store.users import USER_COLUMNS, ConsoleUserRow, user_from_row


@dataclass(frozen=True)
class OpenedSession:
    """A new session: its id (for the cookie only; stored as a digest) and CSRF token."""

    session_id: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class FoundSession:
    """A live session: its user (None before login) and CSRF token."""

    user: ConsoleUserRow | None
    csrf_token: str


def digest(secret: str) -> str:
    """The SHA-256 hex digest a session id or API token is stored under."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _open(
    connection: sa.Connection, user_name: str | None, now: datetime, lifetime: timedelta
) -> OpenedSession:
    opened = OpenedSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + lifetime)
    connection.execute(
        console_sessions.insert().values(
            id_digest=digest(opened.session_id),
            user_name=user_name,
            csrf_token=opened.csrf_token,
            created_at=now,
            expires_at=opened.expires_at,
        )
    )
    return opened


def open_session(
    store: Store, user_name: str | None, now: datetime, lifetime: timedelta
) -> OpenedSession:
    """A new session for ``user_name`` (None: the login form's, before anyone signed in)."""
    with store.transaction() as connection:
        # Expired sessions go as new ones come, so the table holds only live ones and a few.
        connection.execute(console_sessions.delete().where(console_sessions.c.expires_at < now))
        return _open(connection, user_name, now, lifetime)


def rotate_session(
    store: Store, old_session_id: str | None, user_name: str, now: datetime, lifetime: timedelta
) -> OpenedSession:
    """End ``old_session_id`` (if any) and open a new session for ``user_name``, at once."""
    with store.transaction() as connection:
        if old_session_id is not None:
            connection.execute(
                console_sessions.delete().where(
                    console_sessions.c.id_digest == digest(old_session_id)
                )
            )
        return _open(connection, user_name, now, lifetime)


def find_session(store: Store, session_id: str, now: datetime) -> FoundSession | None:
    """The live session ``session_id`` names; None if unknown, expired or its user disabled."""
    query = (
        sa.select(
            console_sessions.c.user_name,
            console_sessions.c.csrf_token,
            *USER_COLUMNS,
        )
        .select_from(console_sessions.outerjoin(console_users))
        .where(
            console_sessions.c.id_digest == digest(session_id),
            console_sessions.c.expires_at > now,
        )
    )
    with store.engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None:
        return None
    if row.user_name is None:
        return FoundSession(None, row.csrf_token)
    user = user_from_row(row[2:])
    return FoundSession(user, row.csrf_token) if user.active else None


def end_session(store: Store, session_id: str) -> None:
    """Forget ``session_id`` (logout); nothing happens for an unknown id."""
    with store.transaction() as connection:
        connection.execute(
            console_sessions.delete().where(console_sessions.c.id_digest == digest(session_id))
        )
