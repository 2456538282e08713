"""Job leases in the store: which `serve` replica may run a flow, taken with row locks.

A lease is free when it has no owner or its expiry has passed. Taking one locks the flow's row
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so a replica never waits on another) and
then updates it with the same condition, so the update alone decides on SQLite, where one file
has one writer and ``FOR UPDATE`` is not rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sync.store.schema import RunStatus, job_leases, runs


@dataclass(frozen=True)
class LeaseRow:
    """A flow's lease as stored."""

    flow: str
    owner: str | None
    acquired_at: datetime | None
    heartbeat_at: datetime | None
    expires_at: datetime | None
    released_at: datetime | None

    def held_at(self, now: datetime) -> bool:
        """True when an owner holds the lease and it has not expired at ``now``."""
        return self.owner is not None and self.expires_at is not None and self.expires_at > now


def _ensure_row(connection: sa.Connection, flow: str) -> None:
    # Writing first also takes SQLite's write lock up front, so the read that follows can't be
    # invalidated by another writer (which busy_timeout would not retry).
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    connection.execute(insert(job_leases).values(flow=flow).on_conflict_do_nothing())


def _free_at(now: datetime) -> sa.ColumnElement[bool]:
    # Not re-entrant: an owner that holds the lease is busy with the flow, even in its own
    # process (a resume check and a cron firing must not run the flow twice at once).
    return sa.or_(job_leases.c.owner.is_(None), job_leases.c.expires_at <= now)


def _expired_at(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(job_leases.c.owner.is_not(None), job_leases.c.expires_at <= now)


def try_acquire(
    connection: sa.Connection,
    flow: str,
    owner: str,
    ttl: timedelta,
    now: datetime,
    *,
    only_expired: bool = False,
) -> LeaseRow | None:
    """Take the flow's lease for ``owner``; the row as it was before, or None when it's held.

    ``only_expired`` takes it only from a holder whose lease ran out (a crashed replica), not
    from nobody: a lease released normally means its run finished and needs no resuming.
    """
    _ensure_row(connection, flow)
    condition = _expired_at(now) if only_expired else _free_at(now)
    locked = connection.execute(
        sa.select(job_leases)
        .where(job_leases.c.flow == flow, condition)
        .with_for_update(skip_locked=True)
    ).first()
    if locked is None:
        return None
    taken = connection.execute(
        sa.update(job_leases)
        .where(job_leases.c.flow == flow, condition)
        .values(owner=owner, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
    )
    if taken.rowcount != 1:
        return None
    return LeaseRow(**locked._asdict())


def renew(connection: sa.Connection, flow: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Push the expiry of ``owner``'s lease forward; False when ``owner`` no longer holds it."""
    renewed = connection.execute(
        sa.update(job_leases)
        .where(job_leases.c.flow == flow, job_leases.c.owner == owner)
        .values(heartbeat_at=now, expires_at=now + ttl)
    )
    return renewed.rowcount == 1


def release(connection: sa.Connection, flow: str, owner: str, now: datetime) -> bool:
    """Give the lease back; False when ``owner`` had already lost it."""
    released = connection.execute(
        sa.update(job_leases)
        .where(job_leases.c.flow == flow, job_leases.c.owner == owner)
        .values(owner=None, expires_at=None, released_at=now)
    )
    return released.rowcount == 1


def fail_abandoned_runs(
    connection: sa.Connection, previous: LeaseRow, now: datetime, message: str
) -> int:
    """Mark runs a crashed holder left ``running`` as failed; the number of runs marked."""
    if previous.owner is None or previous.acquired_at is None:
        return 0
    marked = connection.execute(
        sa.update(runs)
        .where(
            runs.c.flow == previous.flow,
            runs.c.status == RunStatus.RUNNING.value,
            runs.c.started_at >= previous.acquired_at,
        )
        .values(status=RunStatus.FAILED.value, finished_at=now, message=message)
    )
    return int(marked.rowcount)


def list_leases(connection: sa.Connection) -> dict[str, LeaseRow]:
    """Every flow's lease row by flow name."""
    rows = connection.execute(sa.select(job_leases).order_by(job_leases.c.flow))
    return {row.flow: LeaseRow(**row._asdict()) for row in rows}


def load_lease(connection: sa.Connection, flow: str) -> LeaseRow | None:
    """The flow's lease row, or None when no replica ever took it."""
    row = connection.execute(sa.select(job_leases).where(job_leases.c.flow == flow)).first()
    return LeaseRow(**row._asdict()) if row is not None else None
