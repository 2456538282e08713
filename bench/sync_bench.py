"""Issue 6's sync benchmark (``bench/sync.py`` in the issue; named so it never shadows ``sync``).

Syncs N Salesforce sandbox records to billing and ERP with the real engine and prints, per size:
records/s, CPU seconds of the sync process per 1,000 records, API calls per 1,000 records per
system (and Salesforce's write calls apart), peak RSS, and what a no-change re-run costs.
Then finance bills in the ERP, as NetSuite users would (:mod:`sync.cli.demo_receivables`): an
invoice for every activated order the sync put there (about 60% of the orders), 80% of them
paid; the receivables flow carries those ERP records to Salesforce and billing, and its row
gives the same figures per 1,000 ERP records read. Salesforce holds more records than the ERP
read (each invoice's lines are records of their own), so the row also names how many records
Salesforce got and the write calls per 1,000 of them. On the same records it measures (a) the
floor, a hand-written map -> validate -> hash -> upsert loop into the same store with no HTTP,
against the engine's capture stage fed the same decoded pages; and (b) the naive script:
simple-salesforce reads, then one write call per record to billing and to ERP (through
revbridge's own clients with batches of one, so only the call pattern differs), also with 50 ms
of injected latency per call. Sandboxes and each measured run live in child processes, so CPU
and RSS figures are the sync's own.

    .venv/bin/python bench/sync_bench.py --sizes 10000,100000
    .venv/bin/python bench/sync_bench.py --quick
    .venv/bin/python bench/sync_bench.py --sizes 10000 --latency-records 1000 \
        --latency-engine-records 10000     # the engine's 50 ms rate at scale
    .venv/bin/python bench/sync_bench.py --sizes "" --latency-records 1000 \
        --latency-engine-records 10000     # only the 50 ms comparison (~2 min)
    .venv/bin/python bench/sync_bench.py --sizes "" --latency-records 0 \
        --realistic-records 10000          # issue 14's platform ceiling (~2 min)

``--realistic-records`` runs the engine under issue 14's realistic profile (Salesforce 150 ms a
call, billing 100 ms, NetSuite 1.5 s per upsertList with 4 calls at once; see
``sync_bench_ceiling.py``) and prints the ceiling those latencies set and the engine's share.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import statistics
import sys
import tempfile
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench_ceiling import HEADER as CEILING_HEADER
from sync_bench_ceiling import PROFILE, TITLE, ceiling, set_realistic, share_rows
from sync_bench_runs import Document, bill_in_erp, capture_vs_floor, engine_run, naive_script
from sync_bench_store import backend_name, fresh_database

from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import RECEIVABLES

LATENCY_SECONDS = 0.05
# Finance invoices every order the first sync put in the ERP (activated ones: NetSuite bills
# fulfilled orders) and records payments of this share of the invoices.
PAID_SHARE = 0.8


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
            elif command[0] == "realistic":
                set_realistic(sandboxes)
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
        "salesforce_writes": sandboxes.salesforce.write_calls,
        "salesforce_held": sandboxes.salesforce.record_count,
        "billing": sandboxes.billing.calls,
        "billing_saved": sum(n for (_, kind), n in billing_writes.items() if kind != "unchanged"),
        "erp": sandboxes.erp.calls,
        "erp_saved": sum(sandboxes.erp.upsert_count.values()),
        "erp_upserts": sandboxes.erp.operations["upsertList"],
        "erp_answered": sum(sandboxes.erp.operations.values()),
        "erp_max_in_flight": sandboxes.erp.max_concurrent_calls,  # since the sandbox started
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

    @property
    def pid(self) -> int:
        """The sandboxes' process id (to sample its memory)."""
        return int(self._process.pid or 0)

    def counters(self) -> dict[str, int]:
        """Calls served and records saved so far, per system."""
        self._pipe.send(("counters",))
        counters: dict[str, int] = self._pipe.recv()
        return counters

    def set_latency(self, seconds: float) -> None:
        """Delay every Salesforce data call, billing request and ERP SOAP call."""
        self._pipe.send(("latency", seconds))
        self._pipe.recv()

    def set_realistic(self) -> None:
        """Issue 14's platform latencies, and the ERP's concurrency limit enforced."""
        self._pipe.send(("realistic",))
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
    if "error" in result:
        raise RuntimeError(f"{work.__name__} failed in its child process:\n{result['error']}")
    return result


def _child_main(
    work: Callable[..., dict[str, Any]], args: tuple[Any, ...], pipe: Connection
) -> None:
    logging.basicConfig(level=logging.ERROR)  # the seed's bad records are rejected by design
    try:
        pipe.send(work(*args))
    except Exception:
        pipe.send({"error": traceback.format_exc()})


# --- orchestration and the results table ---------------------------------------------------------


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in after}


def bench_size(records: int, args: argparse.Namespace, folder: str) -> list[list[str]]:
    """Every row for one size: engine first run, no-change re-run, floor, capture, naive."""
    host = SandboxHost(records)
    url = fresh_database("sqlite://", folder, f"engine-{records}")
    try:
        before = host.counters()
        first = run_in_child(engine_run, host.document, url)
        mid = host.counters()
        again = run_in_child(engine_run, host.document, url)
        noop = _delta(mid, host.counters())
        first_calls = _delta(before, mid)
        billed = run_in_child(bill_in_erp, host.document, url, PAID_SHARE)
        ready = host.counters()
        receivables = run_in_child(engine_run, host.document, url, 100, RECEIVABLES)
        receivables_calls = _delta(ready, host.counters())
        # Floor and capture hold every decoded page in memory: measured up to --stage-max.
        stage = (
            run_in_child(capture_vs_floor, host.document, folder, args.repeat)
            if records <= args.stage_max
            else None
        )
    finally:
        host.stop()
    naive, naive_calls = _naive_run(min(records, args.naive_records))
    n = int(first["records"])
    naive_rate = naive["records"] / naive["seconds"]
    engine_rows = [
        _run_row(f"engine, first sync ({n:,} read)", first, first_calls),
        ["engine, no-change re-run", f"{int(again['records']):,}", f"{again['seconds']:.2f}", "-",
         "-", f"{noop['salesforce']} calls ({int(again['entities'])} entities)",
         f"{noop['salesforce_writes']}", f"{noop['billing']} calls", f"{noop['erp']} calls",
         f"{again['rss_mb']:.0f}"],
        _receivables_row(receivables, receivables_calls, billed),
    ]  # fmt: skip
    naive_row = _run_row(
        f"(b) naive, {_failed(naive)} (all {n:,}: ~{n / naive_rate:,.0f} s)", naive, naive_calls
    )
    if stage is None:
        return [*engine_rows, naive_row]
    return [
        *engine_rows,
        ["(a) floor: map+validate+hash+upsert", f"{int(stage['floor_records']):,}", "-",
         f"{stage['floor']:,.0f}", "-", "-", "-", "-", "-", "-"],
        [f"engine capture stage ({stage['capture'] / stage['floor']:.2f}x floor; by CPU "
         f"{stage['capture_cpu'] / stage['floor_cpu']:.2f}x)",
         f"{int(stage['capture_records']):,}", "-", f"{stage['capture']:,.0f}",
         "-", "-", "-", "-", "-", "-"],
        naive_row,
    ]  # fmt: skip


def compare_databases(records: int, database_url: str, folder: str, rounds: int) -> list[list[str]]:
    """First syncs into SQLite and into ``database_url``, alternating, each on fresh sandboxes.

    Rounds alternate the two so that load from other processes falls on both alike; the ratio
    is of the median rates.
    """
    runs: dict[str, list[dict[str, Any]]] = {"SQLite": [], backend_name(database_url): []}
    rows: list[list[str]] = []
    for round_ in range(1, rounds + 1):
        for name, base in (("SQLite", "sqlite://"), (backend_name(database_url), database_url)):
            host = SandboxHost(records)
            try:
                before = host.counters()
                url = fresh_database(base, folder, f"compare-{records}-{round_}")
                run = run_in_child(engine_run, host.document, url)
                calls = _delta(before, host.counters())
            finally:
                host.stop()
            runs[name].append(run)
            status = "" if run["status"] == "succeeded" else f" (**{run['status']}**)"
            rows.append(_run_row(f"first sync, {name}, round {round_}{status}", run, calls))
    medians = {name: statistics.median(r["records"] / r["seconds"] for r in done)
               for name, done in runs.items()}  # fmt: skip
    other = backend_name(database_url)
    ratio = medians[other] / medians["SQLite"]
    rows.append(
        [
            f"median: {other} {medians[other]:,.0f} / SQLite {medians['SQLite']:,.0f} "
            f"records/s = **{ratio:.2f}x**",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
    )
    return rows  # fmt: skip


def _naive_run(records: int, latency: float = 0.0) -> tuple[dict[str, Any], dict[str, int]]:
    """The naive script on a seed of its own (same generator, so the same mix of entities)."""
    host = SandboxHost(records)
    try:
        host.set_latency(latency)
        before = host.counters()
        naive = run_in_child(naive_script, host.document)
        return naive, _delta(before, host.counters())
    finally:
        host.stop()


def _failed(run: dict[str, Any]) -> str:
    return f"{int(run['failed'])} not landed"


def _receivables_row(
    run: dict[str, Any], calls: dict[str, int], billed: dict[str, int]
) -> list[str]:
    """The receivables run; Salesforce holds more records than the ERP read (invoice lines)."""
    created = calls["salesforce_held"]
    name = (
        f"engine, receivables ({int(run['records']):,} ERP read = {billed['invoices']:,} "
        f"invoices + {billed['payments']:,} payments -> {created:,} SF records, "
        f"{calls['salesforce_writes'] * 1000 / max(1, created):.2f} SF writes/1k of them; "
        f"{int(run['rejected'])} rejected)"
    )
    return _run_row(name, run, calls)


def _run_row(name: str, run: dict[str, Any], calls: dict[str, int]) -> list[str]:
    per_k = 1000 / max(1, run["records"])
    return [name, f"{int(run['records']):,}", f"{run['seconds']:.2f}",
            f"{run['records'] / run['seconds']:,.0f}", f"{run['cpu'] * per_k:.2f}",
            f"{calls['salesforce'] * per_k:.1f}", f"{calls['salesforce_writes'] * per_k:.1f}",
            f"{calls['billing'] * per_k:.1f}",
            f"{calls['erp'] * per_k:.1f}", f"{run['rss_mb']:.0f}"]  # fmt: skip


def bench_latency(records: int, folder: str, engine_records: int | None = None) -> list[list[str]]:
    """Engine and naive script with 50 ms added to every call (the engine on its own seed size).

    The naive script's rate does not depend on the seed's size (one call per record); the
    engine's grows with it, as fixed costs per entity and page spread over more records.
    """
    naive, naive_calls = _naive_run(records, LATENCY_SECONDS)
    host = SandboxHost(engine_records or records)
    try:
        host.set_latency(LATENCY_SECONDS)
        before = host.counters()
        engine = run_in_child(engine_run, host.document, f"sqlite:///{Path(folder) / 'slow.db'}")
        engine_calls = _delta(before, host.counters())
    finally:
        host.stop()
    speedup = (engine["records"] / engine["seconds"]) / (naive["records"] / naive["seconds"])
    return [
        _run_row(f"(b) naive, 50 ms/call, {_failed(naive)}", naive, naive_calls),
        _run_row(f"engine, 50 ms/call ({speedup:.1f}x naive)", engine, engine_calls),
    ]


def bench_realistic(records: int, folder: str) -> list[list[str]]:
    """The engine under the realistic profile, against the ceiling its calls set."""
    host = SandboxHost(records)
    try:
        host.set_realistic()
        before = host.counters()
        engine = run_in_child(engine_run, host.document, f"sqlite:///{Path(folder) / 'real.db'}")
        after = host.counters()
    finally:
        host.stop()
    calls = _delta(before, after) | {"erp_max_in_flight": after["erp_max_in_flight"]}
    bound, rows = ceiling(calls)
    return [*rows, *share_rows(engine, bound, calls)]


HEADER = ("scenario", "records", "seconds", "records/s", "CPU s/1k", "SF calls/1k",
          "SF writes/1k", "billing calls/1k", "ERP calls/1k", "peak RSS MB")  # fmt: skip


def print_table(title: str, rows: list[list[str]], header: tuple[str, ...] = HEADER) -> None:
    """A Markdown table, ready to paste into the README."""
    widths = [max(len(str(row[i])) for row in [list(header), *rows]) for i in range(len(header))]
    print(f"\n{title}\n")
    for row in [list(header), ["-" * w for w in widths], *rows]:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                 enumerate(zip(row, widths, strict=True))]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    """Parse arguments, run every size and the latency comparison, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help='source records, comma-separated ("": none)'
    )
    parser.add_argument("--naive-records", type=int, default=3000, help="cap for (b) on loopback")
    parser.add_argument(
        "--latency-records", type=int, default=300, help="seed for the 50 ms runs (0: none)"
    )
    parser.add_argument(
        "--latency-engine-records", type=int, help="the engine's seed for 50 ms (default: same)"
    )
    parser.add_argument(
        "--realistic-records", type=int, default=0, help="seed for the realistic profile (0: none)"
    )
    parser.add_argument("--repeat", type=int, default=2, help="best of N for floor vs capture")
    parser.add_argument(
        "--stage-max", type=int, default=100_000, help="largest size to run floor vs capture on"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 records, small caps, 1 repeat")
    parser.add_argument(
        "--database-url",
        help="per size, also compare first syncs on SQLite and this database (postgresql+psycopg://...)",
    )
    parser.add_argument("--database-rounds", type=int, default=2, help="SQLite/other pairs")
    parser.add_argument(
        "--only-databases", action="store_true", help="with --database-url: only that comparison"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.naive_records, args.latency_records, args.repeat = "2000", 500, 100, 1
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(text) for text in args.sizes.split(",") if text.strip()):
            if args.database_url:
                rows = compare_databases(size, args.database_url, folder, args.database_rounds)
                print_table(f"~{size:,} source records, first sync by database, loopback", rows)
            if not args.only_databases:
                print_table(
                    f"~{size:,} source records, SQLite, loopback", bench_size(size, args, folder)
                )
        if args.only_databases:
            return
        if args.latency_records:
            engine_records = args.latency_engine_records or args.latency_records
            latency_rows = bench_latency(args.latency_records, folder, engine_records)
            sizes = f"~{args.latency_records:,}"
            if engine_records != args.latency_records:
                sizes += f" (naive) and ~{engine_records:,} (engine)"
            print_table(f"{sizes} source records, 50 ms per call", latency_rows)
        if args.realistic_records:
            title = f"~{args.realistic_records:,} source records, {PROFILE}; {TITLE}"
            print_table(title, bench_realistic(args.realistic_records, folder), CEILING_HEADER)


if __name__ == "__main__":
    main()
