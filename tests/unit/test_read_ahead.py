"""Read-ahead hands out source pages in order and reads the next while the caller works."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.base import Cursor, Page
from connectors.errors import TransientError
from sync.engine.read_ahead import SourceReads


def _page(number: int) -> Page:
    return Page(records=[{"Id": str(number)}], cursor=Cursor(f"2026-01-0{number}", str(number)))


def test_the_next_page_is_read_while_the_caller_holds_the_current_one() -> None:
    reading_second = threading.Event()

    def source() -> Iterator[Page]:
        yield _page(1)
        reading_second.set()
        yield _page(2)

    reads = SourceReads([source])
    pages = reads.pages(0)
    first = next(pages)

    # Read on demand, page two would only be asked for after this; here it already is.
    assert reading_second.wait(timeout=10)
    assert [first, *pages] == [_page(1), _page(2)]
    reads.close()


def test_the_next_entity_is_read_while_the_caller_holds_the_last_page_of_this_one() -> None:
    opened_contacts = threading.Event()

    def accounts() -> Iterator[Page]:
        yield _page(1)

    def contacts() -> Iterator[Page]:
        opened_contacts.set()
        yield _page(2)
        yield _page(3)

    reads = SourceReads([accounts, contacts])
    account_pages = reads.pages(0)
    assert next(account_pages) == _page(1)

    # The caller still handles the accounts' last page; the contacts' query already went out.
    assert opened_contacts.wait(timeout=10)
    assert list(account_pages) == []
    assert list(reads.pages(1)) == [_page(2), _page(3)]
    reads.close()


def test_a_failed_read_is_raised_where_the_caller_asks_for_that_page() -> None:
    def source() -> Iterator[Page]:
        yield _page(1)
        yield _page(2)
        raise TransientError("queryMore failed", system="salesforce")

    reads = SourceReads([source])
    pages = reads.pages(0)
    handled = [next(pages), next(pages)]

    with pytest.raises(TransientError, match="queryMore failed"):
        next(pages)
    assert handled == [_page(1), _page(2)]
    reads.close()


def test_a_failed_first_read_of_the_next_entity_is_raised_only_for_that_entity() -> None:
    def accounts() -> Iterator[Page]:
        yield _page(1)

    def contacts() -> Iterator[Page]:
        raise TransientError("query failed", system="salesforce")
        yield _page(2)  # pragma: no cover - makes this a generator

    reads = SourceReads([accounts, contacts])

    # The accounts end cleanly, so their last page commits before the run fails.
    assert list(reads.pages(0)) == [_page(1)]
    with pytest.raises(TransientError, match="query failed"):
        list(reads.pages(1))
    reads.close()


def test_settle_waits_for_the_read_in_flight() -> None:
    release = threading.Event()
    finished = threading.Event()

    def source() -> Iterator[Page]:
        yield _page(1)
        release.wait(timeout=10)
        finished.set()
        yield _page(2)

    reads = SourceReads([source])
    assert next(reads.pages(0)) == _page(1)
    assert not finished.is_set()
    release.set()

    reads.settle()

    assert finished.is_set()
    reads.close()


def test_leaving_early_waits_for_the_read_in_flight_then_closes_the_source() -> None:
    closed = threading.Event()

    def source() -> Iterator[Page]:
        try:
            yield _page(1)
            yield _page(2)
            yield _page(3)
        finally:
            closed.set()

    reads = SourceReads([source])
    assert next(reads.pages(0)) == _page(1)

    reads.close()

    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name.startswith("read-ahead")]


def test_without_ahead_pages_are_read_only_when_asked_for() -> None:
    asked: list[int] = []

    def accounts() -> Iterator[Page]:
        for number in (1, 2):
            asked.append(number)
            yield _page(number)

    def contacts() -> Iterator[Page]:
        asked.append(3)
        yield _page(3)

    reads = SourceReads([accounts, contacts], ahead=False)
    pages = reads.pages(0)

    assert next(pages) == _page(1)
    assert asked == [1]
    assert next(pages) == _page(2)
    assert asked == [1, 2]
    assert list(reads.pages(1)) == [_page(3)]
    reads.close()
