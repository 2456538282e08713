"""What the error-queue page reads: the view a URL asks for, and that page of entries.

The query string is the whole state of a view (filters, sort, cursor), so the page and the
htmx fragment are the same URL. Values a person could mistype or a link could carry (an
unknown status, a damaged cursor) give an empty or first page with a line saying why, never
a server error.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import Query

from sync.console.views.pages_values import NO_NUL
from sync.store.error_queue import ErrorFilter, ErrorRow
from sync.store.error_queue_pages import BadCursor, ErrorSort, PageRequest, error_page
from sync.store.schema import ErrorStatus

PAGE_SIZE = 50
AGES: dict[str, tuple[str, timedelta | None, timedelta | None]] = {
    "": ("any age", None, None),
    "1h": ("last hour", None, timedelta(hours=1)),
    "1d": ("last day", None, timedelta(days=1)),
    "7d": ("last 7 days", None, timedelta(days=7)),
    "older-7d": ("older than 7 days", timedelta(days=7), None),
    "older-30d": ("older than 30 days", timedelta(days=30), None),
}
SYSTEMS = ("salesforce", "billing", "erp")
# The classes the engine and connectors queue under (connectors/errors.py, mappings/errors.py).
KNOWN_CLASSES = (
    "AuthError",
    "ConfigError",
    "MappingError",
    "RateLimited",
    "RecordRejected",
    "TransientError",
    "UnresolvedReference",
    "ValidationError",
)
SORTS = {
    ErrorSort.NEWEST: "newest first",
    ErrorSort.OLDEST: "oldest first",
    ErrorSort.UPDATED: "last failed first",
    ErrorSort.ATTEMPTS: "most attempts first",
}


@dataclass(frozen=True)
class QueueView:
    """The error-queue view a URL asks for; every field is the query string's text."""

    status: str = ""
    entity: str = ""
    system: str = ""
    error_class: str = ""
    age: str = ""
    q: str = ""
    sort: str = ErrorSort.NEWEST.value
    after: str = ""
    before: str = ""

    def query(self, **changes: str) -> str:
        """This view's query string with ``changes``, empty values left out."""
        values = {**self.__dict__, **changes}
        return urlencode({name: value for name, value in values.items() if value})


def queue_view(
    status: str = Query(default="", max_length=20, pattern=NO_NUL),
    entity: str = Query(default="", max_length=40, pattern=NO_NUL),
    system: str = Query(default="", max_length=40, pattern=NO_NUL),
    error_class: str = Query(default="", max_length=60, pattern=NO_NUL),
    age: str = Query(default="", max_length=20, pattern=NO_NUL),
    q: str = Query(default="", max_length=200, pattern=NO_NUL),
    sort: str = Query(default=ErrorSort.NEWEST.value, max_length=20, pattern=NO_NUL),
    after: str = Query(default="", max_length=500, pattern=NO_NUL),
    before: str = Query(default="", max_length=500, pattern=NO_NUL),
) -> QueueView:
    """The view from the query string (FastAPI dependency); over-long values are a 422."""
    return QueueView(status, entity, system, error_class, age, q.strip(), sort, after, before)


@dataclass(frozen=True)
class QueuePage:
    """One page of entries, the links to its neighbours, and what was wrong with the URL."""

    rows: list[ErrorRow]
    next_url: str | None
    previous_url: str | None
    problem: str | None = None


@dataclass(frozen=True)
class FilterChoices:
    """What the filter lists offer."""

    statuses: list[str]
    entities: list[str]
    systems: list[str]
    classes: list[str]
    ages: list[tuple[str, str]]
    sorts: list[tuple[str, str]]


def _filter(view: QueueView) -> ErrorFilter | str:
    if view.status and view.status not in {status.value for status in ErrorStatus}:
        return f"there is no status {view.status!r}"
    if view.age not in AGES:
        return f"there is no age {view.age!r}"
    _label, older, newer = AGES[view.age]
    return ErrorFilter(
        status=ErrorStatus(view.status) if view.status else None,
        entity=view.entity or None,
        system=view.system or None,
        error_class=view.error_class or None,
        older_than=older,
        newer_than=newer,
    )


def _url(view: QueueView, **cursor: str) -> str:
    return f"/errors?{view.query(**{'after': '', 'before': '', **cursor})}"


def error_queue_page(connection: sa.Connection, view: QueueView, now: datetime) -> QueuePage:
    """The page ``view`` asks for; a bad filter or cursor is said, not raised."""
    where = _filter(view)
    if isinstance(where, str):
        return QueuePage([], None, None, f"{where}; pick one from the list")
    sort = ErrorSort(view.sort) if view.sort in SORTS else ErrorSort.NEWEST
    request = PageRequest(
        where=where,
        text=view.q or None,
        sort=sort,
        after=view.after or None,
        before=view.before or None,
        size=PAGE_SIZE,
    )
    problem = None
    try:
        page = error_page(connection, request)
    except BadCursor as error:
        problem = str(error)
        page = error_page(connection, replace(request, after=None, before=None))
    return QueuePage(
        rows=page.rows,
        next_url=_url(view, after=page.next_cursor) if page.next_cursor else None,
        previous_url=_url(view, before=page.previous_cursor) if page.previous_cursor else None,
        problem=problem,
    )


def filter_choices(entities: list[str], systems: list[str], classes: list[str]) -> FilterChoices:
    """The filter lists: every status, the given names, the ages and the sorts."""
    return FilterChoices(
        statuses=[status.value for status in ErrorStatus],
        entities=sorted(entities),
        systems=sorted(systems),
        classes=sorted(classes),
        ages=[(value, label) for value, (label, _old, _new) in AGES.items()],
        sorts=[(sort.value, label) for sort, label in SORTS.items()],
    )
