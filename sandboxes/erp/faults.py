"""Fault injection for the ERP sandbox: what to do instead of (or before) answering a call.

Faults come from three sources, checked in this order for each SOAP call:

* counted faults (``inject_fault(kind, times)``): the next ``times`` calls fail with ``kind``;
* a script (``script_faults([...])``): one entry per call, ``None`` meaning answer normally;
* rates (``fault_rates({kind: probability}, seed)``): each call fails with ``kind`` at random,
  from a seeded generator so a failing run can be replayed.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping

# What each kind does (the handler implements them):
FAULT_KINDS = (
    "http_503",  # HTML 503 from NetSuite's front end (WSDL fetches too)
    "concurrency",  # exceededConcurrentRequestLimitFault
    "request_limit",  # exceededRequestLimitFault
    "session",  # invalidSessionFault
    "invalid_record",  # a SAXException fault blaming the request's XML
    "drop",  # close the connection without answering
    "lost_reply",  # do what the call asks, then close the connection without answering
    "latency",  # wait ``latency_seconds`` before answering normally
    "xxe",  # answer with an external-entity (XXE) document
    "billion_laughs",  # answer with an entity-expansion bomb
    "oversize",  # answer with a body of ``oversize_bytes``
)


class FaultPlan:
    """Counted, scripted and random faults; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counted: Counter[str] = Counter()
        self._script: deque[str | None] = deque()
        self._rates: dict[str, float] = {}
        self._random = random.Random(0)  # noqa: S311 - test traffic, not cryptography

    def inject(self, kind: str, times: int) -> None:
        """Fail the next ``times`` calls with ``kind``."""
        _check(kind)
        with self._lock:
            self._counted[kind] += times

    def script(self, kinds: Iterable[str | None]) -> None:
        """Queue one fault (or ``None``) per coming call, in order."""
        entries = list(kinds)
        for kind in entries:
            if kind is not None:
                _check(kind)
        with self._lock:
            self._script.extend(entries)

    def rates(self, rates: Mapping[str, float], seed: int) -> None:
        """Fail each call with ``kind`` at probability ``rates[kind]``."""
        for kind, rate in rates.items():
            _check(kind)
            if not 0 <= rate <= 1:
                raise ValueError(f"fault rate for {kind} must be within 0..1, got {rate}")
        with self._lock:
            self._rates = dict(rates)
            self._random = random.Random(seed)  # noqa: S311 - test traffic, not cryptography

    def next_fault(self, only: tuple[str, ...] = FAULT_KINDS) -> str | None:
        """The fault for this call, if any; ``only`` limits the kinds that apply (WSDL GETs)."""
        with self._lock:
            for kind in only:
                if self._counted[kind] > 0:
                    self._counted[kind] -= 1
                    return kind
            if self._script and (self._script[0] is None or self._script[0] in only):
                return self._script.popleft()
            for kind, rate in self._rates.items():
                if kind in only and self._random.random() < rate:
                    return kind
        return None

    def clear(self) -> None:
        """Forget every pending fault and rate."""
        with self._lock:
            self._counted.clear()
            self._script.clear()
            self._rates = {}


def _check(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown ERP fault kind {kind!r}; expected one of {FAULT_KINDS}")
