"""The one way to build a ready engine from settings: run, backfill, serve, errors retry, demo.

Everything an engine takes from the configuration is read here (conflict policies, the flow's
connectors), so a new setting reaches every entry point at once. Page sizes are not among
them: each source system's connector reads its own (``salesforce.page_size``,
``erp.search_page_size``, ``billing.page_size``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

from config.settings import Settings
from connectors.base import Connector
from mappings.mapping_set import MappingSet
from sync.engine.backfill import BackfillWindow
from sync.engine.connections import open_connectors
from sync.engine.flows import Flow
from sync.engine.open_pages import PageCallback
from sync.engine.run import SyncEngine
from sync.store import Store

OpenConnectors = Callable[[Settings], AbstractContextManager[Mapping[str, Connector]]]


def build_engine(
    settings: Settings,
    store: Store,
    mapping_set: MappingSet,
    connectors: Mapping[str, Connector],
    flow: Flow,
    *,
    on_page: PageCallback | None = None,
    window: BackfillWindow | None = None,
) -> SyncEngine:
    """An engine for ``flow`` over already open ``connectors``."""
    # Change events are recorded from the moment a sink is configured, never into an outbox
    # nothing drains.
    store.record_events = bool(settings.events.sinks)
    return SyncEngine(
        store,
        mapping_set,
        connectors,
        flow,
        on_page=on_page,
        conflicts=settings.conflicts,
        window=window,
    )


@contextmanager
def open_engine(
    settings: Settings,
    store: Store,
    mapping_set: MappingSet,
    flow: Flow,
    *,
    on_page: PageCallback | None = None,
    window: BackfillWindow | None = None,
    connect: OpenConnectors = open_connectors,
) -> Iterator[SyncEngine]:
    """An engine on freshly opened connectors, which are closed on exit."""
    with connect(settings) as connectors:
        yield build_engine(
            settings, store, mapping_set, connectors, flow, on_page=on_page, window=window
        )
