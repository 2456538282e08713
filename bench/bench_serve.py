"""Cost of what `revbridge serve` adds around a run: lease round trips and a /metrics scrape.

Usage: python bench/bench_serve.py [--repeat N] [--errors N] [--database-url URL]

Lease operations run once per run (take, give back) and once per committed page or heartbeat
(renew); a scrape queries the error queue and the run history. Each is timed against a store
on SQLite (a temporary file) and, with --database-url, PostgreSQL (in a schema of its own).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import generate_latest
from rich.console import Console
from rich.table import Table

from sync.service.flow_lease import FlowLease
from sync.service.metrics import ServeMetrics
from sync.store import Store
from sync.store.schema import ErrorStatus, RunStatus, error_queue, runs, utc_now

BENCH_SCHEMA = "revbridge_bench_serve"
TTL = timedelta(seconds=60)


def _fresh_store(url: str) -> Store:
    if sa.make_url(url).get_backend_name() == "postgresql":
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
        engine.dispose()
        separator = "&" if "?" in url else "?"
        return Store(f"{url}{separator}options=-csearch_path%3D{BENCH_SCHEMA}")
    return Store(url)


def _seed(store: Store, errors: int) -> None:
    now = utc_now()
    statuses = list(ErrorStatus)
    rows = [
        {
            "flow": "quote-to-cash",
            "entity": "order",
            "source_system": "salesforce",
            "source_object": "Order",
            "source_id": f"801{index:015d}",
            "target_system": "billing",
            "stage": "write",
            "error_class": "RecordRejected",
            "code": "INVALID",
            "message": "rejected",
            "attempts": 1,
            "status": statuses[index % len(statuses)].value,
            "created_at": now,
            "updated_at": now,
        }
        for index in range(errors)
    ]
    finished = [
        {
            "flow": f"flow-{i % 5}",
            "status": RunStatus.SUCCEEDED.value,
            "started_at": now,
            "finished_at": now,
            "stats": {},
        }
        for i in range(1000)
    ]
    with store.transaction() as connection:
        if rows:
            connection.execute(sa.insert(error_queue), rows)
        connection.execute(sa.insert(runs), finished)


def _per_second(operation: Callable[[], object], count: int, repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(count):
            operation()
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def _measure(url: str, label: str, repeat: int, errors: int) -> list[tuple[str, str, str]]:
    store = _fresh_store(url)
    _seed(store, errors)
    lease = FlowLease(store, "quote-to-cash", "bench", ttl=TTL, heartbeat_seconds=3600)

    def take_and_give_back() -> None:
        assert lease.acquire()
        lease.release()

    cycle = _per_second(take_and_give_back, 200, repeat)
    assert lease.acquire()
    renew = _per_second(lease.beat, 500, repeat)
    lease.release()
    metrics = ServeMetrics(store)
    scrape = _per_second(lambda: generate_latest(metrics.registry), 50, repeat)
    store.close()
    return [
        (label, "take + release a flow lease", f"{cycle:,.0f}/s ({1000 / cycle:.2f} ms)"),
        (label, "renew a lease (per page / heartbeat)", f"{renew:,.0f}/s ({1000 / renew:.2f} ms)"),
        (
            label,
            f"/metrics scrape, {errors:,} queue rows",
            f"{scrape:,.0f}/s ({1000 / scrape:.1f} ms)",
        ),
    ]


def main() -> None:
    """Parse arguments, measure each backend, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--errors", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL URL to measure besides SQLite")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        rows += _measure(url, "SQLite", args.repeat, args.errors)
    if args.database_url:
        rows += _measure(args.database_url, "PostgreSQL", args.repeat, args.errors)
    table = Table(title=f"revbridge serve overhead (median of {args.repeat})")
    for column in ("store", "operation", "rate (latency)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
