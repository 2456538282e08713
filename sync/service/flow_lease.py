"""A flow's lease held by this process: taken, kept alive by heartbeats, and given back.

Heartbeats come from two places: after every committed page (the run is visibly alive) and
from a timer thread (a long page, or a slow target, must not let the lease lapse).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from sync.store import Store
from sync.store.leases import (
    LeaseRow,
    fail_abandoned_runs,
    load_lease,
    release,
    renew,
    try_acquire,
)
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.serve")

Clock = Callable[[], datetime]


def replica_id() -> str:
    """A name for this process among replicas: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class FlowLease:
    """One flow's lease for one owner, renewed by heartbeats while its run goes on."""

    def __init__(
        self,
        store: Store,
        flow: str,
        owner: str,
        *,
        ttl: timedelta,
        heartbeat_seconds: float,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self.flow = flow
        self.owner = owner
        self._ttl = ttl
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self._on_lost: Callable[[], None] | None = None
        self._held = False
        self._stop_heartbeat = threading.Event()
        self._heartbeat: threading.Thread | None = None

    @property
    def held(self) -> bool:
        """True while this owner believes it holds the lease."""
        return self._held

    def acquire(self, *, only_expired: bool = False) -> bool:
        """Take the lease; ``only_expired`` takes it only from a holder that crashed."""
        now = self._clock()
        with self._store.transaction() as connection:
            previous = try_acquire(
                connection, self.flow, self.owner, self._ttl, now, only_expired=only_expired
            )
            if previous is None:
                return False
            self._take_over(connection, previous, now)
        self._held = True
        return True

    def acquire_from_dead_local_holder(self) -> bool:
        """Take the lease from a holder on this host whose process is gone (a killed `run`).

        A holder elsewhere, or one whose pid is alive, keeps the lease until it expires.
        """
        with self._store.engine.connect() as connection:
            lease = load_lease(connection, self.flow)
        if lease is None or lease.owner is None or lease.expires_at is None:
            return self.acquire()
        host, _, rest = lease.owner.partition(":")
        pid_text = rest.partition(":")[0]
        if host != socket.gethostname() or not pid_text.isdigit() or _alive(int(pid_text)):
            return False
        # As if the dead holder's lease had run out: the takeover then fails its runs as
        # abandoned, exactly as a replica does after expiry.
        now = max(self._clock(), lease.expires_at + timedelta(milliseconds=1))
        with self._store.transaction() as connection:
            previous = try_acquire(
                connection, self.flow, self.owner, self._ttl, now, only_expired=True
            )
            if previous is None:
                return False
            self._take_over(connection, previous, now)
        self._held = True
        return True

    def holder_expiry(self) -> datetime | None:
        """When another holder's lease runs out if not renewed; None when nobody holds it."""
        with self._store.engine.connect() as connection:
            lease = load_lease(connection, self.flow)
        if lease is None or not lease.held_at(self._clock()):
            return None
        return lease.expires_at

    def _take_over(self, connection: sa.Connection, previous: LeaseRow, now: datetime) -> None:
        if previous.owner is None or previous.owner == self.owner:
            return
        message = f"abandoned: replica {previous.owner} stopped renewing its lease"
        abandoned = fail_abandoned_runs(connection, previous, now, message)
        log.warning(
            "took over flow %s from %s, whose lease expired at %s (%d abandoned run(s) failed)",
            self.flow,
            previous.owner,
            previous.expires_at,
            abandoned,
            extra={"flow": self.flow},
        )

    def beat(self) -> bool:
        """Renew the lease; on losing it, stop heartbeating and call ``on_lost``."""
        if not self._held:
            return False
        try:
            with self._store.transaction() as connection:
                kept = renew(connection, self.flow, self.owner, self._ttl, self._clock())
        except sa.exc.SQLAlchemyError as error:
            # The store may be back before the lease runs out; the next beat tries again.
            log.warning("could not renew the lease of flow %s: %s", self.flow, type(error).__name__)
            return True
        if not kept:
            self._held = False
            log.error("lost the lease of flow %s to another replica; stopping", self.flow)
            if self._on_lost is not None:
                self._on_lost()
        return kept

    def start_heartbeat(self, on_lost: Callable[[], None] | None = None) -> None:
        """Renew the lease every ``heartbeat_seconds``; ``on_lost`` runs if it is taken away."""
        self._on_lost = on_lost
        self._stop_heartbeat.clear()
        self._heartbeat = threading.Thread(
            target=self._beat_until_stopped, name=f"lease-{self.flow}", daemon=True
        )
        self._heartbeat.start()

    def _beat_until_stopped(self) -> None:
        while not self._stop_heartbeat.wait(self._heartbeat_seconds):
            if not self.beat():
                return

    def release(self) -> None:
        """Stop heartbeating and give the lease back (a no-op when it was lost)."""
        self._stop_heartbeat.set()
        if self._heartbeat is not None:
            self._heartbeat.join()
            self._heartbeat = None
        if not self._held:
            return
        self._held = False
        with self._store.transaction() as connection:
            release(connection, self.flow, self.owner, self._clock())


def _alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
