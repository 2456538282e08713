"""Readiness of `serve`: the store answers and its schema is at this version's head.

Liveness (``/healthz``) only says the process answers; readiness says the store is usable, so
an orchestrator holds traffic and restarts apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sync.store import Store
from sync.store.database import StoreError


@dataclass(frozen=True)
class Readiness:
    """Whether the store is usable, and why not."""

    ready: bool
    detail: str


def check_readiness(store: Store) -> Readiness:
    """Ready when the store answers and its migrations are at head."""
    try:
        current = store.current_revision()
        head = store.head_revision()
    except (StoreError, sa.exc.SQLAlchemyError) as error:
        return Readiness(False, f"store unreachable: {type(error).__name__}")
    if current != head:
        return Readiness(False, f"store at revision {current}, expected {head}")
    return Readiness(True, f"store at revision {current}")
