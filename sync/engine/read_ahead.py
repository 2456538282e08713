"""Read the next source page while the engine handles the current one: one page ahead at most.

A source read is a round trip (Salesforce ``queryMore``: the network, then the org building up
to 2,000 rows) that used to start only after the previous page was committed. Here a single
background thread asks for page N+1 as soon as page N is handed out, so the wait overlaps
page N's capture, delivery and commit. The look-ahead crosses entities: once an entity's
last page is handed out, the thread opens the next entity's read, so that query's round trip
overlaps the last page's delivery instead of starting after it.

Nothing else changes: pages come out in order, and a read that fails is raised where the
engine asks for that entity's pages. While it waits for a page, the engine may commit pages
whose writes landed (``idle``). At most two pages are read at once: the one in hand and the
one read ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from connectors.base import Page

PageReader = Callable[[], Iterator[Page]]  # opens one entity's read; nothing is sent until next()
Idle = Callable[[Future[Any]], None]  # what the caller does while the next page is read


@dataclass(frozen=True)
class _Read:
    """One step of the reading: an entity's next page, the end of every entity, or a failure."""

    entity: int  # index into the readers; len(readers) once all are read
    page: Page | None = None
    error: BaseException | None = None


class SourceReads:
    """Every entity's pages in turn, each next page read while the caller handles the last.

    Call :meth:`pages` for the entities in order, each to its end, and :meth:`close` when done
    or leaving early (it waits for the read in flight, then closes the open read). Before using
    the source connector itself, call :meth:`settle`, so no read is in flight meanwhile. With
    ``ahead=False`` pages are read in the caller's thread, on demand (for a connector the
    caller also writes through).
    """

    def __init__(self, readers: Sequence[PageReader], *, ahead: bool = True) -> None:
        self._readers = list(readers)
        self._reading = 0  # the entity whose pages the next read returns
        self._open: Iterator[Page] | None = None
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") if ahead else None
        )
        self._upcoming: Future[_Read] | None = None

    def pages(self, entity: int, idle: Idle | None = None) -> Iterator[Page]:
        """The pages of the ``entity``-th reader, in order; ``idle`` gets the read awaited."""
        while True:
            upcoming = self._peek(idle)
            if upcoming.entity != entity:
                return  # the next entity's first page waits for its own call
            if upcoming.error is not None:
                raise upcoming.error
            if upcoming.page is None:
                return  # past the last reader
            self._upcoming = self._pool.submit(self._read) if self._pool else None
            yield upcoming.page

    def settle(self) -> None:
        """Wait for the read in flight, if any, so the caller may use the source connector."""
        if self._upcoming is not None:
            wait([self._upcoming])

    def close(self) -> None:
        """Wait for the read in flight, stop the thread and close the open read."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._close_open()

    def _peek(self, idle: Idle | None = None) -> _Read:
        if self._upcoming is None:
            if self._pool is None:
                self._upcoming = Future()
                self._upcoming.set_result(self._read())
            else:
                self._upcoming = self._pool.submit(self._read)
        if idle is not None and not self._upcoming.done():
            idle(self._upcoming)  # returns once the read is done
        return self._upcoming.result()

    def _read(self) -> _Read:
        """The next page in order, moving on to the next entity when one is exhausted."""
        while self._reading < len(self._readers):
            try:
                if self._open is None:
                    self._open = self._readers[self._reading]()
                page = next(self._open, None)
            except Exception as error:  # raised to the caller of pages() for this entity
                return _Read(self._reading, error=error)
            if page is not None:
                return _Read(self._reading, page)
            self._close_open()
            self._reading += 1
        return _Read(self._reading)

    def _close_open(self) -> None:
        close = getattr(self._open, "close", None)
        self._open = None
        if close is not None:
            close()
