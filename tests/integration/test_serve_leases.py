"""Flow leases in the store, on SQLite and PostgreSQL: one holder, expiry, takeover, release."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from sync.service.flow_lease import FlowLease
from sync.store import Store
from sync.store.leases import load_lease
from sync.store.runs import start_run
from sync.store.schema import RunStatus, runs

FLOW = "quote-to-cash"
TTL = timedelta(seconds=30)


class FakeClock:
    """A settable clock, so expiry is tested without waiting."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _lease(store: Store, owner: str, clock: FakeClock) -> FlowLease:
    return FlowLease(store, FLOW, owner, ttl=TTL, heartbeat_seconds=3600, clock=clock)


def test_only_one_owner_holds_a_flow_until_it_releases(store: Store) -> None:
    clock = FakeClock()
    first, second = _lease(store, "replica-a", clock), _lease(store, "replica-b", clock)

    assert first.acquire()
    assert not second.acquire()
    assert not _lease(store, "replica-a", clock).acquire()  # not re-entrant, even for itself
    assert second.holder_expiry() == clock.now + TTL

    first.release()
    assert second.acquire()
    with store.engine.connect() as connection:
        lease = load_lease(connection, FLOW)
    assert lease is not None
    assert lease.owner == "replica-b"


def test_heartbeats_keep_the_lease_past_its_first_expiry(store: Store) -> None:
    clock = FakeClock()
    holder, other = _lease(store, "replica-a", clock), _lease(store, "replica-b", clock)
    assert holder.acquire()

    clock.advance(TTL - timedelta(seconds=1))
    assert holder.beat()
    clock.advance(timedelta(seconds=2))

    assert not other.acquire(only_expired=True)
    assert not other.acquire()


def test_an_expired_lease_is_taken_over_and_the_abandoned_run_failed(store: Store) -> None:
    clock = FakeClock()
    crashed, survivor = _lease(store, "replica-a", clock), _lease(store, "replica-b", clock)
    assert crashed.acquire()
    with store.transaction() as connection:
        abandoned = start_run(connection, FLOW)  # started after the lease was taken
    lost: list[bool] = []
    crashed.start_heartbeat(on_lost=lambda: lost.append(True))

    clock.advance(TTL + timedelta(seconds=1))
    assert survivor.acquire(only_expired=True)

    with store.engine.connect() as connection:
        status, message = connection.execute(
            sa.select(runs.c.status, runs.c.message).where(runs.c.id == abandoned)
        ).one()
    assert status == RunStatus.FAILED.value
    assert "replica-a stopped renewing" in message
    # The crashed owner, were it only paused, finds out at its next heartbeat and stops.
    assert not crashed.beat()
    assert lost == [True]
    crashed.release()  # a no-op: it must not free the survivor's lease
    assert survivor.holder_expiry() is not None


def test_a_released_lease_is_not_resumed(store: Store) -> None:
    clock = FakeClock()
    holder, other = _lease(store, "replica-a", clock), _lease(store, "replica-b", clock)
    assert holder.acquire()
    holder.release()
    clock.advance(TTL * 2)

    assert not other.acquire(only_expired=True)  # the run ended cleanly: nothing to resume
    assert other.holder_expiry() is None


def test_replicas_contending_at_once_get_exactly_one_lease(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    won: list[str] = []

    def contend(index: int) -> None:
        lease = FlowLease(stores[index], FLOW, f"replica-{index}", ttl=TTL, heartbeat_seconds=60)
        barrier.wait()
        if lease.acquire():
            won.append(lease.owner)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for store in stores:
        store.close()
    assert len(won) == 1
