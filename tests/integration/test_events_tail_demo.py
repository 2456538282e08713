"""`revbridge demo` records its runs' change events with no broker, and shows them as
``events tail`` would."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sync.cli.demo import run_demo
from sync.cli.sandboxes import SandboxSize
from sync.store import Store
from sync.store.outbox import outbox_deliveries, outbox_events

SMALL = SandboxSize(accounts=6, orders=30, products=3, page_size=200)


def test_the_demo_shows_the_events_its_runs_wrote_and_run_2s_edits(tmp_path: Path) -> None:
    result = run_demo(tmp_path / "demo.db", SMALL)
    events = result.events
    assert events is not None
    store = Store(result.database_url)
    with store.engine.connect() as connection:
        table = outbox_events.c
        written = connection.execute(sa.select(table.entity, table.change, table.run_id))
        rows = list(written)
        delivered = connection.execute(sa.select(sa.func.count()).select_from(outbox_deliveries))
        assert delivered.scalar_one() == 0  # recorded, never sent: the demo needs no broker
    store.close()
    assert events.total == len(rows) > 0
    for kind, count in events.counts.items():
        entity, change = kind.removeprefix("com.revbridge.").split(".")
        assert count == sum(1 for row in rows if (row.entity, row.change) == (entity, change))
    second_run = [row for row in rows if row.run_id == result.second.run_id]
    assert {row.change for row in second_run} == {"updated"}  # only what the edits changed
    assert events.first
    assert all(" com.revbridge." in line and ".updated " in line for line in events.first)
    assert len(events.first) == min(8, len(second_run))
