"""gc_paused: no cyclic collection inside, the collector left as it was found."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sync.engine.gc_pause import gc_paused


@pytest.fixture
def gc_state() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.usefixtures("gc_state")
def test_collector_is_off_inside_and_back_on_after() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the inner block must not turn it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_collector_comes_back_on_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("page failed")
    assert gc.isenabled()


@pytest.mark.usefixtures("gc_state")
def test_a_collector_disabled_by_the_caller_stays_disabled() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
