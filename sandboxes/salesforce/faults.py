"""Fault injection for the Salesforce sandbox: scripted or random, per data API call.

A fault answers a call with an error status and body (5xx, ``REQUEST_LIMIT_EXCEEDED``,
``UNABLE_TO_LOCK_ROW``, 401 ``INVALID_SESSION_ID``), drops the connection without answering,
or delays the answer. Scripted faults apply to the next calls in order; random ones hit each
call with a probability, from a seeded generator so a failing run can be replayed. A fault
marked ``subrequest`` answers one subrequest of a Composite request instead of a whole call.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """One injected behaviour; ``drop`` hangs up, else ``status``/``body`` are answered.

    ``subrequest``: answers a Composite subrequest (``status``/``body`` only), not a call.
    """

    status: int = 0
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    drop: bool = False
    delay_seconds: float = 0.0
    path_contains: str = ""
    subrequest: bool = False


def error_fault(status: int, code: str, message: str, times: int = 1) -> Fault:
    """A fault answering Salesforce's ``[{message, errorCode}]`` error body."""
    return Fault(status, [{"message": message, "errorCode": code}], times=times)


# Salesforce's own wording for the common faults.
REQUEST_LIMIT_EXCEEDED = ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
UNABLE_TO_LOCK_ROW = ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
SERVER_UNAVAILABLE = ("SERVER_UNAVAILABLE", "Server temporarily unavailable")


class FaultPlan:
    """The scripted queue and the random faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Fault] = []
        self._random: list[tuple[float, Fault]] = []
        self._rng = random.Random(0)  # noqa: S311  - replayable fault schedule, not security

    def script(self, fault: Fault) -> None:
        """Apply ``fault`` to the next ``fault.times`` matching calls."""
        with self._lock:
            self._script.append(fault)

    def at_rate(self, rate: float, fault: Fault, seed: int = 0) -> None:
        """Apply ``fault`` to each call with probability ``rate`` (seeded)."""
        with self._lock:
            self._rng.seed(seed)
            self._random.append((rate, fault))

    def clear(self) -> None:
        """Remove every scripted and random fault."""
        with self._lock:
            self._script.clear()
            self._random.clear()

    def next_fault(self, path: str, *, subrequest: bool = False) -> Fault | None:
        """The fault for this call or subrequest, if any (consumes one use of a scripted one)."""
        with self._lock:
            for fault in self._script:
                if fault.path_contains in path and fault.subrequest == subrequest:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._script.remove(fault)
                    return fault
            for rate, fault in self._random:
                matches = fault.path_contains in path and fault.subrequest == subrequest
                if matches and self._rng.random() < rate:
                    return fault
        return None
