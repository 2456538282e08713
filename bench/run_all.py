"""``make bench``: every benchmark once, at sizes that fit about 15 minutes on a 2-core machine.

Runs each benchmark in ``SUITE`` one after the other (never in parallel: they share the
machine's cores with the sandboxes and the database), keeps what each printed, and rewrites the
generated section of docs/performance.md (:mod:`report`) with every table, its command, date,
commit, machine and the load average around it. A benchmark that fails is reported as failed
and the others still run. Benchmarks whose script is not in the checkout are skipped.

    .venv/bin/python bench/run_all.py                  # all, ~15 min; writes docs/performance.md
    .venv/bin/python bench/run_all.py --list           # the commands, nothing run
    .venv/bin/python bench/run_all.py --only sync,mappings --output /tmp/perf.md

CI never runs this (it is not a test); ``tests/unit/test_bench_report.py`` checks the writer.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from report import BenchResult, Machine, parts, render, replace_section

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get(
    "REVBRIDGE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TIMEOUT_SECONDS = 20 * 60  # one benchmark; a hung one must not hold the rest forever


@dataclass(frozen=True)
class Benchmark:
    """One entry of the suite: a name, its script under bench/ and the script's arguments."""

    name: str
    script: str
    arguments: tuple[str, ...] = ()

    def command(self) -> list[str]:
        """The command line, as quoted in the docs (paths relative to the repository)."""
        return [".venv/bin/python", f"bench/{self.script}", *self.arguments]


# Sizes chosen to fit ~15 minutes together on this project's 2-core machine (idle); each
# script's own defaults measure more, and its docstring gives the longer commands.
SUITE = (
    Benchmark("sync", "sync_bench.py", ("--sizes", "10000", "--naive-records", "1000",
              "--latency-records", "1000", "--latency-engine-records", "10000",
              "--database-url", POSTGRES_URL, "--database-rounds", "1")),
    Benchmark("reconcile", "reconcile_bench.py", ("--sizes", "10000,100000")),
    Benchmark("mappings", "bench_mappings.py", ("--records", "100000", "--repeat", "5")),
    Benchmark("erp", "erp.py", ("--records", "500", "--repeat", "2")),
    Benchmark("salesforce", "salesforce.py", ("--records", "50000", "--writes", "10000")),
    Benchmark("deletes", "deletes_bench.py", ("--orders", "1000", "--deleted", "500")),
    Benchmark("serve", "bench_serve.py", ("--database-url", POSTGRES_URL)),
    Benchmark("console", "console_bench.py", ("--database-url", POSTGRES_URL, "--repeat", "20")),
    Benchmark("events", "events_bench.py", ("--rounds", "1", "--outbox-events", "100000")),
    # Issue 20's goal 4 (helper 20b); `erp.py` above carries goal 5's async lists.
    Benchmark("sandbox-memory", "sandbox_memory.py", ("100000",)),
)  # fmt: skip


def machine() -> Machine:
    """This machine's CPU model, cores, memory, Python and OS."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else cpu
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    memory = pages * os.sysconf("SC_PAGE_SIZE") / 1e9 if pages else 0.0
    return Machine(cpu, os.cpu_count() or 0, memory, platform.python_version(),
                   f"{platform.system()} {platform.release()}")  # fmt: skip


def commit() -> str:
    """The checkout's commit, marked when files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{head} (with uncommitted changes)" if dirty else head


def run(benchmark: Benchmark) -> BenchResult:
    """Run one benchmark from the repository root, keeping its output."""
    command = benchmark.command()
    started, load_before = datetime.now(UTC), os.getloadavg()
    clock = time.perf_counter()
    print(f"== {benchmark.name}: {' '.join(command)}", file=sys.stderr, flush=True)
    try:
        # Rich tables fit the terminal's width, 80 columns in a pipe: wide enough for them all.
        environment = os.environ | {"COLUMNS": "200"}
        done = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, capture_output=True,
                              text=True, timeout=TIMEOUT_SECONDS, check=False,
                              env=environment)  # fmt: skip
        output, error, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as timeout:
        output = _text(timeout.stdout)
        error, code = f"{_text(timeout.stderr)}\nstopped after {TIMEOUT_SECONDS} s", 124
    seconds = time.perf_counter() - clock
    print(f"   {'ok' if code == 0 else f'failed ({code})'} in {seconds:.0f} s", file=sys.stderr)
    return BenchResult(benchmark.name, command, started, seconds, load_before, os.getloadavg(),
                       output, code, error)  # fmt: skip


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def main() -> int:
    """Run the suite (or ``--only`` some of it) and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated names (see --list)")
    parser.add_argument("--list", action="store_true", help="print the commands, run nothing")
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "performance.md", help="file to update"
    )
    args = parser.parse_args()
    chosen = [b for b in SUITE if (ROOT / "bench" / b.script).is_file()]
    if args.only:
        names = {name.strip() for name in args.only.split(",")}
        unknown = names - {b.name for b in SUITE}
        if unknown:
            print(f"unknown benchmark {', '.join(sorted(unknown))}; see --list", file=sys.stderr)
            return 2
        chosen = [b for b in chosen if b.name in names]
    if args.list:
        for benchmark in chosen:
            print(f"{benchmark.name}: {' '.join(benchmark.command())}")
        return 0
    results: list[BenchResult] = []
    where, revision = machine(), commit()
    # With --only, the other benchmarks' parts of the last report stay as they were.
    kept = parts(args.output.read_text()) if args.only and args.output.is_file() else {}
    for benchmark in chosen:
        results.append(run(benchmark))
        # Written after each benchmark: a suite stopped half-way keeps what it measured.
        write_report(args.output, render(results, where, revision, kept))
    print(f"wrote {args.output}", file=sys.stderr)
    return 1 if any(result.returncode for result in results) else 0


def write_report(output: Path, section: str) -> None:
    """Replace ``output``'s generated section with ``section`` (create the file if missing)."""
    document = output.read_text() if output.is_file() else "# Performance (measured)\n"
    output.write_text(replace_section(document, section))


if __name__ == "__main__":
    sys.exit(main())
