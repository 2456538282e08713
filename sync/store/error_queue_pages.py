"""Pages of the error queue for the console: filters, sorts and keyset pagination.

Each page seeks past the last row of the one before on an index that matches the sort
(``(created_at, id)``, ``(updated_at, id)``, ``(attempts, id)``; migration 0005), so page 500
reads the same number of rows as page 1. The id breaks ties, so rows with the same time or
attempt count are never skipped nor shown twice. A cursor is an opaque token: the sort, the
sort value and the id of the row to seek past.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from sync.store.error_queue import ErrorFilter, ErrorRow, error_row
from sync.store.schema import error_queue, utc_now

MAX_PAGE_SIZE = 500


class ErrorSort(StrEnum):
    """The orders a person can page the queue in."""

    NEWEST = "newest"  # created, newest first
    OLDEST = "oldest"
    UPDATED = "updated"  # last failed, most recent first
    ATTEMPTS = "attempts"  # most attempts first


_SORTS: dict[ErrorSort, tuple[sa.Column[Any], bool]] = {
    ErrorSort.NEWEST: (error_queue.c.created_at, True),
    ErrorSort.OLDEST: (error_queue.c.created_at, False),
    ErrorSort.UPDATED: (error_queue.c.updated_at, True),
    ErrorSort.ATTEMPTS: (error_queue.c.attempts, True),
}


_AGE = re.compile(r"^(\d{1,6})([mhdw])$")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_AGE = timedelta(days=36_525)


def parse_age(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d`` or ``2w`` as a timedelta; ValueError for anything else."""
    match = _AGE.match(text.strip())
    if not match:
        raise ValueError(f"age {text!r} should look like 30m, 12h, 7d or 2w")
    age = timedelta(**{_AGE_UNITS[match.group(2)]: int(match.group(1))})
    if age > MAX_AGE:  # further back than any entry, and past what a date can hold
        raise ValueError(f"age {text!r} is more than 100 years")
    return age


class BadCursor(ValueError):
    """A page cursor that this store did not hand out (edited, truncated or for another sort)."""


@dataclass(frozen=True)
class PageRequest:
    """Which page: filters, free text, sort, and where to start.

    ``after`` continues past a page's ``next_cursor``; ``before`` goes back from a page's
    ``previous_cursor``; ``last`` asks for the final page. With none, the first page.
    """

    where: ErrorFilter = field(default_factory=ErrorFilter)
    text: str | None = None  # in the reason, or an id: source, canonical or entry id
    sort: ErrorSort = ErrorSort.NEWEST
    after: str | None = None
    before: str | None = None
    last: bool = False
    size: int = 50


@dataclass(frozen=True)
class ErrorPage:
    """One page of entries and the cursors to its neighbours (None at either end)."""

    rows: list[ErrorRow]
    next_cursor: str | None
    previous_cursor: str | None


def _like(text: str) -> str:
    escaped = re.sub(r"([\\%_])", r"\\\1", text)
    return f"%{escaped}%"


def text_match(text: str) -> sa.ColumnElement[bool]:
    """Entries whose reason holds ``text`` (any case), or with ``text`` as one of their ids."""
    table = error_queue.c
    # PostgreSQL refuses U+0000 in a parameter, and no stored text holds one: match nothing.
    needle = text.strip().replace("\x00", "")
    matches: list[sa.ColumnElement[bool]] = [
        table.message.ilike(_like(needle), escape="\\"),
        table.source_id == needle,
        table.canonical_id == needle,
    ]
    if needle.isdigit() and len(needle) < 10:
        matches.append(table.id == int(needle))
    return sa.or_(*matches)


def encode_cursor(sort: ErrorSort, row: ErrorRow) -> str:
    """The token that seeks past ``row`` in ``sort`` order."""
    column, _descending = _SORTS[sort]
    value = getattr(row, column.name)
    shown = value.isoformat() if isinstance(value, datetime) else value
    text = json.dumps([sort.value, shown, row.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(sort: ErrorSort, token: str) -> tuple[Any, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        named, value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if named != sort.value or type(row_id) is not int:
            raise BadCursor("this page cursor belongs to another sort; start from page 1")
        if sort is ErrorSort.ATTEMPTS:
            if type(value) is not int:
                raise BadCursor("page cursor is damaged; start from page 1")
            return value, row_id
        return datetime.fromisoformat(value), row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        if isinstance(error, BadCursor):
            raise
        raise BadCursor("page cursor is damaged; start from page 1") from None


def _seek(sort: ErrorSort, token: str, forward: bool) -> sa.ColumnElement[bool]:
    column, descending = _SORTS[sort]
    value, row_id = _decode_cursor(sort, token)
    if value is not None and isinstance(value, datetime) and value.tzinfo is None:
        raise BadCursor("page cursor is damaged; start from page 1")
    key = sa.tuple_(column, error_queue.c.id)
    bound = sa.tuple_(sa.literal(value, type_=column.type), sa.literal(row_id))
    return key < bound if descending == forward else key > bound


def _order(sort: ErrorSort, forward: bool) -> list[sa.UnaryExpression[Any]]:
    column, descending = _SORTS[sort]
    downward = descending == forward
    return [
        column.desc() if downward else column.asc(),
        error_queue.c.id.desc() if downward else error_queue.c.id.asc(),
    ]


def error_page(connection: sa.Connection, request: PageRequest) -> ErrorPage:
    """The requested page; raises BadCursor for a cursor this store did not hand out."""
    size = max(1, min(request.size, MAX_PAGE_SIZE))
    forward = request.before is None and not request.last
    query = sa.select(error_queue).where(*request.where.where(utc_now()))
    if request.text and request.text.strip():
        query = query.where(text_match(request.text))
    token = request.after if forward else request.before
    if token is not None:
        query = query.where(_seek(request.sort, token, forward))
    query = query.order_by(*_order(request.sort, forward)).limit(size + 1)
    rows = [error_row(row) for row in connection.execute(query)]
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    if not rows:
        return ErrorPage(rows=[], next_cursor=None, previous_cursor=None)
    first, last = encode_cursor(request.sort, rows[0]), encode_cursor(request.sort, rows[-1])
    if forward:
        return ErrorPage(rows, next_cursor=last if more else None,
                         previous_cursor=first if request.after else None)  # fmt: skip
    return ErrorPage(rows, next_cursor=last if request.before else None,
                     previous_cursor=first if more else None)  # fmt: skip
