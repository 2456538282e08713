"""Throughput of revbridge's sync path on the loopback sandboxes; prints a results table.

Usage: python bench/bench_sync.py [--orders N] [--accounts N] [--repeat N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from mappings.loader import load_mapping_set
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.capture import capture_page
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.resolver import StoreRefResolver
from sync.engine.run import SyncEngine
from sync.engine.specs import read_spec
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.schema import metadata

BENCH_SCHEMA = "revbridge_bench"


def _fresh_store(url: str) -> Store:
    """An empty store; on PostgreSQL in a schema of its own, so no real data is touched."""
    if sa.make_url(url).get_backend_name() == "postgresql":
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
        engine.dispose()
        separator = "&" if "?" in url else "?"
        return Store(f"{url}{separator}options=-csearch_path%3D{BENCH_SCHEMA}")
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    return Store(url)


def _touch_everything(sandboxes: Sandboxes) -> int:
    salesforce = sandboxes.salesforce
    touched = 0
    for object_name, field in (("Account", "Phone"), ("Product2", "Family"), ("Order", "Status")):
        for record in salesforce.records(object_name):
            salesforce.update_record(object_name, record["Id"], {field: record[field]})
            touched += 1
    return touched


def _timed(action: Callable[[], RunSummary]) -> tuple[float, RunSummary]:
    started = time.perf_counter()
    summary = action()
    return time.perf_counter() - started, summary


def bench_end_to_end(size: SandboxSize, database_url: str) -> list[tuple[str, int, float]]:
    """(scenario, records read, seconds) for first sync, no-op re-run, re-run after a touch."""
    mapping_set = load_mapping_set()
    store = _fresh_store(database_url)
    with Sandboxes(size) as sandboxes, open_connectors(sandboxes.settings(database_url)) as systems:
        engine = SyncEngine(store, mapping_set, systems, QUOTE_TO_CASH)
        first_seconds, first = _timed(engine.run)
        noop_seconds, _ = _timed(engine.run)
        _touch_everything(sandboxes)
        touched_seconds, touched = _timed(engine.run)
    store.close()
    return [
        ("first sync (all created downstream)", first.systems["salesforce"].read, first_seconds),
        ("re-run, nothing changed", 0, noop_seconds),
        ("re-run, every record touched", touched.systems["salesforce"].read, touched_seconds),
    ]


def bench_capture(size: SandboxSize, database_url: str) -> tuple[int, float]:
    """Orders per second through map -> validate -> hash, with refs resolved from the store."""
    mapping_set = load_mapping_set()
    store = _fresh_store(database_url)
    order_mapping = mapping_set.system("salesforce").entities["order"]
    with Sandboxes(size) as sandboxes, open_connectors(sandboxes.settings(database_url)) as systems:
        SyncEngine(store, mapping_set, systems, QUOTE_TO_CASH).run()
        pages = list(systems["salesforce"].read(read_spec(order_mapping), None))
    raw_orders = [record for page in pages for record in page.records]
    resolver = StoreRefResolver(store.engine)
    capture_page(order_mapping, raw_orders, resolver)  # warm the resolver cache
    started = time.perf_counter()
    captured, _ = capture_page(order_mapping, raw_orders, resolver)
    seconds = time.perf_counter() - started
    store.close()
    return len(captured), seconds


def main() -> None:
    """Parse arguments, run each benchmark ``--repeat`` times, print medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # rejections of the seeded bad records are expected
    size = SandboxSize(accounts=args.accounts, orders=args.orders)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        runs = [bench_end_to_end(size, url) for _ in range(args.repeat)]
        captures = [bench_capture(size, url) for _ in range(args.repeat)]
    table = Table(title=f"revbridge sync, {args.accounts} accounts / {args.orders} orders, "
                  f"{sa.make_url(url).get_backend_name()}, median of {args.repeat}")  # fmt: skip
    for column in ("scenario", "records read", "seconds", "records/s"):
        table.add_column(column, justify="right" if column != "scenario" else "left")
    for index, (name, records, _) in enumerate(runs[0]):
        seconds = statistics.median(run[index][2] for run in runs)
        rate = f"{records / seconds:,.0f}" if records else "-"
        table.add_row(name, str(records), f"{seconds:.2f}", rate)
    orders, _ = captures[0]
    capture_seconds = statistics.median(seconds for _, seconds in captures)
    table.add_row(
        "capture only: map+validate+hash orders", str(orders), f"{capture_seconds:.3f}",
        f"{orders / capture_seconds:,.0f}",
    )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
