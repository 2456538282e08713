"""The engine's first sync with its memory printed as it goes (issue 6: flat RSS at 1M).

Runs the quote-to-cash flow in this process (as ``sync_bench_runs.engine_run`` does) against
the sandboxes served by a child process, and every ``--every`` pages prints records read, this
process's RSS and the sandbox process's RSS. ``--trace N`` adds tracemalloc from page
``--trace-from`` on: every N pages, the allocations that grew most since the previous snapshot.

    .venv/bin/python bench/memory_run.py 100000
    .venv/bin/python bench/memory_run.py 1000000 --every 10         # ~15-25 min
    .venv/bin/python bench/memory_run.py 100000 --trace 4 --trace-from 38 --frames 6
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench import SandboxHost
from sync_bench_runs import open_systems

from mappings.loader import load_mapping_set
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process, in MB."""
    with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb(pid: int) -> float:
    """The most resident memory a process has had (VmHWM), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


class Tracer:
    """tracemalloc snapshots every ``every`` pages from page ``start``; prints the growth."""

    def __init__(self, every: int, start: int, frames: int) -> None:
        self._every, self._start, self._frames = every, start, frames
        self._last: tracemalloc.Snapshot | None = None

    def page(self, number: int) -> None:
        """Called after each committed page."""
        if not self._every or number < self._start:
            return
        if number == self._start:
            tracemalloc.start(self._frames)
        elif (number - self._start) % self._every == 0:
            gc.collect()
            snapshot = tracemalloc.take_snapshot()
            if self._last is not None:
                self._print(snapshot.compare_to(self._last, "traceback"), number)
            self._last = snapshot

    def _print(self, stats: list[tracemalloc.StatisticDiff], number: int) -> None:
        total = sum(stat.size_diff for stat in stats) / 1e6
        print(f"--- growth over pages {number - self._every}..{number}: {total:.2f} MB")
        for stat in stats[:8]:
            print(f"{stat.size_diff / 1e3:9.1f} kB {stat.count_diff:7d} blocks")
            for line in stat.traceback.format():
                print("     ", line)


def main() -> None:
    """Parse arguments, start the sandboxes, run the engine, print memory per page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=int, help="source records to seed (about)")
    parser.add_argument("--every", type=int, default=10, help="print every N pages")
    parser.add_argument("--trace", type=int, default=0, help="tracemalloc diff every N pages")
    parser.add_argument("--trace-from", type=int, default=10, help="page to start tracing at")
    parser.add_argument("--frames", type=int, default=6, help="traceback depth")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    host = SandboxHost(args.records)
    sandbox_pid = host.pid
    print(f"sandbox seeded: rss {rss_mb(sandbox_pid):.0f} MB, peak {peak_rss_mb(sandbox_pid):.0f} "
          f"MB, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    tracer = Tracer(args.trace, args.trace_from, args.frames)
    started = time.monotonic()

    def on_page(entity: str, summary: RunSummary) -> None:
        tracer.page(summary.pages)
        if summary.pages % args.every == 0:
            read = summary.systems["salesforce"].read
            print(f"page {summary.pages} {entity} read {read} rss {rss_mb():.1f} MB sandbox "
                  f"{rss_mb(sandbox_pid):.0f} MB at {time.monotonic() - started:.0f} s, load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        store = Store(f"sqlite:///{Path(folder) / 'memory.db'}")
        systems = open_systems(host.document)
        engine = SyncEngine(store, load_mapping_set(), systems, QUOTE_TO_CASH, on_page=on_page)
        summary = engine.run()
        for connector in systems.values():
            connector.close()
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{summary.status.value}: {summary.pages} pages, {summary.systems['salesforce'].read} "
          f"read, rss {rss_mb():.1f} MB, peak {peak:.1f} MB, sandbox {rss_mb(sandbox_pid):.0f} "
          f"MB (peak {peak_rss_mb(sandbox_pid):.0f} MB), {time.monotonic() - started:.0f} s, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    host.stop()


if __name__ == "__main__":
    main()
