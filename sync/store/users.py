"""Console users: add, list, disable, change a password hash, look one up.

Disabling a user or changing their password ends every session they hold in the same
transaction, so the change takes effect on their next request, not when a cookie expires.
The password hash comes from the caller; the store never sees a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast, get_args

import sqlalchemy as sa

from sync.store.database import Store
from sync.store.user_tables import console_sessions, console_users

Role = Literal["viewer", "support", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
# Letters, digits and . _ @ - : fits a login name or an e-mail address a proxy sends.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}")


class UserError(Exception):
    """A user can't be added or changed; the message says why."""


@dataclass(frozen=True)
class ConsoleUserRow:
    """One stored console user."""

    name: str
    role: Role
    password_hash: str | None
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether the user may sign in."""
        return self.disabled_at is None


def valid_user_name(name: str) -> bool:
    """Whether ``name`` is a user name the console accepts."""
    return _NAME.fullmatch(name) is not None


def user_from_row(row: sa.Row[Any] | tuple[Any, ...]) -> ConsoleUserRow:
    """A user from a row of its five columns, in table order."""
    name, role, password_hash, created_at, disabled_at = tuple(row)
    return ConsoleUserRow(name, cast(Role, role), password_hash, created_at, disabled_at)


# A user row's columns in the order user_from_row reads them.
USER_COLUMNS = (
    console_users.c.name,
    console_users.c.role,
    console_users.c.password_hash,
    console_users.c.created_at,
    console_users.c.disabled_at,
)


def add_user(store: Store, name: str, role: Role, password_hash: str, now: datetime) -> None:
    """Add an active user; raises UserError for a bad name or role or a name taken."""
    if not valid_user_name(name):
        raise UserError(f"user name {name!r} is not valid: use letters, digits and . _ @ -")
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    with store.transaction() as connection:
        if connection.execute(sa.select(console_users.c.name).filter_by(name=name)).first():
            raise UserError(f"user {name} exists already")
        connection.execute(
            console_users.insert().values(
                name=name, role=role, password_hash=password_hash, created_at=now
            )
        )


def find_user(store: Store, name: str) -> ConsoleUserRow | None:
    """The user called ``name``, active or not."""
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(*USER_COLUMNS).filter_by(name=name)).first()
    return None if row is None else user_from_row(row)


def list_users(store: Store) -> list[ConsoleUserRow]:
    """Every user, by name."""
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(*USER_COLUMNS).order_by(console_users.c.name)).all()
    return [user_from_row(row) for row in rows]


def disable_user(store: Store, name: str, now: datetime) -> None:
    """Stop ``name`` signing in and end their sessions; raises UserError for no such user."""
    with store.transaction() as connection:
        changed = connection.execute(
            console_users.update()
            .where(console_users.c.name == name)
            .values(disabled_at=sa.func.coalesce(console_users.c.disabled_at, now))
        ).rowcount
        if not changed:
            raise UserError(f"no user {name}")
        connection.execute(console_sessions.delete().where(console_sessions.c.user_name == name))


def set_password_hash(store: Store, name: str, password_hash: str) -> None:
    """Replace ``name``'s password and end their sessions; raises UserError for no such user."""
    with store.transaction() as connection:
        changed = connection.execute(
            console_users.update()
            .where(console_users.c.name == name)
            .values(password_hash=password_hash)
        ).rowcount
        if not changed:
            raise UserError(f"no user {name}")
        connection.execute(console_sessions.delete().where(console_sessions.c.user_name == name))
