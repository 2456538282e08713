"""Both ways a mapping compiles, for tests that must pass on each: generated code and closures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mappings.codegen import closures_only

COMPILE_PATHS = ("generated", "closures")


@contextmanager
def compiled_as(path: str) -> Iterator[None]:
    """Mappings loaded in this block compile the ``path`` way."""
    if path == "closures":
        with closures_only():
            yield
    else:
        yield
