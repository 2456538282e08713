"""Run independent calls with at most N in flight; answers come back in the calls' order.

Used where one unit of work is several independent network calls (billing writes, one call
per target system), so latency overlaps while the order of results stays that of the input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

_T = TypeVar("_T")


def call_all(calls: Sequence[Callable[[], _T]], limit: int, name: str = "call") -> list[_T]:
    """Every call's answer in input order, with at most ``limit`` running at once.

    When a call raises, calls not yet started are cancelled, the running ones finish, and the
    first failure in input order is raised: nothing is left running behind the caller's back.
    """
    workers = min(limit, len(calls))
    if workers <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        futures = [pool.submit(call) for call in calls]
        _wait_or_cancel(futures)
    return [future.result() for future in futures]


def _wait_or_cancel(futures: list[Future[_T]]) -> None:
    done, pending = wait(futures, return_when="FIRST_EXCEPTION")
    if any(future.exception() is not None for future in done):
        for future in pending:
            future.cancel()
        wait(futures)
