"""``revbridge events tail`` in a real subprocess on SQLite and PostgreSQL: it follows events as
they are committed, through its filters, as text that carries no markup or terminal escapes
from the data, or as one envelope a line; Ctrl-C ends it with one line and exit 0. Operator
mistakes in the events commands are one line and exit 2."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.outbox import outbox_events
from sync.store.outbox_replay import EventSelection, TailPosition, events_after
from sync.store.schema import utc_now
from tests.cli_process import cli_env, revbridge
from tests.integration.events_cli_harness import TINY, events_config, write_change

runner = CliRunner()
HOSTILE = "ord-[bold]x[/bold]\x1b[31m<b>\u202e"
SINK = {"name": "ops", "url": "nats://127.0.0.1:9", "timeout_seconds": 1}


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(TINY) as running:
        yield running


class Tail:
    """A ``revbridge events tail`` process whose lines arrive on a queue."""

    def __init__(self, config: Path, *options: str) -> None:
        command = revbridge("events", "tail", "--config", str(config), *options)
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def next_line(self) -> str:
        """The next line it printed (waits for it: the test synchronises on output)."""
        return self.lines.get(timeout=60)

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; its exit code and what it wrote to stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


def test_tail_follows_new_events_through_its_filters_as_envelopes_until_ctrl_c(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    config = events_config(tmp_path, sandboxes, database_url, [SINK])
    store = Store(database_url)
    write_change(store, "ord-old-1", {"id": "ord-old-1", "total": "1"})
    write_change(store, "ord-old-2", {"id": "ord-old-2", "total": "2"})
    tail = Tail(config, "--json", "--last", "1", "--entity", "order", "--type", "created")
    first = json.loads(tail.next_line())  # only the last one written before it started
    assert first["subject"] == "ord-old-2"
    write_change(store, "ord-1", {"id": "ord-1", "total": "5"})
    write_change(store, "inv-1", {"id": "inv-1"}, entity="invoice")  # another entity
    write_change(store, "ord-1", {"id": "ord-1", "total": "6"})  # an update, not a creation
    write_change(store, HOSTILE, {"id": "h"})
    followed = [json.loads(tail.next_line()), json.loads(tail.next_line())]
    assert [event["subject"] for event in followed] == ["ord-1", HOSTILE]
    assert {event["type"] for event in followed} == {"com.revbridge.order.created"}
    assert followed[0]["data"]["changes"]["total"] == {"old": None, "new": "5"}
    code, errors = tail.interrupt()
    store.close()
    assert code == 0, errors
    assert tail.next_line() == "stopped following events"
    assert tail.lines.empty()
    assert "Traceback" not in errors


def test_tail_text_lines_show_hostile_data_as_escaped_text(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    config = events_config(tmp_path, sandboxes, database_url, [SINK])
    store = Store(database_url)
    write_change(store, "ord-0", {"id": "ord-0"})
    tail = Tail(config, "--last", "1")
    assert " com.revbridge.order.created ord-0 flow=quote-to-cash changed=id" in tail.next_line()
    write_change(store, HOSTILE, {"id": "h", "[red]field": 1})
    line = tail.next_line()
    store.close()
    assert "ord-[bold]x[/bold]\\u001b[31m<b>\\u202e" in line  # markup literal, escapes escaped
    assert "\x1b" not in line
    assert "\u202e" not in line
    assert "changed=[red]field,id" in line
    code, _ = tail.interrupt()
    assert code == 0


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["tail", "--type", "creatd"], "--type creatd is not one of: created, updated"),
        (["tail", "--entity", "ordr"], "--entity ordr is not one of:"),
        (["tail", "--flow", "q2c"], "--flow q2c is not one of: quote-to-cash"),
        (["replay"], "say from when: --since 2026-12-01"),
        (["replay", "--since", "yesterday"], "--since yesterday is not a date"),
        (["replay", "--since", "2026-12-01", "--sink", "nope"], "no sink nope in"),
    ],
)
def test_operator_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, sandboxes: Sandboxes, arguments: list[str], complaint: str
) -> None:
    config = events_config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", [SINK])
    outcome = runner.invoke(app, ["events", *arguments, "--config", str(config)])
    assert outcome.exit_code == 2, outcome.output
    assert complaint in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1
    assert "Traceback" not in outcome.output


def test_replay_with_no_sink_configured_says_so(tmp_path: Path, sandboxes: Sandboxes) -> None:
    config = events_config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'x.db'}", [])
    outcome = runner.invoke(app, ["events", "replay", "--since", "2026-12-01", "-c", str(config)])
    assert outcome.exit_code == 2
    assert "no event sinks configured" in outcome.output


def test_tail_on_a_store_that_does_not_exist_is_one_line_and_exit_2(
    tmp_path: Path, sandboxes: Sandboxes
) -> None:
    config = events_config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'none.db'}", [SINK])
    outcome = runner.invoke(app, ["events", "tail", "--config", str(config)])
    assert outcome.exit_code == 2
    assert len(outcome.output.strip().splitlines()) == 1
    assert not (tmp_path / "none.db").exists()


def _insert(store: Store, sequence: int, entity: str = "order") -> None:
    row = {
        "sequence": sequence, "event_id": str(uuid.uuid4()), "flow": "quote-to-cash",
        "entity": entity, "change": "created", "subject": f"s-{sequence}", "run_id": 1,
        "occurred_at": utc_now(), "data": {"record": None, "changes": {}, "ids": {}},
    }  # fmt: skip
    with store.transaction() as connection:
        connection.execute(sa.insert(outbox_events), [row])


def _poll(store: Store, position: TailPosition, selection: EventSelection) -> list[int]:
    with store.engine.connect() as connection:
        return [event.sequence for event in events_after(connection, selection, position, 2)]


def test_a_late_commit_below_the_highest_sequence_is_still_followed_once(store: Store) -> None:
    _insert(store, 100)
    position, orders = TailPosition(highest=100, start=100), EventSelection(entities=["order"])
    _insert(store, 105)
    _insert(store, 107)
    _insert(store, 108)
    _insert(store, 109, entity="invoice")
    assert _poll(store, position, orders) == [105, 107]  # two a poll at most
    assert _poll(store, position, orders) == [108]
    _insert(store, 106)  # committed after 107 was seen, as two PostgreSQL flows can
    _insert(store, 99)  # before the tail started: never shown
    assert _poll(store, position, orders) == [106]
    assert _poll(store, position, orders) == []
