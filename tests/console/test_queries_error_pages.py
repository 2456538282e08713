"""Error-queue pages: every row once, in order, whatever the page size, sort or ties."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.store import Store
from sync.store.error_queue import ErrorFilter
from sync.store.error_queue_pages import (
    BadCursor,
    ErrorPage,
    ErrorSort,
    PageRequest,
    encode_cursor,
    error_page,
)
from sync.store.schema import ErrorStatus
from tests.console.error_rows import BASE, error_values, insert_errors


@pytest.fixture
def queue(store: Store) -> Store:
    """23 entries: times tie in threes, attempts tie in fives, every fourth is ignored."""
    rows = [
        error_values(
            index,
            created_at=BASE + timedelta(minutes=index // 3),
            updated_at=BASE + timedelta(minutes=index // 3),
            attempts=1 + index // 5,
            status="ignored" if index % 4 == 0 else "open",
            entity="account" if index % 2 else "order",
        )
        for index in range(23)
    ]
    with store.transaction() as connection:
        insert_errors(connection, rows)
    return store


def _walk(store: Store, request: PageRequest) -> list[ErrorPage]:
    pages: list[ErrorPage] = []
    cursor: str | None = None
    with store.engine.connect() as connection:
        while True:
            page = error_page(connection, PageRequest(
                where=request.where, text=request.text, sort=request.sort,
                after=cursor, size=request.size,
            ))  # fmt: skip
            pages.append(page)
            cursor = page.next_cursor
            if cursor is None:
                return pages


@pytest.mark.parametrize("sort", list(ErrorSort))
@pytest.mark.parametrize("size", [1, 4, 23, 50])
def test_walking_forward_shows_every_entry_once_in_sort_order(
    queue: Store, sort: ErrorSort, size: int
) -> None:
    pages = _walk(queue, PageRequest(sort=sort, size=size))

    rows = [row for page in pages for row in page.rows]
    assert sorted(row.id for row in rows) == list(range(1, 24))
    keys = {
        ErrorSort.NEWEST: lambda r: (-r.created_at.timestamp(), -r.id),
        ErrorSort.OLDEST: lambda r: (r.created_at.timestamp(), r.id),
        ErrorSort.UPDATED: lambda r: (-r.updated_at.timestamp(), -r.id),
        ErrorSort.ATTEMPTS: lambda r: (-r.attempts, -r.id),
    }
    assert rows == sorted(rows, key=keys[sort])
    assert all(len(page.rows) == size for page in pages[:-1])


def test_going_back_from_a_page_returns_the_page_before_it(queue: Store) -> None:
    first, second, third = _walk(queue, PageRequest(size=8))

    with queue.engine.connect() as connection:
        assert third.previous_cursor is not None
        back = error_page(connection, PageRequest(before=third.previous_cursor, size=8))
        assert back.previous_cursor is not None
        back_again = error_page(connection, PageRequest(before=back.previous_cursor, size=8))
    assert [row.id for row in back.rows] == [row.id for row in second.rows]
    assert [row.id for row in back_again.rows] == [row.id for row in first.rows]
    assert back_again.previous_cursor is None
    assert first.previous_cursor is None


def test_the_last_page_holds_the_oldest_entries_in_order(queue: Store) -> None:
    with queue.engine.connect() as connection:
        last = error_page(connection, PageRequest(last=True, size=5))
    assert [row.id for row in last.rows] == [5, 4, 3, 2, 1]
    assert last.next_cursor is None
    assert last.previous_cursor is not None


def test_filters_and_text_narrow_every_page(queue: Store) -> None:
    where = ErrorFilter(status=ErrorStatus.OPEN, entity="account")
    rows = [row for page in _walk(queue, PageRequest(where=where, size=2)) for row in page.rows]
    assert {(row.status, row.entity) for row in rows} == {(ErrorStatus.OPEN, "account")}
    assert len(rows) == len([i for i in range(23) if i % 2 and i % 4])

    by_reason = _walk(queue, PageRequest(text="ORDER 7 WAS", size=50))
    by_source_id = _walk(queue, PageRequest(text=f" 801{12:015d} ", size=50))
    by_entry_id = _walk(queue, PageRequest(text="3", size=50))
    assert [row.source_id for row in by_reason[0].rows] == [f"801{7:015d}"]
    assert [row.id for row in by_source_id[0].rows] == [13]
    assert 3 in [row.id for row in by_entry_id[0].rows]


@pytest.mark.parametrize("text", ["%", "_", "\\", "'; DROP TABLE error_queue; --", "\x00<script>"])
def test_like_wildcards_and_hostile_text_match_only_themselves(queue: Store, text: str) -> None:
    with queue.engine.connect() as connection:
        page = error_page(connection, PageRequest(text=text.replace("\x00", "")))
    assert page.rows == []


@pytest.mark.parametrize("cursor", ["", "garbage", "W10", "WyJuZXdlc3QiLCJ4IiwxXQ", "A" * 5000])
def test_a_damaged_cursor_is_refused_with_a_clear_error(queue: Store, cursor: str) -> None:
    with queue.engine.connect() as connection, pytest.raises(BadCursor, match="start from page"):
        error_page(connection, PageRequest(after=cursor))


def test_a_cursor_from_another_sort_is_refused(queue: Store) -> None:
    with queue.engine.connect() as connection:
        first = error_page(connection, PageRequest(size=2))
        token = encode_cursor(ErrorSort.NEWEST, first.rows[-1])
        with pytest.raises(BadCursor, match="another sort"):
            error_page(connection, PageRequest(sort=ErrorSort.ATTEMPTS, after=token))


def test_page_size_is_capped(queue: Store) -> None:
    with queue.engine.connect() as connection:
        page = error_page(connection, PageRequest(size=10**9))
        tiny = error_page(connection, PageRequest(size=-5))
    assert len(page.rows) == 23
    assert len(tiny.rows) == 1
