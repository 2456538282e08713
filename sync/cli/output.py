"""Consoles that read well on a terminal, in a pipe and in a script.

On a terminal, output takes the terminal's width. In a pipe (CI logs, ``| less``, ``> file``)
nothing is wrapped, folded or cut to 80 columns: each line is printed whole, so ``grep`` and
the reader see every name and message. ``NO_COLOR`` (https://no-color.org) turns colour off;
rich honours it. Data (record ids, messages, values) is always printed as text, never read as
rich markup: ``[/x]`` in a rejected record's message is shown as is.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import IO, Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text

PIPE_WIDTH = 2000
"""Columns in a pipe: wide enough that no table or message line is wrapped or cut."""


class OutputConsole(Console):
    """A rich Console whose width, off a terminal, is :data:`PIPE_WIDTH` instead of 80.

    An explicit ``width=`` or ``$COLUMNS`` still wins, so tests and users can pin it.
    """

    @property
    def size(self) -> ConsoleDimensions:
        """The terminal's size, or :data:`PIPE_WIDTH` columns when writing to a pipe or file."""
        dimensions = super().size
        pinned = self._width is not None or "COLUMNS" in self._environ
        if pinned or self.is_terminal:
            return dimensions
        return ConsoleDimensions(PIPE_WIDTH, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width = width
        self._height = height


def output_console(**options: Any) -> OutputConsole:
    """A console for data: no highlighting of numbers or paths in data, soft-wrapped in pipes."""
    return OutputConsole(highlight=False, **options)


def plain(*values: object) -> list[Text]:
    """Table cells from data, shown as text: a ``[/x]`` or ``[link=...]`` in them stays as is."""
    return [value if isinstance(value, Text) else Text(str(value)) for value in values]


class ListFormat(StrEnum):
    """How a list command prints its rows."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FormatOption = Annotated[
    ListFormat | None,
    typer.Option("--format", help="table (default), json (one object a line) or csv."),
]

# OWASP, CSV injection: a cell a spreadsheet would read as a formula starts with one of these.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def list_format(chosen: ListFormat | None, as_json: bool) -> ListFormat:
    """The format asked for: ``--format`` wins, ``--json`` means json, else a table."""
    if chosen is not None:
        return chosen
    return ListFormat.JSON if as_json else ListFormat.TABLE


def csv_cell(value: Any) -> Any:
    """``value`` safe for a spreadsheet: nested data as JSON, formulas neutralised.

    A text cell starting with ``= + - @``, a tab or a carriage return gets a leading single
    quote, as OWASP advises, so Excel or Sheets shows it instead of evaluating it.
    """
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], stream: IO[str]) -> None:
    """``rows`` as CSV with a header of ``columns``, each cell through :func:`csv_cell`."""
    writer = csv.DictWriter(stream, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: csv_cell(row.get(column)) for column in columns})


def write_json_lines(rows: Iterable[Mapping[str, Any]], stream: IO[str]) -> None:
    """One JSON object a line, for scripts (``jq``, log shippers)."""
    for row in rows:
        stream.write(json.dumps(row, default=str) + "\n")


def print_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], chosen: ListFormat
) -> None:
    """``rows`` on stdout as JSON lines or CSV (tables are each command's own)."""
    if chosen is ListFormat.CSV:
        write_csv(rows, columns, sys.stdout)
    else:
        write_json_lines(rows, sys.stdout)


LOGGED_VALUE_CHARS = 300
"""The most characters of one value a log line shows (a rejected record's value can be a
whole payload, and may hold personal data)."""


class CapLoggedValues(logging.Filter):
    """Cuts each argument of a log record to :data:`LOGGED_VALUE_CHARS` characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Shorten the record's long arguments in place; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(_capped(argument) for argument in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {key: _capped(value) for key, value in record.args.items()}
        return True


def _capped(value: object) -> object:
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    if len(text) <= LOGGED_VALUE_CHARS:
        return value
    return f"{text[:LOGGED_VALUE_CHARS]}… ({len(text):,} chars)"


def cap_logged_values() -> None:
    """Cap the values every handler of the root logger writes (call after configuring it)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(existing, CapLoggedValues) for existing in handler.filters):
            handler.addFilter(CapLoggedValues())
