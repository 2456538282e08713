"""Pause Python's cyclic garbage collector while one page is captured or committed.

A page builds thousands of small containers (raw dicts, canonical dicts, models, rows) that
all stay alive until the page is committed; each generation-0 collection on the way walks
them again without freeing anything. Reference counting still frees everything acyclic at
once, and the collector runs as usual between pages, so memory stays bounded by one page.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Within the block the cyclic collector does not run; it is left as found afterwards.

    Only the caller that found it enabled turns it back on, so nested pauses (and a test or
    caller that disabled it on purpose) are respected.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
