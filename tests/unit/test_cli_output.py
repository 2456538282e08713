"""The list commands' output, golden: in a pipe whole lines, on a terminal its width.

A pipe (CI logs, ``| less``, ``> file``) used to cut tables to 80 columns, wrap messages one
word a line and end names in an ellipsis. Each list table is rendered here as the CLI renders
it, into a pipe (whatever width the terminal reports, 80 below) and onto a 200-column
terminal, and compared with a golden file. ``REVBRIDGE_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from sync.cli.conflicts import _table as conflict_table
from sync.cli.history import _runs_table, _status_table
from sync.cli.output import (
    LOGGED_VALUE_CHARS,
    PIPE_WIDTH,
    CapLoggedValues,
    OutputConsole,
    csv_cell,
    plain,
)
from sync.cli.report import error_table
from sync.store.conflict_log import ConflictRow
from sync.store.error_queue import ErrorRow
from sync.store.flow_status import FlowState
from sync.store.runs import RunRow
from sync.store.schema import ErrorStatus, RunStatus

GOLDEN = Path(__file__).parent / "fixtures" / "cli_output"
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
LONG_MESSAGE = (
    "REQUIRED_FIELD_MISSING: Required fields are missing: [blng__BillingFinanceBook__c, "
    "blng__BillingRule__c]; set them in mappings/salesforce.yaml or default them in the org "
    "[/x] [link=https://example.com]click[/link]"
)


def _errors() -> list[ErrorRow]:
    return [
        ErrorRow(id=12, run_id=3, entity="price_book_entry", source_system="salesforce",
                 source_id="01u5e00000AbCdEfGH", target_system="erp", stage="write",
                 error_class="RecordRejected", code="REQUIRED_FIELD_MISSING",
                 message=LONG_MESSAGE, payload=None, attempts=2, status=ErrorStatus.OPEN,
                 created_at=AT, updated_at=AT),
        ErrorRow(id=11, run_id=3, entity="subscription", source_system="salesforce",
                 source_id="a0B5e00000XyZ12345", target_system="billing", stage="map",
                 error_class="ValidationError", code="", message="quantity: must be > 0",
                 payload=None, attempts=1, status=ErrorStatus.OPEN, created_at=AT,
                 updated_at=AT),
    ]  # fmt: skip


def _conflicts() -> list[ConflictRow]:
    return [
        ConflictRow(id=4, run_id=3, created_at=AT, entity="subscription",
                    canonical_id="subscription:salesforce:a0B5e00000XyZ12345",
                    target_system="billing", field="quantity", base_value=10, source_value=12,
                    target_value={"note": "changed by finance [bold]by hand[/bold]"},
                    policy="manual", decision="held", source_system="salesforce",
                    source_id="a0B5e00000XyZ12345", status="open", resolution=None,
                    resolved_at=None, held_payload=None),
    ]  # fmt: skip


def _runs() -> list[RunRow]:
    stats = {
        "systems": {
            "billing": {"created": 40, "updated": 2, "deleted": 2},
            "erp": {"created": 40, "rejected": 1},
            "canonical": {"created": 40},
        }
    }
    return [
        RunRow(id=3, flow="quote-to-cash-nightly", status=RunStatus.PARTIAL, started_at=AT,
               finished_at=AT.replace(minute=31), stats=stats, message=LONG_MESSAGE),
        RunRow(id=2, flow="receivables", status=RunStatus.STOPPED, started_at=AT,
               finished_at=None, stats={}, message=None),
    ]  # fmt: skip


def _states() -> list[FlowState]:
    return [
        FlowState(flow="quote-to-cash-nightly", last_run=_runs()[0], last_success_at=AT,
                  lag_seconds=3725.0, open_errors=2, lease_owner=None, lease_expires_at=None),
        FlowState(flow="receivables [/x]", last_run=None, last_success_at=None,
                  lag_seconds=None, open_errors=0, lease_owner=None, lease_expires_at=None),
    ]  # fmt: skip


TABLES = {
    "errors": lambda: error_table(_errors()),
    "conflicts": lambda: conflict_table(_conflicts()),
    "runs": lambda: _runs_table(_runs()),
    "status": lambda: _status_table(_states()),
}


def _in_a_pipe(renderable: RenderableType) -> str:
    # What `revbridge ... | less` gets where the terminal is 80 columns wide.
    console = OutputConsole(file=io.StringIO(), force_terminal=False, highlight=False,
                            _environ={"LINES": "25"})  # fmt: skip
    console.print(renderable)
    return _lines(console)


def _on_a_terminal(renderable: RenderableType) -> str:
    console = OutputConsole(file=io.StringIO(), width=200, force_terminal=True,
                            color_system=None, highlight=False)  # fmt: skip
    console.print(renderable)
    return _lines(console)


def _lines(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return "".join(line.rstrip() + "\n" for line in file.getvalue().splitlines())


def _matches_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("REVBRIDGE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_list_in_a_pipe_prints_whole_lines(name: str) -> None:
    text = _in_a_pipe(TABLES[name]())

    _matches_golden(f"{name}.pipe", text)
    assert "…" not in text
    if name == "errors":
        assert any(LONG_MESSAGE in line for line in text.splitlines())


@pytest.mark.parametrize("name", sorted(TABLES))
def test_a_list_on_a_200_column_terminal_uses_its_width(name: str) -> None:
    text = _on_a_terminal(TABLES[name]())

    _matches_golden(f"{name}.terminal", text)
    assert max(len(line) for line in text.splitlines()) <= 200


def test_a_pipe_is_wide_and_a_terminal_or_columns_sets_the_width() -> None:
    pipe = OutputConsole(file=io.StringIO(), force_terminal=False, _environ={})
    pinned = OutputConsole(file=io.StringIO(), force_terminal=False, _environ={"COLUMNS": "80"})
    terminal = OutputConsole(file=io.StringIO(), force_terminal=True, width=120)

    assert (pipe.width, pinned.width, terminal.width) == (PIPE_WIDTH, 80, 120)


def test_no_color_turns_colour_off() -> None:
    console = OutputConsole(file=io.StringIO(), force_terminal=True, _environ={"NO_COLOR": "1"})

    console.print("[red]alert[/red]")

    assert console.file.getvalue() == "alert\n"  # type: ignore[attr-defined]


def test_data_is_shown_as_text_never_as_markup() -> None:
    text = _in_a_pipe(error_table(_errors()))

    assert "[/x] [link=https://example.com]click[/link]" in text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("plain text", "plain text"),
        (-5, -5),
        ({"a": 1}, '{"a": 1}'),
    ],
)
def test_csv_cells_that_start_like_a_formula_are_neutralised(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_plain_cells_keep_brackets() -> None:
    (cell,) = plain("[bold]x[/bold]")

    assert cell.plain == "[bold]x[/bold]"


def test_verbose_logs_cut_each_long_value() -> None:
    record = logging.LogRecord("revbridge", logging.INFO, __file__, 1, "%s %s: %s", None, None)
    record.args = ("order", 42, "x" * 5000)

    assert CapLoggedValues().filter(record)

    entity, number, value = record.args
    assert (entity, number) == ("order", 42)
    assert value == "x" * LOGGED_VALUE_CHARS + "… (5,000 chars)"
