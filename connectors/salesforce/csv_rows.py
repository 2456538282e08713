"""Bulk API 2.0 CSV to and from the REST record shapes mappings already know.

Bulk query results are text: ``"true"``, ``"1200.0"``, ``""`` for null, datetimes ending in
``Z``, parent fields as ``Account.Name`` columns. :class:`RestShaper` turns each row into what
the REST query would have returned (booleans, numbers, None, ``+0000`` datetimes, nested parent
objects), so a mapping sees one record shape whichever API read it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# Bulk API 2.0 ingest reads this as "set the field to null"; an empty cell means "leave as is".
BULK_NULL = "#N/A"
_NUMBER_TYPES = frozenset({"double", "currency", "percent"})


def _boolean(text: str) -> bool:
    return text.lower() == "true"


def _rest_datetime(text: str) -> str:
    # Bulk writes 2026-01-05T10:00:01.000Z; REST writes 2026-01-05T10:00:01.000+0000.
    return text[:-1] + "+0000" if text.endswith("Z") else text


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "boolean": _boolean,
    "int": int,
    "datetime": _rest_datetime,
    **dict.fromkeys(_NUMBER_TYPES, float),
}


class RestShaper:
    """Converts Bulk CSV rows of one query into REST-shaped records."""

    def __init__(self, columns: Sequence[str], field_types: Mapping[str, str]) -> None:
        """``field_types`` maps each column (``Account.Name`` too) to its describe type."""
        self._plan = [
            (column.split("."), _CONVERTERS.get(field_types.get(column, "string")))
            for column in columns
        ]

    def shape(self, row: Sequence[str]) -> dict[str, Any]:
        """One CSV row as a REST record; a parent whose columns are all empty is None."""
        record: dict[str, Any] = {}
        for (parts, convert), text in zip(self._plan, row, strict=True):
            value = None if text == "" else (convert(text) if convert else text)
            target = record
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        for parts, _ in self._plan:
            if len(parts) > 1 and _all_empty(record.get(parts[0])):
                # REST answers null for a missing parent; Bulk can only give empty cells.
                record[parts[0]] = None
        return record


def _all_empty(value: Any) -> bool:
    if not isinstance(value, dict):
        return value is None
    return all(_all_empty(inner) for inner in value.values())


def csv_cell(value: Any) -> str:
    """A payload value as a Bulk ingest cell (null is ``#N/A``, booleans lower-case)."""
    if value is None:
        return BULK_NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def payloads_csv(columns: Sequence[str], payloads: Iterable[Mapping[str, Any]]) -> bytes:
    """An ingest job's upload: a header row, then one row per payload (missing cells empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for payload in payloads:
        writer.writerow([csv_cell(payload[c]) if c in payload else "" for c in columns])
    return buffer.getvalue().encode("utf-8")


def read_csv(text: str) -> tuple[list[str], Iterable[list[str]]]:
    """The header and a lazy iterator over the rows of one CSV page."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, [])
    return header, rows
