"""The demo's change events: what its runs wrote to the outbox, printed as ``events tail`` would.

``make demo`` must work on a fresh machine, with no broker. So the demo records events as if a
sink were configured (a NATS sink named ``demo`` that the demo never drains: nothing connects
to a broker) and, at the end, prints how many events of each type its runs wrote and the first
few of them. ``revbridge events tail`` and ``events publish`` work on the demo's store once a
config names a real sink.

Only ``revbridge demo`` imports this (through :mod:`sync.cli.demo`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from rich.console import Console

from config.events import EventsSettings, NatsSinkSettings
from config.settings import Settings
from sync.cli.events_follow import event_line
from sync.events.envelope import event_type
from sync.store import Store
from sync.store.outbox import outbox_events, stored_event

# Recorded, never drained: the demo opens no broker connection.
DEMO_SINK = NatsSinkSettings(name="demo")
SHOWN_EVENTS = 8


def with_demo_events(settings: Settings) -> Settings:
    """``settings`` with the demo's sink, so the runs record their change events."""
    return settings.model_copy(update={"events": EventsSettings(sinks=[DEMO_SINK])})


@dataclass
class DemoEvents:
    """What the demo's runs wrote to the outbox: a count per event type and the first lines."""

    counts: Counter[str] = field(default_factory=Counter)
    first: list[str] = field(default_factory=list)  # of one run, as ``events tail`` prints them

    @property
    def total(self) -> int:
        """Events written in all."""
        return sum(self.counts.values())


def demo_events(store: Store, shown_run: int) -> DemoEvents:
    """Read back the events the demo's runs wrote; the first lines are ``shown_run``'s."""
    found = DemoEvents()
    table = outbox_events.c
    with store.engine.connect() as connection:
        kinds = sa.select(table.entity, table.change, sa.func.count()).group_by(
            table.entity, table.change
        )
        for entity, change, count in connection.execute(kinds):
            found.counts[event_type(entity, change)] = count
        first = (
            sa.select(outbox_events)
            .where(table.run_id == shown_run)
            .order_by(table.sequence)
            .limit(SHOWN_EVENTS)
        )
        found.first = [event_line(stored_event(row)) for row in connection.execute(first)]
    return found


def print_events(events: DemoEvents, console: Console) -> None:
    """The demo's events section."""
    console.print(
        f"\nThe runs wrote {events.total} change events to the outbox (CloudEvents; a sink "
        "such as NATS gets them with `revbridge events publish`):",
        highlight=False,
    )
    for kind, count in sorted(events.counts.items()):
        console.print(f"  {count:>6}  {kind}", markup=False, highlight=False)
    if events.first:
        console.print(
            "Run 2's events (the edits above), as `revbridge events tail` shows them:",
            highlight=False,
        )
        for line in events.first:
            console.print(f"  {line}", markup=False, highlight=False)
