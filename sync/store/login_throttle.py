"""Failed console logins, counted per user name and per client address within a window.

Counting rows (not a counter per key) keeps the window exact and the writes conflict-free
between replicas; rows older than the window are pruned as new failures arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from sync.store.database import Store
from sync.store.user_sessions import digest
from sync.store.user_tables import console_login_failures as failures


def user_key(name: str) -> str:
    """The throttle key of a user name: a digest, so any text typed there fits the column."""
    return f"user:{digest(name)}"


def address_key(address: str) -> str:
    """The throttle key of a client address."""
    return f"address:{digest(address)}"


def failure_counts(store: Store, keys: Sequence[str], since: datetime) -> dict[str, int]:
    """Key -> failed logins since ``since`` (keys with none are left out)."""
    query = (
        sa.select(failures.c.throttle_key, sa.func.count())
        .where(failures.c.throttle_key.in_(list(keys)), failures.c.failed_at >= since)
        .group_by(failures.c.throttle_key)
    )
    with store.engine.connect() as connection:
        return {str(row[0]): int(row[1]) for row in connection.execute(query)}


def record_failure(store: Store, keys: Sequence[str], now: datetime, since: datetime) -> None:
    """Count one failed login against each key; forget failures from before ``since``."""
    with store.transaction() as connection:
        connection.execute(failures.delete().where(failures.c.failed_at < since))
        connection.execute(
            failures.insert(), [{"throttle_key": key, "failed_at": now} for key in keys]
        )


def clear_failures(store: Store, key: str) -> None:
    """Forget ``key``'s failures (a user who signed in starts afresh)."""
    with store.transaction() as connection:
        connection.execute(failures.delete().where(failures.c.throttle_key == key))
