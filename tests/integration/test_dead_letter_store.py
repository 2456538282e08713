"""Dead letters of the outbox on SQLite and PostgreSQL: per sink, out of the pending reads,
counted by the status, requeued (all or by event id) with their ids and in their order."""

from __future__ import annotations

import sqlalchemy as sa

from sync.store import Store
from sync.store.outbox import SinkFilter, mark_published, pending_events, sink_status
from sync.store.outbox_dead_letters import (
    NewDeadLetter,
    add_dead_letters,
    dead_letters,
    requeue_dead_letters,
)
from tests.integration.events_webhook_harness import write_events

HOOKS, BUS = SinkFilter("hooks"), SinkFilter("bus")


def _pending(connection: sa.Connection, sink: SinkFilter) -> list[str]:
    return [event.event_id for event in pending_events(connection, sink, 100)]


def _dead_letter(store: Store, sink: str, ids: list[str]) -> None:
    with store.transaction() as connection:
        events = {e.event_id: e for e in pending_events(connection, SinkFilter(sink), 100)}
        letters = [NewDeadLetter(events[i].sequence, i, 3, "HTTP 500 \x1b[31m<b>") for i in ids]
        add_dead_letters(connection, sink, letters)


def test_a_dead_letter_leaves_the_event_out_of_that_sinks_pending_reads_only(
    store: Store,
) -> None:
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(4)])

    _dead_letter(store, "hooks", [ids[1], ids[2]])

    with store.engine.connect() as connection:
        assert _pending(connection, HOOKS) == [ids[0], ids[3]]
        assert _pending(connection, BUS) == ids  # another sink still sends them
        status = sink_status(connection, HOOKS)
        assert sink_status(connection, BUS).dead_lettered == 0
        [first, second] = dead_letters(connection, "hooks")
    assert (status.pending, status.dead_lettered) == (2, 2)
    assert (first.event_id, second.event_id) == (ids[1], ids[2])
    assert (first.attempts, first.last_error) == (3, "HTTP 500 \x1b[31m<b>")


def test_requeue_by_id_puts_back_only_those_and_ignores_unknown_ids(store: Store) -> None:
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(4)])
    _dead_letter(store, "hooks", ids[:3])

    with store.transaction() as connection:
        requeued = requeue_dead_letters(connection, "hooks", [ids[2], ids[0], "nope", ids[3]])
        nothing = requeue_dead_letters(connection, "hooks", [])
        other_sink = requeue_dead_letters(connection, "bus", None)

    assert (requeued, nothing, other_sink) == (2, 0, 0)
    with store.engine.connect() as connection:
        assert _pending(connection, HOOKS) == [ids[0], ids[2], ids[3]]  # in commit order
        assert [letter.event_id for letter in dead_letters(connection, "hooks")] == [ids[1]]


def test_requeue_of_all_makes_every_dead_letter_pending_again_before_newer_events(
    store: Store,
) -> None:
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(3)])
    _dead_letter(store, "hooks", ids[:2])
    with store.transaction() as connection:
        mark_published(
            connection, "hooks", [e.sequence for e in pending_events(connection, HOOKS, 9)]
        )
    newer = write_events(store, [{"id": "ord-9"}])

    with store.transaction() as connection:
        assert requeue_dead_letters(connection, "hooks", None) == 2

    with store.engine.connect() as connection:
        assert _pending(connection, HOOKS) == [ids[0], ids[1], *newer]
        assert sink_status(connection, HOOKS).dead_lettered == 0


def test_two_drains_settling_the_same_events_record_each_once(store: Store) -> None:
    """Replicas may drain one sink at once: both acknowledge or give up on the same events."""
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(3)])
    with store.engine.connect() as connection:
        first, second, third = pending_events(connection, HOOKS, 9)

    for _ in range(2):
        with store.transaction() as connection:
            mark_published(connection, "hooks", [first.sequence, second.sequence])
            add_dead_letters(connection, "hooks", [NewDeadLetter(third.sequence, ids[2], 2, "x")])

    with store.engine.connect() as connection:
        status = sink_status(connection, HOOKS)
        assert [letter.event_id for letter in dead_letters(connection, "hooks")] == [ids[2]]
    assert (status.published, status.dead_lettered, status.pending) == (2, 1, 0)
