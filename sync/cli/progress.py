"""Per-entity progress of a run or backfill: records, rate and ETA, on a terminal only.

In a pipe, a log or with ``--json`` nothing extra is printed: the summary says it all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from sync.engine.open_pages import PageCallback
from sync.engine.stats import RunSummary


class RecordRate(TextColumn):
    """Records per second of a task (rich's speed column is for bytes)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        """The task's current rate, or a dash before the first page."""
        return Text(
            f"{task.speed:,.0f} records/s" if task.speed else "-", style="progress.data.speed"
        )


@contextmanager
def entity_progress(console: Console, source: str, *, quiet: bool) -> Iterator[PageCallback]:
    """A page callback drawing one bar per entity read from ``source``, while inside.

    ``quiet`` (``--json``) or a console that is not a terminal draws nothing.
    """
    columns = (TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(),
               RecordRate(), TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    hidden = quiet or not console.is_terminal
    with Progress(*columns, console=console, transient=False, disable=hidden) as progress:
        yield _on_page(progress, source)


def _on_page(progress: Progress, source: str) -> PageCallback:
    tasks: dict[str, TaskID] = {}

    def on_page(entity: str, summary: RunSummary) -> None:
        if entity not in tasks:
            tasks[entity] = progress.add_task(entity, total=summary.expected.get(entity))
        read = summary.counts(entity, source).read
        progress.update(tasks[entity], completed=read, total=summary.expected.get(entity) or read)

    return on_page
