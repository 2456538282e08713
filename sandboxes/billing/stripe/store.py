"""The Stripe-compatible sandbox's objects, and the ids and clock that new ones take.

A module of its own because two sides work on it: the API (``api.py``) reads, lists and deletes
objects, and the writes (``writes.py``) create and change them; the API drives the writes, so
the writes must not import the API for the objects they change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sandboxes.billing.stripe.objects import PREFIXES

_START = 1767607200  # 2026-01-05T10:00:00Z


@dataclass
class StripeStore:
    """Objects by collection and the tally of writes (guarded by the sandbox's lock)."""

    rows: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    _ids: Counter[str] = field(default_factory=Counter)
    _clock: int = _START

    def __post_init__(self) -> None:
        self.rows = {name: {} for name in PREFIXES}

    def new_id(self, collection: str) -> str:
        """A fresh id with Stripe's prefix for the collection."""
        self._ids[collection] += 1
        return f"{PREFIXES[collection]}_{self._ids[collection]:014d}"

    def tick(self) -> int:
        """A strictly later ``created`` second for every new object."""
        self._clock += 1
        return self._clock

    def exists(self, collection: str, object_id: str) -> bool:
        """True when ``object_id`` is stored in ``collection``."""
        return object_id in self.rows[collection]
