"""Issue 19's change-events benchmark; prints one results table per part.

1. The sync with events off and on, in one run: records/s of a first sync over the loopback
   sandboxes with no sink (no outbox rows), with a NATS sink (outbox rows in each page
   commit), and that plus the drain to NATS after the run. Rounds alternate off/on on fresh
   sandboxes and stores; the best of each is shown.
2. Publish throughput: N outbox events drained by the real publisher to NATS JetStream (acks
   in flight per batch), the same drain one publish and ack at a time (as before batches), and
   to RabbitMQ with publisher confirms; wall time and this process's CPU per event (the
   broker's CPU is its own), which a busy machine inflates far less than wall time.
3. The outbox at scale: bytes per event as it grows to ``--outbox-events`` (default 1M), and
   what ``events prune`` costs once a sink published them all.

    .venv/bin/python bench/events_bench.py                       # all three (~10 min on SQLite)
    .venv/bin/python bench/events_bench.py --parts publish --publish-events 20000
    .venv/bin/python bench/events_bench.py --parts outbox \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

NATS (127.0.0.1:4222) and RabbitMQ (127.0.0.1:5672, guest/guest) must be running. On
PostgreSQL the benchmark works in a schema of its own (``revbridge_events_bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import sqlalchemy as sa
from nats.js.api import StreamConfig
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.events import EventsSettings, NatsSinkSettings
from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.events.nats_sink import NatsSink
from sync.events.publisher import publish_all
from sync.store import Store
from sync.store.outbox import (
    SinkFilter,
    mark_published,
    outbox_deliveries,
    outbox_events,
    pending_events,
)
from sync.store.outbox_prune import prune_outbox
from sync.store.schema import utc_now

NATS_URL = "nats://127.0.0.1:4222"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SCHEMA = "revbridge_events_bench"
INSERT_CHUNK = 10_000


def fresh_store(url: str) -> Store:
    """An empty store; on PostgreSQL in a schema of its own, so no real data is touched."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        database = Path(parsed.database or "")
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()
        return Store(url)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {SCHEMA}"))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return Store(f"{url}{separator}options=-csearch_path%3D{SCHEMA}")


async def _stream(name: str, prefix: str | None) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        stream = client.jetstream()
        if prefix is None:
            await stream.delete_stream(name)
        else:
            await stream.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    finally:
        await client.close()


class NatsStream:
    """A JetStream stream of its own for one measurement (``with``)."""

    def __enter__(self) -> NatsStream:
        token = uuid.uuid4().hex[:10]
        self.prefix, self.name = f"rbbench{token}", f"RBBENCH_{token}"
        asyncio.run(_stream(self.name, self.prefix))
        return self

    def __exit__(self, *_: object) -> None:
        asyncio.run(_stream(self.name, None))

    def sink(self) -> dict[str, Any]:
        return {"name": "nats", "type": "nats", "url": NATS_URL, "subject_prefix": self.prefix}


# --- 1. the sync with events off and on -------------------------------------------------------


def _sync_once(size: SandboxSize, url: str, sink: dict[str, Any] | None) -> dict[str, float]:
    store = fresh_store(url)
    store.record_events = sink is not None
    with Sandboxes(size) as sandboxes, open_connectors(sandboxes.settings(url)) as systems:
        engine = SyncEngine(store, load_mapping_set(), systems, QUOTE_TO_CASH)
        started, cpu = time.perf_counter(), time.process_time()
        summary = engine.run()
        synced, sync_cpu = time.perf_counter() - started, time.process_time() - cpu
    published = publish_cpu = 0.0
    if sink is not None:
        started, cpu = time.perf_counter(), time.process_time()
        [report] = publish_all(store, EventsSettings.model_validate({"sinks": [sink]}))
        published, publish_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert report.error is None, report.error
    with store.engine.connect() as connection:
        events = connection.execute(sa.select(sa.func.count()).select_from(outbox_events))
        count = events.scalar_one()
    store.close()
    records = summary.systems["salesforce"].read
    return {
        "records": records, "sync": synced, "publish": published, "events": count,
        "sync_cpu": sync_cpu, "publish_cpu": publish_cpu,
    }  # fmt: skip


def bench_sync(args: argparse.Namespace, url: str) -> list[list[str]]:
    size = SandboxSize(accounts=max(5, args.orders // 10), orders=args.orders)
    off: list[dict[str, float]] = []
    on: list[dict[str, float]] = []
    with NatsStream() as stream:
        for _ in range(args.rounds):
            off.append(_sync_once(size, url, None))
            on.append(_sync_once(size, url, stream.sink()))
    best_off = min(off, key=lambda run: run["sync"])
    best_on = min(on, key=lambda run: run["sync"])
    best_total = min(on, key=lambda run: run["sync"] + run["publish"])
    base = best_off["records"] / best_off["sync"]
    total = best_total["sync"] + best_total["publish"]
    total_cpu = best_total["sync_cpu"] + best_total["publish_cpu"]
    rows: list[tuple[str, dict[str, float], float, float]] = [
        ("events off", best_off, best_off["sync"], best_off["sync_cpu"]),
        ("events on: outbox", best_on, best_on["sync"], best_on["sync_cpu"]),
        ("events on: outbox + drain to NATS", best_total, total, total_cpu),
    ]
    base_cpu = best_off["sync_cpu"] / best_off["records"]
    table = []
    for name, run, seconds, cpu in rows:
        rate, per_record = run["records"] / seconds, cpu / run["records"]
        slower = "-" if name == "events off" else f"{(base - rate) / base * 100:+.1f}%"
        more_cpu = "-" if name == "events off" else f"{(per_record / base_cpu - 1) * 100:+.1f}%"
        table.append([
            str(name), f"{run['records']:,.0f}", f"{run['events']:,.0f}", f"{seconds:.2f}",
            f"{rate:,.0f}", slower, f"{per_record * 1e6:,.0f}", more_cpu,
        ])  # fmt: skip
    return table


# --- 2. publish throughput --------------------------------------------------------------------


def _event_rows(count: int, start: int, now: datetime) -> list[dict[str, Any]]:
    record = {"id": "ord-x", "status": "activated", "total": "120.00", "currency": "USD"}
    return [
        {
            "event_id": str(uuid.uuid4()), "flow": "quote-to-cash", "entity": "order",
            "change": "updated", "subject": f"ord-{(start + n) % 5000}", "run_id": 1,
            "occurred_at": now,
            "data": {"record": record, "changes": {"total": {"old": "100.00", "new": "120.00"}},
                     "ids": {"salesforce": f"801{start + n:012d}", "billing": f"in_{start + n}"}},
        }
        for n in range(count)
    ]  # fmt: skip


def fill_outbox(store: Store, count: int, age: timedelta = timedelta(0)) -> None:
    """Insert ``count`` realistic events written ``age`` ago, in chunks."""
    written = utc_now() - age
    for start in range(0, count, INSERT_CHUNK):
        with store.transaction() as connection:
            rows = _event_rows(min(INSERT_CHUNK, count - start), start, written)
            connection.execute(sa.insert(outbox_events), rows)


def _drain_rate(url: str, count: int, sink: dict[str, Any], batch_size: int) -> list[str]:
    store = fresh_store(url)
    fill_outbox(store, count)
    settings = EventsSettings.model_validate({"sinks": [sink], "batch_size": batch_size})
    started, cpu = time.perf_counter(), time.process_time()
    [report] = publish_all(store, settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    assert report.error is None, report
    assert report.published == count, report
    # CPU of this process only (the broker's is its own): what a busy machine cannot inflate.
    return [
        f"{sink['type']} ({batch_size} a batch)", f"{count:,}", f"{seconds:.2f}",
        f"{count / seconds:,.0f}", f"{cpu / count * 1e6:,.0f}", f"{count / cpu:,.0f}",
    ]  # fmt: skip


async def _one_at_a_time(store: Store, settings: NatsSinkSettings, batch_size: int) -> None:
    """The drain as it was before batches: one publish and its ack at a time."""
    selection = SinkFilter(settings.name)
    async with NatsSink(settings) as sink:
        while True:
            with store.transaction() as connection:
                batch = pending_events(connection, selection, batch_size)
            if not batch:
                return
            for event in batch:
                await sink.send(event)
            with store.transaction() as connection:
                mark_published(connection, settings.name, [event.sequence for event in batch])


def _one_at_a_time_rate(url: str, count: int, sink: dict[str, Any], batch_size: int) -> list[str]:
    store = fresh_store(url)
    fill_outbox(store, count)
    started, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_one_at_a_time(store, NatsSinkSettings.model_validate(sink), batch_size))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    return [
        "nats, one ack at a time (before)", f"{count:,}", f"{seconds:.2f}",
        f"{count / seconds:,.0f}", f"{cpu / count * 1e6:,.0f}", f"{count / cpu:,.0f}",
    ]  # fmt: skip


def bench_publish(args: argparse.Namespace, url: str) -> list[list[str]]:
    rows = []
    with NatsStream() as stream:
        for batch in (args.batch_size, 100):
            rows.append(_drain_rate(url, args.publish_events, stream.sink(), batch))
    with NatsStream() as stream:
        rows.append(_one_at_a_time_rate(url, args.publish_events, stream.sink(), args.batch_size))
    exchange = f"rbbench{uuid.uuid4().hex[:10]}"
    rabbit = {"name": "rabbit", "type": "rabbitmq", "url": RABBITMQ_URL, "exchange": exchange}
    rows.append(_drain_rate(url, args.rabbitmq_events, rabbit, args.batch_size))
    return rows


# --- 3. the outbox at scale -------------------------------------------------------------------


def _size_bytes(store: Store, path: Path | None) -> int:
    if path is not None:  # the file once the WAL is folded in: what the disk keeps
        with store.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size
    with store.engine.connect() as connection:
        query = sa.text(
            "SELECT pg_total_relation_size('outbox_events')"
            " + pg_total_relation_size('outbox_deliveries')"
        )
        return int(connection.execute(query).scalar_one())


def _publish_everything(store: Store, sink: str) -> None:
    with store.transaction() as connection:
        connection.execute(
            sa.insert(outbox_deliveries).from_select(
                ["sink", "sequence", "published_at"],
                sa.select(sa.literal(sink), outbox_events.c.sequence, outbox_events.c.occurred_at),
            )
        )


def bench_outbox(args: argparse.Namespace, url: str, path: Path | None) -> list[list[str]]:
    store = fresh_store(url)
    empty = _size_bytes(store, path)
    started = time.perf_counter()
    fill_outbox(store, args.outbox_events, age=timedelta(days=30))
    filled = time.perf_counter() - started
    grown = _size_bytes(store, path) - empty
    _publish_everything(store, "nats")
    with_deliveries = _size_bytes(store, path) - empty
    started = time.perf_counter()
    pruned = prune_outbox(store, [SinkFilter("nats")], utc_now() - timedelta(days=7))
    seconds = time.perf_counter() - started
    store.close()
    count = args.outbox_events
    written = f"{filled:.1f} s ({count / filled:,.0f}/s)"
    prune = f"{seconds:.1f} s ({pruned / seconds:,.0f}/s)"
    return [
        ["written", f"{count:,}", written, f"{grown / count:,.0f}"],
        ["+ one sink's deliveries", f"{count:,}", "-", f"{with_deliveries / count:,.0f}"],
        ["pruned (all published, 30 days old)", f"{pruned:,}", prune, "-"],
    ]


def print_table(title: str, header: Sequence[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in header:
        table.add_column(column, justify="left" if column == header[0] else "right")
    for row in rows:
        table.add_row(*row)
    Console(highlight=False).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="sync,publish,outbox")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--orders", type=int, default=1500, help="sandbox orders (~3.2 records each)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs; best of each")
    parser.add_argument("--publish-events", type=int, default=20_000)
    parser.add_argument("--rabbitmq-events", type=int, default=5_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--outbox-events", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the sandbox data's rejections are expected
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory() as folder:
        path = None if args.database_url else Path(folder) / "events-bench.db"
        url = args.database_url or f"sqlite:///{path}"
        backend = sa.make_url(url).get_backend_name()
        if "sync" in parts:
            header: Sequence[str] = (
                "sync", "records", "events", "seconds", "records/s", "slower",
                "CPU µs/record", "more CPU",
            )  # fmt: skip
            print_table(f"sync with events off and on ({backend})", header, bench_sync(args, url))
        if "publish" in parts:
            header = ("drain to", "events", "seconds", "events/s", "CPU µs/event", "events/CPU s")
            print_table(f"publish throughput ({backend})", header, bench_publish(args, url))
        if "outbox" in parts:
            header = ("outbox", "events", "time", "bytes/event")
            print_table(f"outbox at scale ({backend})", header, bench_outbox(args, url, path))


if __name__ == "__main__":
    main()
