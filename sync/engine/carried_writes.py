"""Writes to a packing target (NetSuite) that carry over from one page to the next.

Such a target takes records of any entity in one call, so a page's last call is not sent
half full: its records wait for the next page's, whatever entity that is, and go out in the
same calls. A run of N records then costs about N / batch calls instead of one extra call per
entity and page. The page those records came from commits everything else at once, and its
cursor only once they have landed (the engine asks :meth:`CarriedWrites.held_source_ids`), so
a crash in between replays the page and only the held records are sent again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.base import Connector, PackedWrite, PackingConnector, WriteSpec
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping
from sync.engine.deliver import Delivery, apply_result, known_target_ids
from sync.engine.pending import PendingWrite
from sync.engine.specs import write_spec


@dataclass(frozen=True)
class CarriedWrite:
    """A write not sent yet, with the delivery (of its own page) its result belongs to."""

    target: EntityMapping
    item: PendingWrite
    delivery: Delivery


class CarriedWrites:
    """Per system, the writes a packing target was handed but has not sent yet."""

    def __init__(self) -> None:
        self._held: dict[str, list[CarriedWrite]] = {}

    @staticmethod
    def packs(connector: Connector) -> bool:
        """True when ``connector`` takes records of several entities in one call."""
        return isinstance(connector, PackingConnector)

    def write(
        self,
        connector: Connector,
        group: Sequence[tuple[EntityMapping, Delivery, Sequence[PendingWrite]]],
        *,
        hold: bool,
    ) -> None:
        """Send the held writes of ``connector``'s system and ``group``'s, in full calls.

        With ``hold``, what would go in a last, partly filled call stays held for next time;
        each other write's result is counted into its delivery.
        """
        if not isinstance(connector, PackingConnector):
            raise TypeError(f"{connector.system} does not take mixed batches")
        writes = self._held.pop(connector.system, [])
        writes += [
            CarriedWrite(target, item, delivery)
            for target, delivery, pending in group
            for item in pending
        ]
        if not writes:
            return
        specs = _specs(writes)
        packed = [PackedWrite(specs[id(write.target)], write.item.payload) for write in writes]
        results = connector.write_packed(packed, hold_partial=hold)
        if len(results) != len(writes):
            raise ConnectorError(
                f"{connector.system} answered {len(results)} results for {len(writes)} records",
                system=connector.system,
            )
        held = []
        for write, result in zip(writes, results, strict=True):
            if result is None:
                held.append(write)
            else:
                apply_result(write.target, write.item, result, write.delivery)
        if held:
            self._held[connector.system] = held

    def flush(self, connectors: Mapping[str, Connector]) -> None:
        """Send every held write now."""
        for system in list(self._held):
            self.write(connectors[system], (), hold=False)

    def held_source_ids(self, deliveries: Sequence[Delivery]) -> set[str]:
        """Source ids of the records whose writes for ``deliveries`` are still held."""
        wanted = {id(delivery) for delivery in deliveries}
        return {
            write.item.captured.source_id
            for writes in self._held.values()
            for write in writes
            if id(write.delivery) in wanted
        }


def _specs(writes: Sequence[CarriedWrite]) -> dict[int, WriteSpec]:
    """One write spec per target mapping, knowing the target ids of its records written before."""
    by_target: dict[int, tuple[EntityMapping, list[PendingWrite]]] = {}
    for write in writes:
        by_target.setdefault(id(write.target), (write.target, []))[1].append(write.item)
    return {
        key: write_spec(target, known_target_ids(items))
        for key, (target, items) in by_target.items()
    }
