"""One page to every target at once: billing and the ERP are separate systems, so they overlap.

Payloads and conflict reviews are built first, one target after another in the calling thread
(they read the store and the ref resolver, which are not shared across threads); then each
system's writes run in a thread of their own, and this returns once every system answered,
so the caller commits the page after all of them; a packing target (NetSuite) only takes the
writes into its call queue here and answers later. A system that fails (retries
exhausted, credentials refused) fails the page once the others finished; their writes were
upserts by external id, so the page's replay on the next run is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

from connectors.base import Connector
from connectors.concurrent_calls import call_all
from mappings.mapping_set import EntityMapping, RefResolver
from sync.engine.capture import CapturedRecord
from sync.engine.carried_writes import CarriedWrites
from sync.engine.conflict_guard import ConflictGuard
from sync.engine.deliver import Delivery, review_delivery, write_pending
from sync.engine.pending import PendingWrite
from sync.store.records import XrefEntry

_Reviewed = tuple[EntityMapping, Delivery, list[PendingWrite]]


def deliver_to_targets(
    targets: Sequence[EntityMapping],
    captured: Sequence[CapturedRecord],
    connectors: Mapping[str, Connector],
    written: Mapping[str, Mapping[str, XrefEntry]],
    refs: RefResolver,
    conflicts: ConflictGuard | None = None,
    carried: CarriedWrites | None = None,
    *,
    hold: bool = False,
) -> list[Delivery]:
    """One delivery per target, in ``targets`` order, each system written concurrently.

    With ``carried``, a system that takes mixed batches gets its held writes and this page's
    together; with ``hold`` too, a last partly filled call waits in ``carried`` (its records'
    results are missing from their deliveries until it goes).
    """
    reviewed: list[_Reviewed] = []
    for target in targets:
        connector = connectors[target.system]
        delivery, pending = review_delivery(
            target, captured, connector, written[target.system], refs, conflicts
        )
        reviewed.append((target, delivery, pending))
    # A connector is used by one thread at a time: targets in one system share a sequence.
    by_system: dict[str, list[_Reviewed]] = {}
    for item in reviewed:
        by_system.setdefault(item[0].system, []).append(item)
    calls: list[Callable[[], object]] = []
    for system, group in by_system.items():
        connector = connectors[system]
        if carried is not None and carried.packs(connector):
            calls.append(partial(carried.write, connector, group, hold=hold))
        else:
            calls.append(partial(_write_in_turn, group, connector))
    call_all(calls, limit=len(calls), name="deliver")
    return [delivery for _, delivery, _ in reviewed]


def _write_in_turn(group: list[_Reviewed], connector: Connector) -> list[Delivery]:
    return [
        write_pending(target, pending, connector, delivery) for target, delivery, pending in group
    ]
