"""Read-ahead hands out source pages in order and reads the next while the caller works."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.base import Cursor, Page
from connectors.errors import TransientError
from sync.read_ahead import read_ahead


def _page(number: int) -> Page:
    return Page(records=[{"Id": str(number)}], cursor=Cursor(f"2026-01-0{number}", str(number)))


def test_the_next_page_is_read_while_the_caller_holds_the_current_one() -> None:
    reading_second = threading.Event()

    def source() -> Iterator[Page]:
        yield _page(1)
        reading_second.set()
        yield _page(2)

    pages = read_ahead(source())
    first = next(pages)

    # Read on demand, page two would only be asked for after this; here it already is.
    assert reading_second.wait(timeout=10)
    assert [first, *pages] == [_page(1), _page(2)]


def test_a_failed_read_is_raised_where_the_caller_asks_for_that_page() -> None:
    def source() -> Iterator[Page]:
        yield _page(1)
        yield _page(2)
        raise TransientError("queryMore failed", system="salesforce")

    pages = read_ahead(source())
    handled = [next(pages), next(pages)]

    with pytest.raises(TransientError, match="queryMore failed"):
        next(pages)
    assert handled == [_page(1), _page(2)]


def test_leaving_early_waits_for_the_read_in_flight_then_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[Page]:
        try:
            yield _page(1)
            yield _page(2)
            yield _page(3)
        finally:
            closed.set()

    pages = read_ahead(source())
    assert next(pages) == _page(1)

    pages.close()

    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("read-ahead")]


def test_without_ahead_pages_are_read_only_when_asked_for() -> None:
    asked: list[int] = []

    def source() -> Iterator[Page]:
        for number in (1, 2):
            asked.append(number)
            yield _page(number)

    pages = read_ahead(source(), ahead=False)

    assert next(pages) == _page(1)
    assert asked == [1]
