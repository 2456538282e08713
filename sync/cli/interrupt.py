"""Ctrl-C and SIGTERM during `run` and `backfill`: finish the page in hand, then stop.

The first signal asks the engine to stop after the page it is working on: that page commits,
the run is recorded ``stopped`` with what it wrote, and the command prints its summary and
exits 130 (128 + SIGINT, as shells report an interrupted command). A second signal abandons
the page in hand at once; the run is left ``running`` under a lease held by a process that is
gone, and the next run of the flow on this host takes the lease and marks it abandoned.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from rich.text import Text

from sync.cli.common import err_console

EXIT_INTERRUPTED = 130
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


@contextmanager
def stop_on_signals(request_stop: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT/SIGTERM call ``request_stop`` once; a second one exits at once."""
    received: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) > 1:
            err_console.print(Text("interrupted again: abandoning the page in hand"))
            os._exit(EXIT_INTERRUPTED)
        name = signal.Signals(signum).name
        err_console.print(
            Text(f"{name}: finishing the page in hand, then stopping (again to abandon it)")
        )
        request_stop()

    previous: dict[signal.Signals, Handler] = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    for sig in _SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
