"""Console queries at support-desk scale: error-queue pages, the overview, a journey by NetSuite id.

Seeds 100,000 error-queue rows (with one attempt each), 10,000 conflict-log rows, 1,000 runs and
20,000 canonical records known in three systems on PostgreSQL (a schema of its own, dropped
and recreated each time), then times the store queries the console's pages and API call, and
prints p50 and p95 per query against the issue's goals. Not a test; never runs in CI.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sync.store import Store
from sync.store.error_queue import ErrorFilter, error_row
from sync.store.error_queue_pages import ErrorSort, PageRequest, encode_cursor, error_page
from sync.store.journey import find_journeys
from sync.store.overview import overview
from sync.store.schema import (
    ErrorStatus,
    canonical_records,
    conflict_log,
    error_attempts,
    error_queue,
    runs,
    xref,
)

BENCH_SCHEMA = "revbridge_bench_console"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime.now(UTC)
ENTITIES = ("account", "order", "order_line", "invoice", "payment", "contract", "product", "quote")
CLASSES = ("RecordRejected", "ValidationError", "TransientError", "RateLimited", "MappingError")
STATUSES = ("open",) * 6 + ("retrying", "resolved", "resolved", "ignored")
TARGETS = ("billing", "erp", "")
BATCH = 5_000


def _fresh_store(url: str) -> Store:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
        connection.execute(sa.text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return Store(f"{url}{separator}options=-csearch_path%3D{BENCH_SCHEMA}")


def _insert(store: Store, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        with store.transaction() as connection:
            connection.execute(sa.insert(table), rows[start : start + BATCH])


def _record_rows(records: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    canonical, xrefs = [], []
    for n in range(records):
        cid, sf_id = f"c{n:08d}", f"801{n:015d}"
        canonical.append({
            "canonical_id": cid, "entity": ENTITIES[n % 8], "payload": {"n": n, "total": "9.99"},
            "content_hash": f"{n:064d}", "source_system": "salesforce",
            "source_object": "Order", "source_id": sf_id, "source_modified_at": NOW,
            "updated_at": NOW, "run_id": 1 + n % 1000,
        })  # fmt: skip
        for system, external in (
            ("salesforce", sf_id),
            ("billing", f"in_{n}"),
            ("erp", str(10_000_000 + n)),
        ):
            xrefs.append({
                "system": system, "canonical_id": cid, "entity": ENTITIES[n % 8],
                "object_name": "x", "external_id": external, "last_written_at": NOW,
                "run_id": 1 + n % 1000,
                "last_written_payload": {"n": n} if system != "salesforce" else None,
            })  # fmt: skip
    return canonical, xrefs


def _error_rows(errors: int, records: int, rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for n in range(errors):
        record = n % records
        created = NOW - timedelta(minutes=rng.randrange(60 * 24 * 60))
        status = STATUSES[rng.randrange(len(STATUSES))]
        rows.append({
            "run_id": 1 + rng.randrange(1000), "flow": "quote-to-cash",
            "entity": ENTITIES[record % 8], "source_system": "salesforce",
            "source_object": "Order", "source_id": f"801{record:015d}",
            "canonical_id": f"c{record:08d}", "target_system": TARGETS[n % 3], "stage": "write",
            "error_class": CLASSES[rng.randrange(5)], "code": "INVALID",
            "message": f"field Amount__c rejected: value {n} out of range", "payload": {"n": n},
            "attempts": 1 + rng.randrange(5), "status": status, "created_at": created,
            "updated_at": created + timedelta(minutes=rng.randrange(600)),
        })  # fmt: skip
    return rows


def seed(store: Store, errors: int, conflicts: int, run_count: int, records: int) -> None:
    """Fill the store; prints how long it took."""
    rng = random.Random(7)
    started = time.perf_counter()
    _insert(store, runs, [
        {"flow": ("quote-to-cash", "receivables")[n % 2], "status": ("succeeded", "partial")[n % 2],
         "started_at": NOW - timedelta(minutes=15 * (run_count - n)),
         "finished_at": NOW - timedelta(minutes=15 * (run_count - n) - 2),
         "stats": {"api_calls": {"salesforce": 40}, "entities": {"order": {
             "billing": {"created": n % 50, "updated": 3, "rejected": n % 7}}}}}
        for n in range(run_count)
    ])  # fmt: skip
    canonical, xrefs = _record_rows(records)
    _insert(store, canonical_records, canonical)
    _insert(store, xref, xrefs)
    _insert(store, error_queue, _error_rows(errors, records, rng))
    _insert(store, error_attempts, [
        {"error_id": n + 1, "run_id": 1 + n % run_count, "at": NOW, "error_class": "RecordRejected",
         "code": "INVALID", "message": "rejected"}
        for n in range(errors)
    ])  # fmt: skip
    _insert(store, conflict_log, [
        {"run_id": 1 + n % run_count, "entity": "order", "canonical_id": f"c{n // 2:08d}",
         "target_system": "billing", "field": ("amount", "currency")[n % 2], "base_value": 1,
         "source_value": 2, "target_value": 3, "decision": "held", "created_at": NOW,
         "status": "open" if n % 5 == 0 else "decided"}
        for n in range(conflicts)
    ])  # fmt: skip
    # As autovacuum does to a table after many inserts: statistics, and the visibility map
    # that lets counts be answered from an index alone.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE"))
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def _time(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    call()  # warm the plan cache and the pool
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def _middle_cursor(store: Store, sort: ErrorSort, where: ErrorFilter) -> str:
    """The cursor after the row half-way down (set-up only: OFFSET here is not what is timed)."""
    with store.engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count()).select_from(error_queue).where(*where.where(NOW))
        ).scalar_one()
        query = (
            sa.select(error_queue).where(*where.where(NOW))
            .order_by(error_queue.c.created_at.desc(), error_queue.c.id.desc())
            .offset(count // 2).limit(1)
        )  # fmt: skip
        return encode_cursor(sort, error_row(connection.execute(query).one()))


def measure(store: Store, repeat: int, records: int) -> list[tuple[str, float, float, float]]:
    """(query, p50 ms, p95 ms, goal ms) for each console query."""
    rng = random.Random(11)
    opened = ErrorFilter(status=ErrorStatus.OPEN, entity="order")
    middle = _middle_cursor(store, ErrorSort.NEWEST, ErrorFilter())
    middle_filtered = _middle_cursor(store, ErrorSort.NEWEST, opened)

    def page(request: PageRequest) -> Callable[[], object]:
        def run() -> object:
            with store.engine.connect() as connection:
                return error_page(connection, request)

        return run

    def overview_call() -> object:
        with store.engine.connect() as connection:
            return overview(connection, ["quote-to-cash", "receivables"], datetime.now(UTC))

    def journey() -> object:
        with store.engine.connect() as connection:
            found = find_journeys(connection, str(10_000_000 + rng.randrange(records)))
            assert len(found) == 1
            return found

    cases = [
        ("error page: first", page(PageRequest()), 150.0),
        ("error page: middle (row 50,000)", page(PageRequest(after=middle)), 150.0),
        ("error page: last", page(PageRequest(last=True)), 150.0),
        ("error page: open orders, first", page(PageRequest(where=opened)), 150.0),
        ("error page: open orders, middle",
         page(PageRequest(where=opened, after=middle_filtered)), 150.0),
        ("error page: open orders, last", page(PageRequest(where=opened, last=True)), 150.0),
        ("error page: sorted by attempts, last",
         page(PageRequest(sort=ErrorSort.ATTEMPTS, last=True)), 150.0),
        ("error page: text 'value 4242 out'", page(PageRequest(text="value 4242 out")), 150.0),
        ("overview", overview_call, 300.0),
        ("journey by NetSuite id", journey, 100.0),
    ]  # fmt: skip
    return [(name, *_time(call, repeat), goal) for name, call, goal in cases]


def main() -> None:
    """Seed, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help="a PostgreSQL server")
    parser.add_argument("--errors", type=int, default=100_000)
    parser.add_argument("--conflicts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=50)
    options = parser.parse_args()
    store = _fresh_store(options.database_url)
    try:
        seed(store, options.errors, options.conflicts, options.runs, options.records)
        results = measure(store, options.repeat, options.records)
    finally:
        store.close()
    print(f"\n{options.errors:,} error rows, {options.conflicts:,} conflicts, "
          f"{options.runs:,} runs, "
          f"{options.records:,} records; {options.repeat} timings each (ms)\n")  # fmt: skip
    print("| query | p50 | p95 | goal (p95) | |\n|---|---:|---:|---:|---|")
    for name, p50, p95, goal in results:
        verdict = "ok" if p95 < goal else "OVER"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | < {goal:.0f} | {verdict} |")


if __name__ == "__main__":
    main()
