"""Shared setup of the tests that run whole CPQ flows: seeded sandboxes and engine runs.

The ERP sandbox gets a ticking clock, a second later at every reading, so a record saved just
now is already older than the next search's upper bound (NetSuite's clock minus a second).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from connectors.base import Connector
from connectors.sandbox.erp import ErpSandbox
from mappings.mapping_set import MappingSet
from sync.connections import open_connectors
from sync.engine import SyncEngine
from sync.flows import Flow
from sync.sandboxes import Sandboxes, SandboxSize
from sync.stats import RunSummary
from sync.store import Store
from sync.store.records import StoredRecord, iter_stored

RECEIVABLES = Flow(name="receivables", source="erp", targets=("billing",))
START = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC).timestamp()


class TickingClock:
    """A clock one second later at every reading, from ``START``: stamps are distinct."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def __call__(self) -> float:
        return START + next(self._ticks)


@contextmanager
def cpq_sandboxes(size: SandboxSize) -> Iterator[Sandboxes]:
    """Running sandboxes seeded at ``size``, the ERP on a ticking clock."""
    sandboxes = Sandboxes(size)
    sandboxes.erp = ErpSandbox(clock=TickingClock())
    with sandboxes as running:
        yield running


def run_flow(
    sandboxes: Sandboxes,
    store: Store,
    mappings: MappingSet,
    flow: Flow,
    *,
    page_size: int,
    erp: Connector | None = None,
) -> RunSummary:
    """One engine run of ``flow`` against the sandboxes; ``erp`` replaces the ERP connector."""
    with open_connectors(sandboxes.settings(store.url)) as connectors:
        if erp is not None:
            connectors["erp"].close()
            connectors["erp"] = erp
        return SyncEngine(store, mappings, connectors, flow, page_size=page_size).run()


def stored_payloads(
    store: Store, entity: str, key: Callable[[StoredRecord], str] = lambda r: r.payload["id"]
) -> dict[str, dict[str, Any]]:
    """Canonical payloads of ``entity`` by ``key`` (the canonical id unless told)."""
    with store.engine.connect() as connection:
        return {
            key(record): record.payload
            for batch in iter_stored(connection, entity)
            for record in batch
        }
