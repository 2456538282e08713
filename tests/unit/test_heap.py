"""Handing the C heap's free pages back to the OS between pages of a run."""

from __future__ import annotations

import pytest

from sync.engine.heap import _malloc_trim, release_free_memory


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096


@pytest.mark.skipif(_malloc_trim() is None, reason="needs glibc's malloc_trim")
def test_memory_freed_inside_the_heap_goes_back_to_the_os() -> None:
    # 3 KB objects come from malloc, not Python's small-object arenas. Keeping the last one
    # stops glibc from shrinking the heap's top by itself, as a run's live objects do.
    chunks = [bytes(3000) for _ in range(40_000)]
    kept = chunks[-1]
    del chunks
    before = _rss_bytes()
    release_free_memory()
    assert before - _rss_bytes() > 60 * 2**20
    assert len(kept) == 3000
