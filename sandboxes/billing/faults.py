"""Fault injection for the billing sandbox: scripted, every n-th, or at a random rate.

A fault either answers instead of the API (``status`` set: 429 with ``Retry-After``, 503, ...)
or lets the API process the request, commit it, and then drops the connection without an answer
(``status`` None), which is what a client sees when a response is lost in flight. Scripted
faults come first, in order (one may name the requests it waits for: a method and a path
prefix, such as ``POST /stripe/v1/subscriptions/``); then ``drop_every`` (every n-th request is
committed then dropped); then the random rates, drawn from a seeded generator so a failing
test replays exactly.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One injected failure; ``status`` None means commit, then drop the response."""

    status: int | None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    # Only a request with this method and a path starting with this prefix gets it (None: any).
    target: tuple[str, str] | None = None
    # With ``status`` None: answer after this many seconds instead of dropping the answer (a
    # client with a shorter timeout gives up on a request that was committed).
    delay_seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        """True when this fault is for a request of ``method`` on ``path``."""
        return self.target is None or (method == self.target[0] and path.startswith(self.target[1]))


_FAULT_TYPES = {429: "rate_limit_error", 401: "authentication_error"}


def fault_body(status: int) -> dict[str, Any]:
    """Stripe's error object for an injected HTTP failure."""
    kind = _FAULT_TYPES.get(status, "api_error")
    return {"error": {"type": kind, "message": f"injected fault: HTTP {status}"}}


@dataclass
class FaultPlan:
    """What goes wrong with which request (guarded by the sandbox state's lock)."""

    scripted: deque[Fault] = field(default_factory=deque)
    drop_every: int = 0
    rates: list[tuple[float, Fault]] = field(default_factory=list)
    latency_seconds: float = 0.0
    seed: int = 0
    _random: random.Random = field(default_factory=random.Random)
    _counted: int = 0

    def reset(self) -> None:
        """No faults, no latency; counters back to zero."""
        self.scripted.clear()
        self.drop_every = 0
        self.rates.clear()
        self.latency_seconds = 0.0
        self._counted = 0
        self._random.seed(self.seed)

    def set_rate(self, rate: float, fault: Fault, seed: int) -> None:
        """Inject ``fault`` into a ``rate`` share of requests, drawn from ``seed``."""
        self._random.seed(seed)
        self.rates.append((rate, fault))

    def next_fault(self, method: str = "", path: str = "") -> Fault | None:
        """The fault for the request arriving now, if any."""
        self._counted += 1
        if self.scripted and self.scripted[0].matches(method, path):
            return self.scripted.popleft()
        if self.drop_every and self._counted % self.drop_every == 0:
            return Fault(None)
        for rate, fault in self.rates:
            if self._random.random() < rate:
                return fault
        return None
