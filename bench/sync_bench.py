"""Issue 6's sync benchmark (``bench/sync.py`` in the issue; named so it never shadows ``sync``).

Syncs N Salesforce sandbox records to billing and ERP with the real engine and prints, per size:
records/s, CPU seconds of the sync process per 1,000 records, API calls per 1,000 records per
system, peak RSS, and what a no-change re-run costs. On the same records it measures (a) the
floor, a hand-written map -> validate -> hash -> upsert loop into the same store with no HTTP,
against the engine's capture stage fed the same decoded pages; and (b) the naive script:
simple-salesforce reads, then one write call per record to billing and to ERP (through
revbridge's own clients with batches of one, so only the call pattern differs), also with 50 ms
of injected latency per call. Sandboxes and each measured run live in child processes, so CPU
and RSS figures are the sync's own.

    .venv/bin/python bench/sync_bench.py --sizes 10000,100000
    .venv/bin/python bench/sync_bench.py --quick
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from simple_salesforce import Salesforce

from config.settings import BillingSettings, ErpSettings, RetrySettings, SalesforceSettings
from connectors.base import Connector, Page
from connectors.billing import BillingConnector
from connectors.erp import ErpConnector
from connectors.salesforce import SalesforceConnector
from connectors.salesforce_auth import build_http_session, open_session
from connectors.salesforce_soql import build_read_soql
from mappings.canonical import model_for
from mappings.errors import MappingError
from mappings.loader import load_mapping_set
from mappings.mapping_set import EntityMapping, MappingSet
from sync.capture import capture_page
from sync.commit import PageOutcome, commit_page
from sync.engine import SyncEngine
from sync.flows import QUOTE_TO_CASH
from sync.resolver import StoreRefResolver
from sync.sandboxes import Sandboxes, SandboxSize
from sync.specs import read_spec, write_spec
from sync.store import Store
from sync.store.records import content_hashes
from sync.store.runs import start_run
from sync.store.schema import canonical_records, utc_now
from sync.store.upsert import upsert_rows

LATENCY_SECONDS = 0.05
Document = dict[str, Any]


# --- the sandboxes, in a child process of their own -------------------------------------------


def sandbox_size(records: int) -> SandboxSize:
    """A seed yielding about ``records`` source records (the CPQ seed reads ~3.2 per order)."""
    orders = max(10, round(records / 3.2))
    return SandboxSize(accounts=max(5, orders // 10), orders=orders, invalid_records=False)


def _serve_sandboxes(size: SandboxSize, pipe: Connection) -> None:
    with Sandboxes(size) as sandboxes:
        pipe.send(sandboxes.settings_document("sqlite://"))
        while (command := pipe.recv())[0] != "stop":
            if command[0] == "latency":
                _set_latency(sandboxes, command[1])
            pipe.send(_counters(sandboxes))


def _set_latency(sandboxes: Sandboxes, seconds: float) -> None:
    sandboxes.billing.set_latency(seconds)
    sandboxes.erp.configure_faults(latency_seconds=seconds)
    sandboxes.erp.fault_rates({"latency": 1.0 if seconds else 0.0})
    sandboxes.salesforce.faults.clear()
    if seconds:
        sandboxes.salesforce.add_latency(seconds, times=10**9)


def _counters(sandboxes: Sandboxes) -> dict[str, int]:
    billing_writes = sandboxes.billing.writes
    return {
        "salesforce": sandboxes.salesforce.api_calls,
        "billing": sandboxes.billing.calls,
        "billing_saved": sum(n for (_, kind), n in billing_writes.items() if kind != "unchanged"),
        "erp": sandboxes.erp.calls,
        "erp_saved": sum(sandboxes.erp.upsert_count.values()),
    }


class SandboxHost:
    """The three sandboxes served by a child process; asks it for counters and latency."""

    def __init__(self, records: int) -> None:
        self._pipe, child = multiprocessing.Pipe()
        context = multiprocessing.get_context("spawn")
        self._process = context.Process(
            target=_serve_sandboxes, args=(sandbox_size(records), child)
        )
        self._process.start()
        self.document: Document = self._pipe.recv()

    def counters(self) -> dict[str, int]:
        """Calls served and records saved so far, per system."""
        self._pipe.send(("counters",))
        counters: dict[str, int] = self._pipe.recv()
        return counters

    def set_latency(self, seconds: float) -> None:
        """Delay every Salesforce data call, billing request and ERP SOAP call."""
        self._pipe.send(("latency", seconds))
        self._pipe.recv()

    def stop(self) -> None:
        """Stop the sandboxes and their process."""
        self._pipe.send(("stop",))
        self._process.join()


def run_in_child(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run ``work(*args)`` in a fresh interpreter, so its peak RSS and CPU time are its own."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_child_main, args=(work, args, sender))
    process.start()
    result: dict[str, Any] = receiver.recv()
    process.join()
    return result


def _child_main(
    work: Callable[..., dict[str, Any]], args: tuple[Any, ...], pipe: Connection
) -> None:
    logging.basicConfig(level=logging.ERROR)
    pipe.send(work(*args))


# --- connectors and measurement helpers --------------------------------------------------------


def open_systems(document: Document, erp_batch: int = 100) -> dict[str, Connector]:
    """Connectors for the sandboxes in ``document`` (``erp_batch`` records per upsertList)."""
    retry = RetrySettings()
    billing = document["billing"]
    erp = ErpSettings(
        **document["erp"], batch_size=erp_batch, concurrency=1 if erp_batch == 1 else 4
    )
    return {
        "salesforce": SalesforceConnector(SalesforceSettings(**document["salesforce"]), retry),
        "billing": BillingConnector(
            BillingSettings(base_url=billing["base_url"], api_key=SecretStr(billing["api_key"])),
            retry,
        ),
        "erp": ErpConnector(erp, retry),
    }


def measured(work: Callable[[], int]) -> dict[str, float]:
    """Records, wall seconds, CPU seconds and peak RSS (MB) of ``work`` in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    records = work()
    return {
        "records": records,
        "seconds": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


class MemoryRefs:
    """Ref lookups from dicts filled as records are captured and written (floor and naive)."""

    def __init__(self) -> None:
        self.inbound: dict[tuple[str, str, str], str] = {}
        self.outbound: dict[tuple[str, str, str], str] = {}

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """The canonical id of a source record captured earlier."""
        return self.inbound.get((entity, system, system_id))

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """The id a target gave a record written earlier."""
        return self.outbound.get((entity, system, canonical_id))


# --- the engine, end to end ----------------------------------------------------------------------


def engine_run(document: Document, database_url: str, erp_batch: int = 100) -> dict[str, Any]:
    """One engine run of the quote-to-cash flow (child process)."""
    store = Store(database_url)
    systems = open_systems(document, erp_batch)
    engine = SyncEngine(store, load_mapping_set(), systems, QUOTE_TO_CASH)
    summaries = []

    def sync() -> int:
        summaries.append(engine.run())
        return summaries[0].systems["salesforce"].read

    result = measured(sync)
    for connector in systems.values():
        connector.close()
    store.close()
    return result | {"entities": len(summaries[0].by_entity)}


# --- (a) the floor and the engine's capture stage on the same decoded pages ----------------------


def read_pages(mapping_set: MappingSet, document: Document) -> list[tuple[EntityMapping, Page]]:
    """Every source page of the flow, decoded by the Salesforce connector, parents first."""
    source = open_systems(document)["salesforce"]
    pages = [
        (mapping, page)
        for mapping in mapping_set.source_entities("salesforce")
        for page in source.read(read_spec(mapping), None)
    ]
    source.close()
    return pages


def floor_loop(pages: list[tuple[EntityMapping, Page]], store: Store) -> int:
    """Map -> validate -> hash -> upsert, nothing else: the cost any sync must pay."""
    refs, stored = MemoryRefs(), 0
    for mapping, page in pages:
        rows = []
        for raw in page.records:
            try:
                record = model_for(mapping.entity).model_validate(mapping.to_canonical(raw, refs))
            except (MappingError, ValueError):
                continue
            refs.inbound[(mapping.entity, mapping.system, str(raw[mapping.key_field]))] = record.id
            digest = hashlib.sha256(record.model_dump_json().encode()).hexdigest()
            rows.append({"canonical_id": record.id, "entity": mapping.entity,
                         "payload": record.model_dump(mode="json"), "content_hash": digest,
                         "source_system": mapping.system, "source_object": mapping.object_name,
                         "source_id": record.source.id, "is_deleted": False,
                         "source_modified_at": record.source_modified_at,
                         "updated_at": utc_now()})  # fmt: skip
        with store.transaction() as connection:
            upsert_rows(connection, canonical_records, rows, ["canonical_id"])
        stored += len(rows)
    return stored


def engine_capture(pages: list[tuple[EntityMapping, Page]], store: Store) -> int:
    """The engine's capture stage: capture_page, stored-hash compare, commit_page (no targets)."""
    with store.transaction() as connection:
        run_id = start_run(connection, QUOTE_TO_CASH.name)
    resolver, stored = StoreRefResolver(store.engine), 0
    for mapping, page in pages:
        captured, failures = capture_page(mapping, page.records, resolver)
        with store.engine.connect() as connection:
            hashes = content_hashes(connection, [c.record.id for c in captured])
        changed = [c for c in captured if hashes.get(c.record.id) != c.content_hash]
        outcome = PageOutcome(mapping, captured, changed, failures, (), page.cursor)
        commit_page(store, QUOTE_TO_CASH.name, outcome, run_id)
        stored += len(changed)
    return stored


def capture_vs_floor(document: Document, folder: str, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` records/s of the floor and of the capture stage (child process)."""
    pages = read_pages(load_mapping_set(), document)
    best: dict[str, float] = {"floor": 0.0, "capture": 0.0}
    for attempt in range(repeat):
        for name, loop in (("floor", floor_loop), ("capture", engine_capture)):
            store = Store(f"sqlite:///{Path(folder) / f'{name}-{attempt}.db'}")
            run = measured(lambda loop=loop, store=store: loop(pages, store))  # type: ignore[misc]
            store.close()
            best[name] = max(best[name], run["records"] / run["seconds"])
            best[f"{name}_records"] = run["records"]
    return best


# --- (b) the naive script ------------------------------------------------------------------------


def naive_records(document: Document, mapping: EntityMapping) -> Iterator[dict[str, Any]]:
    """simple-salesforce queryAll of one object, attributes dropped, subqueries as lists."""
    settings = SalesforceSettings(**document["salesforce"])
    http = build_http_session(settings)
    session = open_session(http, settings)
    client = Salesforce(instance_url=session.instance_url, session=http,
                        session_id=session.access_token.get_secret_value())  # fmt: skip
    for raw in client.query_all_iter(
        build_read_soql(read_spec(mapping), None), include_deleted=True
    ):
        yield {
            name: [_plain(child) for child in value["records"]] if _is_subquery(value) else value
            for name, value in _plain(raw).items()
        }


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in record.items() if name != "attributes"}


def _is_subquery(value: Any) -> bool:
    return isinstance(value, dict) and "records" in value


def naive_script(document: Document, limit: int) -> dict[str, Any]:
    """Read, map, and write each record with one call per target, up to ``limit`` records."""
    mapping_set, refs = load_mapping_set(), MemoryRefs()
    systems = open_systems(document, erp_batch=1)

    def sync() -> int:
        done = 0
        for mapping in mapping_set.source_entities("salesforce"):
            targets = mapping_set.targets_for(mapping.entity, "salesforce")
            for raw in naive_records(document, mapping):
                if done >= limit:
                    return done
                done += _naive_one(mapping, targets, raw, systems, refs)
        return done

    result = measured(sync)
    for connector in systems.values():
        connector.close()
    return result


def _naive_one(
    mapping: EntityMapping,
    targets: list[EntityMapping],
    raw: dict[str, Any],
    systems: dict[str, Connector],
    refs: MemoryRefs,
) -> int:
    try:
        record = model_for(mapping.entity).model_validate(mapping.to_canonical(raw, refs))
        refs.inbound[(mapping.entity, mapping.system, str(raw[mapping.key_field]))] = record.id
        canonical = record.model_dump(mode="json")
        for target in targets:
            payload = target.from_canonical(canonical, refs)
            result = systems[target.system].write(write_spec(target), [payload])[0]
            if result.ok and result.target_id:
                refs.outbound[(target.entity, target.system, record.id)] = result.target_id
    except (MappingError, ValueError):
        return 0
    return 1


# --- orchestration and the results table ---------------------------------------------------------


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def bench_size(records: int, args: argparse.Namespace, folder: str) -> list[list[str]]:
    """Every row for one size: engine first run, no-change re-run, floor, capture, naive."""
    host = SandboxHost(records)
    url = f"sqlite:///{Path(folder) / f'engine-{records}.db'}"
    try:
        before = host.counters()
        first = run_in_child(engine_run, host.document, url)
        mid = host.counters()
        again = run_in_child(engine_run, host.document, url)
        noop = _delta(mid, host.counters())
        first_calls = _delta(before, mid)
        stage = run_in_child(capture_vs_floor, host.document, folder, args.repeat)
        cap = min(records, args.naive_records)
        before = host.counters()
        naive = run_in_child(naive_script, host.document, cap)
        naive_calls = _delta(before, host.counters())
    finally:
        host.stop()
    n = int(first["records"])
    return [
        _run_row(f"engine, first sync ({n:,} read)", first, first_calls),
        ["engine, no-change re-run", f"{int(again['records']):,}", f"{again['seconds']:.2f}", "-",
         "-", f"{noop['salesforce']} calls ({int(again['entities'])} entities)",
         f"{noop['billing']} calls", f"{noop['erp']} calls", f"{again['rss_mb']:.0f}"],
        ["(a) floor: map+validate+hash+upsert", f"{int(stage['floor_records']):,}", "-",
         f"{stage['floor']:,.0f}", "-", "-", "-", "-", "-"],
        [f"engine capture stage ({stage['capture'] / stage['floor']:.2f}x floor)",
         f"{int(stage['capture_records']):,}", "-", f"{stage['capture']:,.0f}",
         "-", "-", "-", "-", "-"],
        _run_row(f"(b) naive, first {cap:,} (N/rate: {n / (naive['records'] / naive['seconds']):,.0f} s)",
                 naive, naive_calls),
    ]  # fmt: skip


def _run_row(name: str, run: dict[str, Any], calls: dict[str, int]) -> list[str]:
    per_k = 1000 / max(1, run["records"])
    return [name, f"{int(run['records']):,}", f"{run['seconds']:.2f}",
            f"{run['records'] / run['seconds']:,.0f}", f"{run['cpu'] * per_k:.2f}",
            f"{calls['salesforce'] * per_k:.1f}", f"{calls['billing'] * per_k:.0f}",
            f"{calls['erp'] * per_k:.1f}", f"{run['rss_mb']:.0f}"]  # fmt: skip


def bench_latency(records: int, folder: str) -> list[list[str]]:
    """Engine and naive script on the same small seed with 50 ms added to every call."""
    host = SandboxHost(records)
    url = f"sqlite:///{Path(folder) / 'latency.db'}"
    rows = []
    try:
        host.set_latency(LATENCY_SECONDS)
        for name, work, work_args in (
            ("(b) naive, 50 ms/call", naive_script, (host.document, records)),
            ("engine, 50 ms/call", engine_run, (host.document, url)),
        ):
            before = host.counters()
            run = run_in_child(work, *work_args)
            rows.append(_run_row(name, run, _delta(before, host.counters())))
    finally:
        host.stop()
    return rows


HEADER = ("scenario", "records", "seconds", "records/s", "CPU s/1k", "SF calls/1k",
          "billing calls/1k", "ERP calls/1k", "peak RSS MB")  # fmt: skip


def print_table(title: str, rows: list[list[str]]) -> None:
    """A Markdown table, ready to paste into the README."""
    widths = [max(len(str(row[i])) for row in [list(HEADER), *rows]) for i in range(len(HEADER))]
    print(f"\n{title}\n")
    for row in [list(HEADER), ["-" * w for w in widths], *rows]:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    """Parse arguments, run every size and the latency comparison, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="source records, comma-separated")
    parser.add_argument("--naive-records", type=int, default=3000, help="cap for (b) on loopback")
    parser.add_argument("--latency-records", type=int, default=300, help="seed for the 50 ms runs")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for floor vs capture")
    parser.add_argument("--quick", action="store_true", help="2,000 records, small caps, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.naive_records, args.latency_records, args.repeat = "2000", 500, 100, 1
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(text) for text in args.sizes.split(",")):
            print_table(
                f"~{size:,} source records, SQLite, loopback", bench_size(size, args, folder)
            )
        latency_rows = bench_latency(args.latency_records, folder)
    print_table(f"~{args.latency_records:,} source records, 50 ms per call", latency_rows)


if __name__ == "__main__":
    main()
