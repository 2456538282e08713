"""Give the C heap's free pages back to the operating system between pages of a run.

A long run frees as much as it allocates, but glibc keeps freed chunks in its arenas (one per
thread that ever allocated: the billing and ERP writers run in thread pools), and a heap
fragmented by a page's short-lived objects rarely shrinks by itself, so the process's RSS
crept up over a million records without live data growing. ``malloc_trim(0)`` returns every
arena's free pages; after a committed page it costs about a millisecond.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on a C library without it (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> None:
    """Return the C heap's free memory to the OS, where the C library allows it (glibc)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
