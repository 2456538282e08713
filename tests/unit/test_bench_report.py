"""``make bench``'s report writer on fake results: tables kept, provenance given, hand text kept.

The benchmarks themselves never run in CI; this checks only what bench/report.py makes of
their output.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while building the class
    spec.loader.exec_module(module)
    return module


report = _load("report")
MACHINE = report.Machine("AMD EPYC 7B13", 2, 8.3, "3.11.7", "Linux 6.1")
SYNC_OUTPUT = """\
~10,000 source records, SQLite, loopback

| scenario | records | records/s |
| --- | ---: | ---: |
| engine, first sync | 9,710 | 1,668 |
progress line that is not a table

second caption
and its second line
| a | b |
|---|---|
| 1 | 2 |
"""


def _result(output: str, code: int = 0, error: str = "") -> object:
    return report.BenchResult(
        name="sync",
        command=[".venv/bin/python", "bench/sync_bench.py", "--sizes", "10000"],
        started=datetime(2026, 12, 8, 0, 30, tzinfo=UTC),
        seconds=312.4,
        load_before=(0.5, 1.25, 2.0),
        load_after=(3.0, 2.5, 2.25),
        output=output,
        returncode=code,
        error=error,
    )


def test_each_table_keeps_its_caption_and_rows() -> None:
    found = report.tables(SYNC_OUTPUT)
    assert len(found) == 2
    assert found[0].startswith("*~10,000 source records, SQLite, loopback*\n\n| scenario")
    assert "| engine, first sync | 9,710 | 1,668 |" in found[0]
    assert found[1].startswith("*second caption*\n*and its second line*\n\n| a | b |")
    assert "progress line" not in "".join(found)


def test_every_figure_names_its_command_date_load_commit_and_machine() -> None:
    section = report.render([_result(SYNC_OUTPUT)], MACHINE, "16e9d47")
    assert "`.venv/bin/python bench/sync_bench.py --sizes 10000`" in section
    assert "started 2026-12-08 00:30 UTC, took 312 s" in section
    assert "0.50 / 1.25 / 2.00 before, 3.00 / 2.50 / 2.25 after" in section
    assert "Commit 16e9d47; AMD EPYC 7B13, 2 cores, 8.3 GB, Python 3.11.7" in section
    assert section.startswith(report.BEGIN)
    assert section.endswith(report.END)


def test_a_failed_benchmark_shows_its_exit_code_and_error_tail_not_stale_figures() -> None:
    error = "\n".join(f"line {n}" for n in range(100)) + "\nRuntimeError: sandbox died"
    section = report.render([_result(SYNC_OUTPUT, code=1, error=error)], MACHINE, "abc1234")
    assert "**Failed** (exit 1)" in section
    assert "RuntimeError: sandbox died" in section
    assert "line 10\n" not in section  # only the tail
    assert "9,710" not in section


def test_output_without_tables_is_quoted_in_a_fence_it_cannot_close() -> None:
    output = "rate: 5 records/s\n```\n# not a heading\n````"
    section = report.render([_result(output)], MACHINE, "abc1234")
    assert "`````\nrate: 5 records/s\n```\n# not a heading\n````\n`````" in section


def test_the_section_replaces_only_the_generated_part() -> None:
    old = report.render([_result(SYNC_OUTPUT)], MACHINE, "old0000")
    document = f"# Performance\n\nHand-written intro.\n\n{old}\n\n## Change events\n\nTheirs.\n"
    new = report.render([_result("| x |\n|---|\n| 2 |")], MACHINE, "new1111")
    updated = report.replace_section(document, new)
    assert "Hand-written intro." in updated
    assert updated.endswith("## Change events\n\nTheirs.\n")
    assert "new1111" in updated
    assert "old0000" not in updated
    assert updated.count(report.BEGIN) == 1


@pytest.mark.parametrize("document", ["# Performance\n\nNo section yet.\n", ""])
def test_a_document_without_markers_gets_the_section_appended(document: str) -> None:
    section = report.render([_result(SYNC_OUTPUT)], MACHINE, "abc1234")
    updated = report.replace_section(document, section)
    assert updated.startswith(document.rstrip())
    assert updated.rstrip().endswith(report.END)


def _run_all(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(BENCH / "run_all.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_run_all_lists_commands_without_running_them() -> None:
    listed = _run_all("--list", "--only", "sync,mappings")
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("sync: .venv/bin/python bench/sync_bench.py --sizes 10000")
    assert (
        lines[1] == "mappings: .venv/bin/python bench/bench_mappings.py --records 100000 --repeat 5"
    )
    assert len(lines) == 2


def test_run_all_names_an_unknown_benchmark_in_one_line() -> None:
    typo = _run_all("--only", "sync,mapings", "--output", "/nonexistent/perf.md")
    assert typo.returncode == 2
    assert typo.stderr == "unknown benchmark mapings; see --list\n"


def test_a_partial_run_keeps_the_other_benchmarks_parts_as_they_were() -> None:
    first = report.render([_result(SYNC_OUTPUT)], MACHINE, "old0000")
    other = report.BenchResult(
        name="mappings", command=[".venv/bin/python", "bench/bench_mappings.py"],
        started=datetime(2026, 12, 8, 1, 0, tzinfo=UTC), seconds=58.0,
        load_before=(1.0, 1.0, 1.0), load_after=(1.0, 1.0, 1.0),
        output="| rate |\n|---|\n| 86,172 |", returncode=0,
    )  # fmt: skip
    kept = report.parts(f"# Performance\n\n{first}\n")
    assert list(kept) == ["sync"]
    again = report.render([other], MACHINE, "new1111", kept)
    assert "9,710" in again  # sync's part, untouched
    assert "started 2026-12-08 00:30 UTC" in again
    assert "| 86,172 |" in again
    assert again.index("### sync") < again.index("### mappings")
    assert "Parts not run at commit new1111 keep the commit of their own run." in again
    assert report.parts("no section") == {}
