"""Writes to a packing target (NetSuite) that go on while the engine reads the next pages.

Such a target takes records of any entity in one call, so a page's writes are handed to the
system's :class:`~sync.engine.call_queue.CallQueue` and the engine goes on: the queue packs
them with the next pages' records into full calls and keeps the target's allowed calls in
flight, each sent once the calls it depends on answered. A run of N records then costs about
N / batch calls, and the target is never idle while the engine captures and commits.

A page commits everything else at once, and its cursor only once its writes have landed (the
engine asks :meth:`CarriedWrites.held_source_ids`), so a crash in between replays the page
and only the records without an xref in the target are sent again. Results are applied to
their deliveries here, in the engine's thread, never in a worker.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connectors.base import Connector, PackedWrite, PackingConnector, WriteResult, WriteSpec
from connectors.errors import ConnectorError
from mappings.mapping_set import EntityMapping
from sync.engine.call_queue import CallQueue, QueuedWrite, Sender
from sync.engine.deliver import Delivery, apply_result, known_target_ids
from sync.engine.pending import PendingWrite
from sync.engine.specs import write_spec


@dataclass(frozen=True, eq=False)
class CarriedWrite:
    """A write not answered yet, with the delivery (of its own page) its result belongs to."""

    target: EntityMapping
    item: PendingWrite
    delivery: Delivery


class CarriedWrites:
    """Per system, the writes a packing target was handed and has not answered yet."""

    def __init__(self) -> None:
        self._queues: dict[str, CallQueue[CarriedWrite]] = {}
        self._outstanding: dict[int, CarriedWrite] = {}  # by id(): handed, result not applied
        # Set whenever a call answers: the engine waiting for a source page commits meanwhile.
        self.answered = threading.Event()

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
        """Hand ``group``'s writes to ``connector``'s system and return at once with ``hold``.

        Without ``hold``, every write of the system goes now and this returns once all
        answered, their results counted into their deliveries.
        """
        system = connector.system
        if not isinstance(connector, PackingConnector):
            raise TypeError(f"{system} does not take mixed batches")
        queue = self._queue(connector, system)
        writes = [
            CarriedWrite(target, item, delivery)
            for target, delivery, pending in group
            for item in pending
        ]
        self._outstanding.update((id(write), write) for write in writes)
        queue.submit([_queued(connector, write) for write in writes])
        if not hold:
            self._settle(system)

    def flush(self, connectors: Mapping[str, Connector]) -> None:
        """Send every held write now and wait until all answered."""
        del connectors  # the queues hold their connectors
        for system in list(self._queues):
            self._settle(system)

    def held_source_ids(self, deliveries: Sequence[Delivery]) -> set[str]:
        """Source ids of the records whose writes for ``deliveries`` have not answered yet."""
        self._apply_answers()
        wanted = {id(delivery) for delivery in deliveries}
        return {
            write.item.captured.source_id
            for write in self._outstanding.values()
            if id(write.delivery) in wanted
        }

    def wait_for(self, deliveries: Sequence[Delivery]) -> None:
        """Send the writes of ``deliveries`` now, full calls or not, and wait for their answers."""
        wanted = {id(delivery) for delivery in deliveries}
        for queue in self._queues.values():
            queue.seal(lambda write: id(write.delivery) in wanted)
        while self.held_source_ids(deliveries):
            waiting = next(
                write for write in self._outstanding.values() if id(write.delivery) in wanted
            )
            self._queues[waiting.target.system].wait_for_answers()

    def close(self) -> None:
        """Send nothing more; the calls in flight finish (their results are dropped)."""
        for queue in self._queues.values():
            queue.close()
        self._queues.clear()

    def _settle(self, system: str) -> None:
        queue = self._queues.get(system)
        if queue is None:
            return
        queue.seal_all()
        try:
            while any(w.target.system == system for w in self._outstanding.values()):
                queue.wait_for_answers()
                self._apply_answers()
        finally:
            if not any(w.target.system == system for w in self._outstanding.values()):
                queue.close()  # idle: its workers end; a later write starts new ones
                del self._queues[system]

    def _queue(self, connector: PackingConnector, system: str) -> CallQueue[CarriedWrite]:
        queue = self._queues.get(system)
        if queue is None:
            send = _sender(connector)
            limits = connector.call_limits
            queue = CallQueue(system, limits, send, on_answer=self.answered.set)
            self._queues[system] = queue
        return queue

    def _apply_answers(self) -> None:
        for queue in self._queues.values():
            for write, result in queue.take_answers():
                del self._outstanding[id(write)]
                if result is None:  # a connector never holds back a call it was told to send
                    raise ConnectorError(
                        f"{write.target.system} left a record unanswered",
                        system=write.target.system,
                    )
                apply_result(write.target, write.item, result, write.delivery)


def _queued(connector: PackingConnector, write: CarriedWrite) -> QueuedWrite[CarriedWrite]:
    payload = write.item.payload
    field = write.target.external_id_field or ""
    return QueuedWrite(
        str(payload.get(field, write.item.captured.record.id)),
        frozenset(connector.references(payload)),
        write,
    )


def _sender(connector: PackingConnector) -> Sender[CarriedWrite]:
    def send(writes: Sequence[CarriedWrite]) -> list[WriteResult | None]:
        """One call's writes, sent in a worker thread: the connector builds and sends them."""
        specs = _specs(writes)
        packed = [PackedWrite(specs[id(write.target)], write.item.payload) for write in writes]
        return connector.write_packed(packed, hold_partial=False)

    return send


def _specs(writes: Sequence[CarriedWrite]) -> dict[int, WriteSpec]:
    """One write spec per target mapping, knowing the target ids of its records written before."""
    by_target: dict[int, tuple[EntityMapping, list[PendingWrite]]] = {}
    for write in writes:
        by_target.setdefault(id(write.target), (write.target, []))[1].append(write.item)
    return {
        key: write_spec(target, known_target_ids(items))
        for key, (target, items) in by_target.items()
    }
