"""Read the next source page while the engine handles the current one: one page ahead at most.

A source read is a round trip (Salesforce ``queryMore``: the network, then the org building up
to 2,000 rows) that used to start only after the previous page was committed. Here a single
background thread asks for page N+1 as soon as page N is handed out, so the wait overlaps
page N's capture, delivery and commit. Nothing else changes: pages come out in order, the
engine still commits each before it asks for the next, and a read that fails is raised where
the engine asks for that page, after the pages before it were committed. At most two pages
are in memory: the one in hand and the one read ahead.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor

from connectors.base import Page


def read_ahead(pages: Iterator[Page], *, ahead: bool = True) -> Generator[Page, None, None]:
    """The pages of ``pages`` in order, each next one read while the caller uses the last.

    Close the returned generator (``contextlib.closing``) when leaving early: it waits for the
    read in flight, so no thread outlives the caller's use of the source connector, then
    closes ``pages``. With ``ahead=False`` pages are read in the caller's thread, on demand
    (for a connector the caller uses meanwhile).
    """
    if not ahead:
        yield from pages
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead")
    try:
        upcoming = pool.submit(next, pages, None)
        while (page := upcoming.result()) is not None:
            upcoming = pool.submit(next, pages, None)
            yield page
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        close = getattr(pages, "close", None)
        if close is not None:
            close()
