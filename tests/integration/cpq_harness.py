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

from connectors.base import Connector, WriteSpec
from connectors.erp.connector import ErpConnector
from mappings.mapping_set import MappingSet
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.records import StoredRecord, iter_stored, xref_entries

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
    settings = sandboxes.settings(store.url)
    salesforce = settings.salesforce.model_copy(update={"page_size": page_size})
    with open_connectors(settings.model_copy(update={"salesforce": salesforce})) as connectors:
        if erp is not None:
            connectors["erp"].close()
            connectors["erp"] = erp
        return SyncEngine(store, mappings, connectors, flow).run()


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


def enter_erp_invoice_and_payment(
    sandboxes: Sandboxes, store: Store, order: dict[str, Any]
) -> None:
    """Enter in the ERP, as its users would, a 1,190.00 EUR invoice of ``order`` and its payment.

    Created in NetSuite itself, so RecordRefs carry the internalIds revbridge recorded.
    """
    with store.engine.connect() as connection:
        known = xref_entries(connection, "erp", [order["id"], order["account_id"]])
    customer_ref = {"internalId": known[order["account_id"]].external_id}
    invoice = {
        "externalId": "INV-0001",
        "entity": customer_ref,
        "createdFrom": {"internalId": known[order["id"]].external_id},
        "tranId": "INV-0001",
        "tranDate": "2026-02-01",
        "currency": {"internalId": "4"},
        "subTotal": "1000.00",
        "taxTotal": "190.00",
        "total": "1190.00",
    }
    payment = {
        "externalId": "PAY-0001",
        "customer": customer_ref,
        "currency": {"internalId": "4"},
        "tranDate": "2026-02-15",
        "payment": "1190.00",
    }
    settings = sandboxes.settings(store.url)
    erp = ErpConnector(settings.erp, settings.retry, wsdl_cache=None)
    try:
        erp.write(WriteSpec("Invoice", "externalId"), [invoice])
        erp.write(WriteSpec("CustomerPayment", "externalId"), [payment])
    finally:
        erp.close()
