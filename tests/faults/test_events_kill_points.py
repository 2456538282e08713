"""SIGKILL ``revbridge events publish`` at ten seeded random points, against the real NATS
JetStream server, on SQLite and PostgreSQL.

A core NATS subscription on the sink's subjects sees every message the publisher sends,
repeats included. Each round starts a publisher and kills it the moment that subscription has
seen a random number of further messages: inside a batch, after JetStream acknowledged events
the publisher had not yet marked published. After the rounds one more publish finishes. Then:
a consumer that dedupes by id saw every event exactly once; without dedupe it saw each at least
once, and some more than once; the stream holds each exactly once (``Nats-Msg-Id`` dropped the
repeats inside the duplicate window), in commit order per record.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
import sqlalchemy as sa
from nats.aio.msg import Msg
from nats.js.api import StreamConfig

from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.outbox import outbox_events
from tests.cli_process import ROOT, cli_env, revbridge
from tests.integration.events_cli_harness import TINY, events_config, write_change

pytestmark = pytest.mark.slow

NATS_URL = "nats://127.0.0.1:4222"
SEED = 1919
KILLS = 10
RECORDS, CHANGES = 60, 8  # 480 events, eight per record


class Watcher:
    """A core NATS subscription on a thread of its own, counting what it sees."""

    def __init__(self, subjects: str) -> None:
        self.seen: list[dict[str, Any]] = []
        self.changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(subjects,), daemon=True)
        self._thread.start()
        assert self._ready.wait(30), "no NATS subscription"

    def _run(self, subjects: str) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._subscribe(subjects))
        self._loop.run_forever()

    async def _subscribe(self, subjects: str) -> None:
        self._client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
        await self._client.subscribe(subjects, cb=self._message)
        await self._client.flush()
        self._ready.set()

    async def _message(self, message: Msg) -> None:
        envelope = json.loads(message.data)
        with self.changed:
            self.seen.append(envelope)
            self.changed.notify_all()

    def count(self) -> int:
        with self.changed:
            return len(self.seen)

    def wait_for(self, count: int, publisher: subprocess.Popen[bytes]) -> bool:
        """Whether ``count`` messages were seen before ``publisher`` exited by itself."""
        with self.changed:
            return (
                self.changed.wait_for(
                    lambda: len(self.seen) >= count or publisher.poll() is not None, timeout=120
                )
                and len(self.seen) >= count
            )

    def close(self) -> None:
        future = asyncio.run_coroutine_threadsafe(self._client.drain(), self._loop)
        future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


async def _stream(name: str, subjects: list[str] | None) -> list[dict[str, Any]]:
    """Create the stream (``subjects``), or read what it holds and delete it (None)."""
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        stream = client.jetstream()
        if subjects is not None:
            await stream.add_stream(StreamConfig(name=name, subjects=subjects))
            return []
        info = await stream.stream_info(name)
        held = [
            await stream.get_msg(name, n)
            for n in range(info.state.first_seq, info.state.last_seq + 1)
        ]
        await stream.delete_stream(name)
        return [json.loads(message.data or b"{}") for message in held]
    finally:
        await client.close()


@pytest.fixture
def stream() -> Iterator[tuple[str, str]]:
    token = uuid.uuid4().hex[:12]
    prefix, name = f"rbkill{token}", f"RBKILL_{token}"
    try:
        asyncio.run(_stream(name, [f"{prefix}.>"]))
    except (OSError, TimeoutError, nats.errors.Error) as error:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"NATS JetStream at {NATS_URL} is unreachable under CI: {error!r}")
        pytest.skip(f"NATS JetStream at {NATS_URL} is unreachable: {error!r}")
    yield prefix, name
    asyncio.run(_delete_if_left(name))


async def _delete_if_left(name: str) -> None:
    """Delete the stream a failed test left behind."""
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        await client.jetstream().delete_stream(name)
    except nats.js.errors.NotFoundError:
        pass  # the test read and deleted it
    finally:
        await client.close()


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(TINY) as running:
        yield running


def _publisher(config: Path) -> subprocess.Popen[bytes]:
    command = revbridge("events", "publish", "--config", str(config))
    return subprocess.Popen(
        command, cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _kill_rounds(config: Path, watcher: Watcher) -> int:
    """Ten publishers, each SIGKILLed after a random number of further messages; the kills."""
    chooser, kills = random.Random(SEED), 0
    for _ in range(KILLS):
        publisher = _publisher(config)
        target = watcher.count() + chooser.randint(1, 60)
        if watcher.wait_for(target, publisher):
            publisher.send_signal(signal.SIGKILL)
            kills += 1
        publisher.wait(timeout=60)
    return kills


def _outbox(database_url: str) -> list[sa.Row[Any]]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = list(connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence)))
    store.close()
    return rows


def test_ten_kills_while_publishing_lose_nothing_and_dedupe_makes_it_exactly_once(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    sink = {"name": "ops", "url": NATS_URL, "subject_prefix": prefix}
    config = events_config(tmp_path, sandboxes, database_url, [sink])
    store = Store(database_url)
    for change in range(CHANGES):
        for record in range(RECORDS):
            write_change(store, f"ord-{record}", {"id": record, "version": change})
    store.close()
    watcher = Watcher(f"{prefix}.>")
    try:
        kills = _kill_rounds(config, watcher)
        finish = subprocess.run(
            revbridge("events", "publish", "--config", str(config)),
            cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert finish.returncode == 0, finish.stderr
        stored = asyncio.run(_stream(name, None))
        expected = len(_outbox(database_url))
        with watcher.changed:  # every message the stream holds went past the watcher first
            watcher.changed.wait_for(lambda: len(watcher.seen) >= expected, timeout=60)
    finally:
        watcher.close()
    rows = _outbox(database_url)
    ids = [row.event_id for row in rows]
    assert kills >= KILLS - 2  # the rounds did kill publishers mid-way
    seen = Counter(envelope["id"] for envelope in watcher.seen)
    assert set(seen) == set(ids)  # deduped by id: every event, exactly once, nothing else
    assert all(times >= 1 for times in seen.values())  # without dedupe: at least once...
    assert sum(seen.values()) > len(ids)  # ...and the kills made some arrive twice
    assert sorted(envelope["id"] for envelope in stored) == sorted(ids)  # JetStream dropped them
    position = {row.event_id: row.sequence for row in rows}
    per_record: dict[str, list[int]] = defaultdict(list)
    for envelope in stored:
        per_record[envelope["subject"]].append(position[envelope["id"]])
    assert all(sequences == sorted(sequences) for sequences in per_record.values())
