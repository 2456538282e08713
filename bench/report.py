"""The generated part of docs/performance.md: what ``make bench`` measured, with its provenance.

``bench/run_all.py`` runs each benchmark and hands the results here. Every benchmark prints its
figures as Markdown tables; this module keeps those tables (and the line naming each), and
heads each benchmark's part with its command, date, commit, machine and the load average
before and after, so every figure in the section says where it came from. The section lives
between two marker comments; the hand-written text around it is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

BEGIN = "<!-- make bench: generated, do not edit by hand (bench/run_all.py) -->"
END = "<!-- make bench: end of generated section -->"
TAIL_LINES = 20  # of a failed benchmark's error output
OUTPUT_LINES = 200  # of a benchmark's output that printed no Markdown table (rich tables)


@dataclass(frozen=True)
class Machine:
    """Where the benchmarks ran."""

    cpu: str
    cores: int
    memory_gb: float
    python: str
    system: str


@dataclass(frozen=True)
class BenchResult:
    """One benchmark's run: its command, when, how long, the load around it and its output."""

    name: str
    command: Sequence[str]
    started: datetime
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    output: str
    returncode: int
    error: str = ""


def tables(output: str) -> list[str]:
    """The Markdown tables in ``output``, each with the paragraph just above it as caption."""
    blocks: list[str] = []
    caption: list[str] = []
    paragraph: list[str] = []
    table: list[str] = []
    for line in [*output.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            caption, paragraph = (paragraph or caption), []
            table.append(line.strip())
            continue
        if table:
            blocks.append("\n".join([*(f"*{text}*" for text in caption), "", *table]).lstrip())
            table, caption = [], []
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            caption, paragraph = paragraph, []
    return blocks


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def _code(text: str) -> list[str]:
    # A fence longer than any run of backticks in the text, so output can't close it early.
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 3)
    return [fence, text, fence]


def render_result(result: BenchResult) -> str:
    """One benchmark's part of the section."""
    command = " ".join(result.command)
    lines = [
        f"### {result.name}",
        "",
        f"- command: `{command}`",
        f"- started {result.started:%Y-%m-%d %H:%M} UTC, took {result.seconds:,.0f} s; "
        f"load average (1/5/15 min) {_load(result.load_before)} before, "
        f"{_load(result.load_after)} after",
        "",
    ]
    if result.returncode != 0:
        tail = "\n".join((result.error or result.output).splitlines()[-TAIL_LINES:])
        return "\n".join([*lines, f"**Failed** (exit {result.returncode}):", "", *_code(tail)])
    found = tables(result.output)
    if not found:
        tail = "\n".join(result.output.splitlines()[-OUTPUT_LINES:])
        return "\n".join([*lines, *_code(tail)])
    return "\n".join([*lines, "\n\n".join(found)])


def render(
    results: Sequence[BenchResult],
    machine: Machine,
    commit: str,
    kept: Mapping[str, str] | None = None,
) -> str:
    """The whole generated section, markers included.

    ``kept`` holds earlier parts by benchmark name (:func:`parts`), for a run of only some
    benchmarks: those not run again stay as they were, each with its own command and date.
    """
    head = [
        BEGIN,
        "",
        "## Every benchmark, as `make bench` last ran it",
        "",
        f"Commit {commit}; {machine.cpu}, {machine.cores} cores, {machine.memory_gb:.1f} GB, "
        f"Python {machine.python}, {machine.system}. Written by `bench/run_all.py`; each "
        "figure below is from the command above it, on the date it names.",
        "",
    ]
    fresh = {result.name: render_result(result) for result in results}
    merged = {**(kept or {}), **fresh}  # earlier order first, new benchmarks at the end
    if kept:
        head[-2] += f" Parts not run at commit {commit} keep the commit of their own run."
    return "\n".join([*head, "\n\n".join(merged.values()), "", END])


def parts(document: str) -> dict[str, str]:
    """The benchmarks' parts of ``document``'s generated section, by name (empty if none)."""
    start, end = document.find(BEGIN), document.find(END)
    if start == -1 or end < start:
        return {}
    found: dict[str, str] = {}
    for chunk in document[start:end].split("\n### ")[1:]:
        name = chunk.split("\n", 1)[0].strip()
        found[name] = f"### {chunk.rstrip()}"
    return found


def replace_section(document: str, section: str) -> str:
    """``document`` with its generated section replaced by ``section`` (appended if missing)."""
    start, end = document.find(BEGIN), document.find(END)
    if start == -1 or end == -1 or end < start:
        return f"{document.rstrip()}\n\n{section}\n"
    return f"{document[:start]}{section}{document[end + len(END) :]}"
