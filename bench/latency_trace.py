"""Where the engine's wall time goes at 50 ms a call: every request the sandboxes answer, timed.

A debugging aid for issue 6, not a benchmark: the sandboxes' request handler is wrapped (in
their own child process only) to note each request's system, method, path shape, start and
end. The engine runs once in another child process, as in ``sync_bench.py``. The report
counts calls per system, method and path; how long at least one call was in flight; how many
calls started while none was (each one a round trip the run waited for on its own, apart from
the client's CPU time between calls), and the peak number in flight.

    .venv/bin/python bench/latency_trace.py --records 2000
    .venv/bin/python bench/latency_trace.py --records 10000 --realistic

``--realistic`` puts issue 14's profile on the sandboxes instead (``sync_bench_ceiling.py``:
Salesforce 150 ms, billing 100 ms, NetSuite 1.5 s per upsertList, 4 ERP calls at once). Either
way the report adds, per system, how long 0, 1, 2, ... of its calls were in flight, and the ERP's
bursts: runs of calls with no gap, each with its calls, length and the idle time before it.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import re
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_bench import LATENCY_SECONDS, _set_latency, run_in_child, sandbox_size
from sync_bench_ceiling import set_realistic
from sync_bench_runs import engine_run

from connectors.salesforce.connector import SalesforceConnector
from sandboxes.server import SandboxRequestHandler
from sync.cli.sandboxes import Sandboxes, SandboxSize

Call = tuple[str, str, float, float]  # (system, "METHOD shape", start, end)

_SOQL_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)
_ID_LIKE = re.compile(r"/[A-Za-z0-9_-]*\d[A-Za-z0-9_-]{5,}")


def _shape(handler: SandboxRequestHandler) -> str:
    """The request's path without ids; the SOQL object for queries, the SOAP action for ERP."""
    parts = urlsplit(handler.path)
    if "/query" in parts.path:
        soql = parse_qs(parts.query).get("q", [""])[0]
        found = _SOQL_FROM.findall(soql)
        kind = "queryMore" if not soql else ("fetch" if " IN (" in soql else "query")
        return f"{kind} {'/'.join(found) or ''}"
    action = handler.headers.get("SOAPAction")
    if action:
        return f"soap {action.strip(chr(34)).rsplit('/', 1)[-1]}"
    return _ID_LIKE.sub("/{id}", parts.path)


def _install_trace(calls: list[Call], systems: dict[int, str]) -> None:
    parse, handle = SandboxRequestHandler.parse_request, SandboxRequestHandler.handle_one_request
    lock = threading.Lock()

    def parse_request(self: Any) -> bool:
        self._trace = (time.perf_counter(), None)
        ok = parse(self)
        if ok:
            self._trace = (self._trace[0], f"{self.command} {_shape(self)}")
        return ok

    def handle_one_request(self: Any) -> None:
        self._trace = (0.0, None)
        handle(self)
        start, name = self._trace
        if name is not None:
            system = systems.get(self.server.server_address[1], "?")
            with lock:
                calls.append((system, name, start, time.perf_counter()))

    SandboxRequestHandler.parse_request = parse_request  # type: ignore[method-assign]
    SandboxRequestHandler.handle_one_request = handle_one_request  # type: ignore[method-assign]


def _serve_traced(size: SandboxSize, latency: float | None, pipe: Connection) -> None:
    calls: list[Call] = []
    with Sandboxes(size) as sandboxes:
        ports = {
            urlsplit(url).port: name
            for name, url in (
                ("salesforce", sandboxes.salesforce.url),
                ("billing", sandboxes.billing.url),
                ("erp", sandboxes.erp.url),
            )
        }
        _install_trace(calls, {port: name for port, name in ports.items() if port})
        if latency is None:
            set_realistic(sandboxes)
        else:
            _set_latency(sandboxes, latency)
        pipe.send(sandboxes.settings_document("sqlite://"))
        cpu = time.process_time()
        pipe.recv()
        pipe.send((list(calls), time.process_time() - cpu))


def report(calls: list[Call], seconds: float) -> None:
    """Print counts per shape and how much of the run waited on calls one after another."""
    calls.sort(key=lambda call: call[2])
    by_shape: dict[tuple[str, str], list[float]] = defaultdict(list)
    alone: Counter[tuple[str, str]] = Counter()
    busy, last_end, peak = 0.0, 0.0, 0
    open_ends: list[float] = []
    for system, name, start, end in calls:
        by_shape[(system, name)].append(end - start)
        open_ends = [e for e in open_ends if e > start]
        if not open_ends:
            alone[(system, name)] += 1
        open_ends.append(end)
        peak = max(peak, len(open_ends))
        busy += max(0.0, end - max(start, last_end))
        last_end = max(last_end, end)
    print(f"\n{len(calls)} calls; run {seconds:.1f} s; at least one call in flight {busy:.1f} s;")
    print(f"{sum(alone.values())} calls started with none in flight; peak in flight {peak}\n")
    print(f"| {'system':10} | {'call':60} | calls | alone | mean ms | total s |")
    print(f"|{'-' * 12}|{'-' * 62}|-------|-------|---------|---------|")
    for (system, name), spans in sorted(by_shape.items(), key=lambda item: -sum(item[1])):
        print(f"| {system:10} | {name[:60]:60} | {len(spans):5} | {alone[(system, name)]:5} "
              f"| {1000 * sum(spans) / len(spans):7.0f} | {sum(spans):7.1f} |")  # fmt: skip
    for system in sorted({call[0] for call in calls}):
        levels = in_flight_levels([call for call in calls if call[0] == system])
        shown = ", ".join(f"{level}: {seconds:.1f} s" for level, seconds in sorted(levels.items()))
        print(f"\n{system}: seconds with N of its calls in flight, from its first call: {shown}")
    erp_bursts([call for call in calls if call[0] == "erp"], calls[0][2] if calls else 0.0)


def in_flight_levels(calls: list[Call]) -> dict[int, float]:
    """Seconds spent with each number of ``calls`` in flight, from the first one's start."""
    events = sorted([(start, 1) for _, _, start, _ in calls] + [(end, -1) for *_, end in calls])
    levels: defaultdict[int, float] = defaultdict(float)
    level, last = 0, events[0][0] if events else 0.0
    for moment, step in events:
        levels[level] += moment - last
        level, last = level + step, moment
    return dict(levels)


def erp_bursts(calls: list[Call], origin: float) -> None:
    """Runs of ERP calls with one or more in flight: when, how many calls, how long, idle before."""
    bursts: list[list[float]] = []  # [start, end, calls]
    for _, _, start, end in sorted(calls, key=lambda call: call[2]):
        if bursts and start <= bursts[-1][1]:
            bursts[-1][1] = max(bursts[-1][1], end)
            bursts[-1][2] += 1
        else:
            bursts.append([start, end, 1])
    print(f"\nERP bursts ({len(bursts)}): start s (from the first call of the run), calls, "
          "length s, idle s before")  # fmt: skip
    last_end = origin
    for start, end, count in bursts:
        print(
            f"  {start - origin:7.2f}  {int(count):3}  {end - start:6.2f}  {start - last_end:6.2f}"
        )
        last_end = end


_PHASES = (
    ("sync.engine.run", "detect_changes"),
    ("sync.engine.run", "capture_page"),
    ("sync.engine.run", "content_hashes"),
    ("sync.engine.run", "xref_entries"),
    ("sync.engine.deliver_targets", "review_delivery"),
    ("sync.engine.deliver_targets", "call_all"),
    ("sync.engine.run", "propagate_to_targets"),
    ("sync.engine.open_pages", "commit_page"),
    ("sync.engine.run", "due_for_retry"),
    ("sync.engine.run", "load_cursor"),
)


# Where the main thread waits on the ERP's answers: for the oldest open page (past
# MAX_OPEN_PAGES), for every write (end of run), or, committing, for the next source page.
_WAITS = (
    ("sync.engine.carried_writes", "CarriedWrites", "wait_for"),
    ("sync.engine.carried_writes", "CarriedWrites", "flush"),
    ("sync.engine.open_pages", "OpenPages", "commit_until"),
)


_THREAD_CPU = (
    ("connectors.erp.records", "RecordBuilder", "build"),
    ("connectors.erp.soap", "SoapSession", "call"),
    ("connectors.billing.connector", "BillingConnector", "write"),
    ("sync.engine.deliver", None, "plan_delivery"),
)


def _note_thread_cpu(phases: defaultdict[str, float]) -> None:
    """Add the calling thread's CPU time spent in each ``_THREAD_CPU`` function to ``phases``."""
    lock = threading.Lock()

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                with lock:
                    phases[f"CPU {name}"] += time.thread_time() - start

        return wrapper

    for module_name, class_name, name in _THREAD_CPU:
        owner: Any = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
        setattr(owner, name, timed(f"{class_name or module_name}.{name}", getattr(owner, name)))


def phased_engine_run(document: dict[str, Any], database_url: str) -> dict[str, Any]:
    """``engine_run`` with the main thread's wall time per engine step noted (child process)."""
    phases: defaultdict[str, float] = defaultdict(float)

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] += time.perf_counter() - start

        return wrapper

    for module_name, name in _PHASES:
        module = importlib.import_module(module_name)
        setattr(module, name, timed(name, getattr(module, name)))
    for module_name, class_name, name in _WAITS:
        owner = getattr(importlib.import_module(module_name), class_name)
        setattr(owner, name, timed(f"{class_name}.{name}", getattr(owner, name)))
    read = SalesforceConnector.read

    def timed_read(self: Any, spec: Any, since: Any) -> Any:
        pages = read(self, spec, since)
        while True:
            start = time.perf_counter()
            try:
                page = next(pages)
            except StopIteration:
                phases["source read (read-ahead thread)"] += time.perf_counter() - start
                return
            phases["source read (read-ahead thread)"] += time.perf_counter() - start
            yield page

    SalesforceConnector.read = timed_read  # type: ignore[method-assign]
    _note_thread_cpu(phases)
    cpu = time.thread_time()
    result = engine_run(document, database_url)
    return result | {"phases": dict(phases), "main_cpu": time.thread_time() - cpu}


def profiled_engine_run(document: dict[str, Any], database_url: str, out: str) -> dict[str, Any]:
    """``phased_engine_run`` under yappi's CPU clock, every thread (``pip install yappi``)."""
    import yappi  # type: ignore[import-untyped]  # noqa: PLC0415 - optional, for --profile

    yappi.set_clock_type("cpu")
    yappi.start()
    result = phased_engine_run(document, database_url)
    yappi.stop()
    stats = yappi.get_func_stats()
    stats.sort("ttot")
    with open(out, "w") as handle:
        stats.print_all(
            out=handle, columns={0: ("name", 90), 1: ("ncall", 10), 3: ("ttot", 8), 2: ("tsub", 8)}
        )
    return result


def main() -> None:
    """Serve traced sandboxes, run the engine once at 50 ms a call, print the breakdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="source records to seed")
    parser.add_argument("--latency", type=float, default=LATENCY_SECONDS, help="seconds a call")
    parser.add_argument("--realistic", action="store_true", help="issue 14's profile instead")
    parser.add_argument("--profile", help="write yappi CPU stats of the engine to this file")
    args = parser.parse_args()
    pipe, child = multiprocessing.Pipe()
    context = multiprocessing.get_context("spawn")
    host = context.Process(
        target=_serve_traced,
        args=(sandbox_size(args.records), None if args.realistic else args.latency, child),
    )
    host.start()
    document = pipe.recv()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'trace.db'}"
        if args.profile:
            run = run_in_child(profiled_engine_run, document, url, args.profile)
        else:
            run = run_in_child(phased_engine_run, document, url)
    pipe.send("done")
    calls, sandbox_cpu = pipe.recv()
    host.join()
    rate = run["records"] / run["seconds"]
    print(f"engine: {run['records']} records in {run['seconds']:.1f} s ({rate:.0f}/s), "
          f"CPU {run['cpu']:.1f} s, {run['status']}")  # fmt: skip
    print(f"sandboxes' CPU meanwhile {sandbox_cpu:.1f} s")
    print(f"main thread CPU {run['main_cpu']:.1f} s; main thread wall per step:")
    for name, seconds in sorted(run["phases"].items(), key=lambda item: -item[1]):
        print(f"  {name:22} {seconds:6.2f} s")
    report(calls, run["seconds"])


if __name__ == "__main__":
    main()
