"""The run footer, golden: one whole line in a pipe and on a wide terminal, phrases kept whole
on a narrow one. ``REVBRIDGE_UPDATE_GOLDEN=1`` rewrites the golden files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import RenderableType

from sync.cli.output import OutputConsole
from sync.cli.run_footer import SEPARATOR, Phrases, footer_phrases, run_footer, run_report
from sync.engine.stats import RunSummary, SystemCounts
from sync.store.schema import RunStatus

GOLDEN = Path(__file__).parent / "fixtures" / "cli_output"
MESSAGE = "ConfigError: [billing] GET /v1/customers answered HTTP 404 [/x] [link=https://x]"


def _summary(message: str | None = MESSAGE) -> RunSummary:
    counts = {"salesforce": SystemCounts(read=230), "billing": SystemCounts(created=228)}
    return RunSummary(
        run_id=1234, flow="quote-to-cash", status=RunStatus.PARTIAL,
        by_entity={"order": counts}, pages=12, duration_seconds=83.25,
        api_calls={"salesforce": 1412, "billing": 2310, "erp": 57}, error_queue_active=3,
        message=message,
    )  # fmt: skip


def _render(renderable: RenderableType, *, width: int | None, terminal: bool) -> str:
    # A pipe takes no width from the terminal (rich would say 80): the console's own rule.
    console = OutputConsole(file=io.StringIO(), width=width, force_terminal=terminal,
                            color_system=None, highlight=False, _environ={})  # fmt: skip
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def _matches_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("REVBRIDGE_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def _footer_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("run 1234 ·"))
    return lines[start:]


@pytest.mark.parametrize(
    ("name", "width", "terminal"),
    [("pipe.80", 80, False), ("pipe", None, False), ("terminal.200", 200, True)],
)
def test_the_run_footer_never_splits_a_phrase(name: str, width: int | None, terminal: bool) -> None:
    text = _render(run_footer(_summary()), width=width, terminal=terminal)

    _matches_golden(f"run_footer.{name}", text)
    phrases = footer_phrases(_summary())
    *footer, message = text.splitlines()
    assert message == MESSAGE  # data: brackets shown as they are
    assert " ".join(footer) == SEPARATOR.join(phrases)
    for line in footer:
        assert all(part in phrases for part in line.removesuffix(" ·").split(SEPARATOR))


def test_in_a_pipe_and_on_a_wide_terminal_the_footer_is_one_line() -> None:
    for width, terminal in ((None, False), (200, True)):
        text = _render(run_report(_summary(None), "run 1234 of quote-to-cash"), width=width,
                       terminal=terminal)  # fmt: skip

        footer = _footer_lines(text)
        assert footer == [SEPARATOR.join(footer_phrases(_summary()))]


def test_on_an_80_column_terminal_each_footer_line_fits_and_ends_between_phrases() -> None:
    text = _render(run_report(_summary(None), "run 1234"), width=80, terminal=True)

    footer = _footer_lines(text)
    assert len(footer) == 2
    assert all(len(line) <= 80 for line in footer)
    assert footer[0].endswith(" ·")
    assert footer[1].startswith("API calls: billing 2310, erp 57, salesforce 1412")


def test_a_phrase_wider_than_the_terminal_is_alone_on_its_line() -> None:
    lines = Phrases(["run 1", "x" * 30, "ok"]).lines(20)

    assert lines == ["run 1 ·", "x" * 30 + " ·", "ok"]


def test_a_run_without_counted_calls_says_so() -> None:
    summary = _summary(None)
    summary.api_calls = {}

    assert "API calls: n/a" in footer_phrases(summary)
