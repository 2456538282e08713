"""Where the engine's main thread spends the 50 ms comparison's run: a sampling profile.

py-spy and yappi are not installed on this project's machine and cProfile inflates the cost of
small Python calls several times over (simpleeval's, most of all), so this samples the main
thread's stack every few milliseconds from a second thread, as py-spy would, and counts each
sample once by the engine stage it falls in (the innermost known frame) and once by the code
it was running (the innermost frame, grouped by package). Samples are wall-clock: on a loaded
machine a stage's share includes the time it waited for a core.

    .venv/bin/python bench/sync_bench_profile.py --records 10000            # 50 ms per call
    .venv/bin/python bench/sync_bench_profile.py --records 10000 --latency 0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench import LATENCY_SECONDS, SandboxHost, print_table, run_in_child
from sync_bench_runs import Document, measured, open_systems

from mappings.loader import load_mapping_set
from sync.engine.flows import QUOTE_TO_CASH
from sync.engine.run import SyncEngine
from sync.store import Store

# Engine stages by function name, the innermost on the stack wins (ARCHITECTURE.md's path).
STAGES = {
    "capture_page": "capture (map, validate, hash)",
    "plan_delivery": "delivery planning (target payloads, payload hashes)",
    "call_all": "billing writes (waiting on answers)",
    "commit_page": "page commits (store)",
    "flush": "waiting for the ERP's last calls",
    "commit_until": "committing landed pages while a read is in flight",
    "_peek": "waiting for the next source page",
    "content_hashes": "stored-hash lookups (store)",
}
# Innermost frames by where their code lives.
AREAS = (
    ("simpleeval", "mapping `when`/`expr` rules (simpleeval)"),
    ("/mappings/expressions", "mapping `when`/`expr` rules (simpleeval)"),
    ("<mapping", "generated mapping code"),
    ("/mappings/", "mapping closures and coercion"),
    ("pydantic", "pydantic"),
    ("json/", "json encode/decode"),
    ("sqlite3", "SQLite"),
    ("sqlalchemy", "SQLAlchemy and the driver's C code under it"),
    ("psycopg", "psycopg"),
    ("/sync/store/", "store code"),
    ("/sync/engine/", "engine code"),
    ("threading.py", "waiting (locks, queues)"),
    ("concurrent/futures", "waiting (locks, queues)"),
    ("/connectors/", "connectors"),
    ("requests", "HTTP client"),
    ("urllib3", "HTTP client"),
)


def _stage(frame: FrameType | None) -> str:
    while frame is not None:  # innermost first: a commit made while waiting is a commit
        if frame.f_code.co_name in STAGES:
            return STAGES[frame.f_code.co_name]
        frame = frame.f_back
    return "other (run bookkeeping, cursors, retries)"


def _area(frame: FrameType) -> str:
    where = frame.f_code.co_filename
    for marker, area in AREAS:
        if marker in where:
            return area
    return f"other ({Path(where).name}:{frame.f_code.co_name})"


def sampled_run(document: Document, database_url: str, interval: float) -> dict[str, Any]:
    """``engine_run``'s run, its main thread sampled every ``interval`` s while the run runs."""
    store = Store(database_url)
    store.record_events = False  # as engine_run: `revbridge run` with no events sink
    systems = open_systems(document)
    engine = SyncEngine(store, load_mapping_set(), systems, QUOTE_TO_CASH)
    main, stages, areas = threading.get_ident(), Counter[str](), Counter[str]()
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            frame = sys._current_frames().get(main)
            if frame is not None:
                stages[_stage(frame)] += 1
                areas[_area(frame)] += 1

    def run() -> int:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            summary = engine.run()
        finally:
            done.set()
            sampler.join()
        source = summary.systems.get(QUOTE_TO_CASH.source)
        return source.read if source else 0

    try:
        result = measured(run)
    finally:
        for connector in systems.values():
            connector.close()
        store.close()
    return result | {"stages": dict(stages), "areas": dict(areas)}


def _rows(counts: dict[str, int], seconds: float, top: int = 12) -> list[list[str]]:
    """The ``top`` largest counts, the rest summed into one row."""
    total, ranked = sum(counts.values()) or 1, Counter(counts).most_common()
    if len(ranked) > top:
        ranked = [*ranked[:top], ("everything else", sum(n for _, n in ranked[top:]))]
    return [[name, f"{n:,}", f"{n / total:.1%}", f"{seconds * n / total:.2f}"]
            for name, n in ranked]  # fmt: skip


def main() -> None:
    """Seed, set the latency, run the engine once under the sampler, print both tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000, help="source records to seed")
    parser.add_argument("--latency", type=float, default=LATENCY_SECONDS, help="seconds a call")
    parser.add_argument("--interval", type=float, default=0.005, help="seconds between samples")
    args = parser.parse_args()
    host = SandboxHost(args.records)
    try:
        host.set_latency(args.latency)
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'profile.db'}"
            run = run_in_child(sampled_run, host.document, url, args.interval)
    finally:
        host.stop()
    n, seconds = int(run["records"]), float(run["seconds"])
    title = (f"{n:,} records in {seconds:.2f} s ({n / seconds:,.0f}/s), {run['cpu']:.2f} CPU s, "
             f"{args.latency * 1000:.0f} ms per call; the main thread, sampled every "
             f"{args.interval * 1000:.0f} ms")  # fmt: skip
    header = ("", "samples", "share", "seconds (share of the run)")
    print_table(f"{title}: by engine stage", _rows(run["stages"], seconds), header)
    print_table(f"{title}: by the code running", _rows(run["areas"], seconds), header)


if __name__ == "__main__":
    main()
