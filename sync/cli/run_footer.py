"""The footer under a run's table: run id, status, pages, time, API calls, open errors.

It used to be the table's caption, and rich wraps a caption at the table's width (about 60
columns), so in a pipe and on a narrow terminal it split mid-phrase ("API calls: salesforce
12, bil" / "ling 3"). It is printed under the table now, as phrases that break only between
one another: the whole footer on one line where it fits (always in a pipe), else each phrase
whole on a line. Only a phrase wider than the terminal on its own is wrapped inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.text import Text

from sync.cli.report import run_table, stripped_warning
from sync.engine.stats import RunSummary

SEPARATOR = " · "


@dataclass(frozen=True)
class Phrases:
    """Phrases joined by :data:`SEPARATOR`, broken into lines only between phrases."""

    phrases: Sequence[str]

    def lines(self, width: int) -> list[str]:
        """The phrases laid out in ``width`` columns; a line that goes on ends in a ``·``."""
        lines: list[str] = []
        line = ""
        for phrase in self.phrases:
            joined = f"{line}{SEPARATOR}{phrase}" if line else phrase
            if line and cell_len(joined) > width:
                lines.append(line + SEPARATOR.rstrip())
                line = phrase
            else:
                line = joined
        if line:
            lines.append(line)
        return lines

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """One Text per line; data, so never read as markup."""
        for line in self.lines(options.max_width):
            yield Text(line)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """As wide as the widest phrase at least, the whole footer at most."""
        widest = max((cell_len(phrase) for phrase in self.phrases), default=0)
        return Measurement(widest, cell_len(SEPARATOR.join(self.phrases)))


def footer_phrases(summary: RunSummary) -> list[str]:
    """What the footer says, one phrase per fact."""
    calls = ", ".join(f"{system} {count}" for system, count in sorted(summary.api_calls.items()))
    return [
        f"run {summary.run_id}",
        summary.status.value,
        f"{summary.pages} pages",
        f"{summary.duration_seconds:.1f} s",
        f"API calls: {calls or 'n/a'}",
        f"error queue: {summary.error_queue_active} open",
    ]


def run_footer(summary: RunSummary) -> Group:
    """The footer, then the run's message (data: shown as text) on lines of its own."""
    parts: list[Phrases | Text] = [Phrases(footer_phrases(summary))]
    if summary.message:
        parts.append(Text(summary.message))
    return Group(*parts)


def run_report(summary: RunSummary, title: str) -> Group:
    """The run's per-entity table with its footer under it (and a warning for stripped text)."""
    warning = stripped_warning(summary)
    extra = [warning] if warning is not None else []
    return Group(run_table(summary, title), *extra, run_footer(summary))
