"""Delivery: canonical records -> one target as idempotent upserts, skipping unchanged ones."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector, WriteOutcome, WriteResult
from connectors.errors import ConnectorError
from mappings.errors import MappingError, UnresolvedReference
from mappings.mapping_set import EntityMapping, RefResolver
from mappings.values import noting_stripped_text
from sync.engine.capture import CapturedRecord
from sync.engine.change import payload_hash
from sync.engine.conflict_guard import ConflictGuard
from sync.engine.pending import PendingWrite
from sync.engine.specs import write_spec
from sync.engine.storable import error_message, storable
from sync.store.records import XrefEntry
from sync.store.schema import ErrorStage

log = logging.getLogger("revbridge.sync")


@dataclass(frozen=True)
class DeliveryFailure:
    """A captured record that did not land in the target."""

    captured: CapturedRecord
    stage: ErrorStage
    error_class: str
    message: str
    payload: dict[str, Any] | None
    code: str = ""


@dataclass
class Delivery:
    """What one batch did in one target."""

    system: str
    xrefs: list[XrefEntry] = field(default_factory=list)
    failures: list[DeliveryFailure] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0  # conflicting fields found (one conflict-log row each)
    held: int = 0  # records held back by a `manual` conflict policy
    stripped: int = 0  # records that landed with text `illegal_characters: strip` cleaned

    def forget_committed(self) -> None:
        """Drop the results committed so far; results of writes still to come gather afresh."""
        self.xrefs.clear()
        self.failures.clear()
        self.created = self.updated = self.unchanged = self.conflicts = self.held = 0
        self.stripped = 0

    def fail(
        self,
        captured: CapturedRecord,
        stage: ErrorStage,
        error_class: str,
        message: str,
        payload: dict[str, Any] | None,
        code: str = "",
    ) -> None:
        """Queue a record that did not land, its message and payload made storable."""
        stored = None if payload is None else storable(payload)
        failure = DeliveryFailure(
            captured, stage, error_class, error_message(message), stored, storable(code)
        )
        self.failures.append(failure)


def plan_delivery(
    target: EntityMapping,
    captured: Sequence[CapturedRecord],
    written: Mapping[str, XrefEntry],
    refs: RefResolver,
    delivery: Delivery,
) -> list[PendingWrite]:
    """Build each payload; count unchanged ones and failures into ``delivery``, return the rest."""
    pending: list[PendingWrite] = []
    for record in captured:
        try:
            with noting_stripped_text() as stripped:
                payload = target.from_canonical(record.canonical_json, refs)
        except MappingError as error:
            stage = ErrorStage.RESOLVE if isinstance(error, UnresolvedReference) else ErrorStage.MAP
            delivery.fail(record, stage, type(error).__name__, str(error), None)
            continue
        digest = payload_hash(payload)
        prior = written.get(record.record.id)
        if prior is not None and prior.last_written_hash == digest:
            delivery.unchanged += 1
            continue
        pending.append(PendingWrite(record, payload, digest, prior, stripped=tuple(stripped)))
    return pending


def apply_result(
    target: EntityMapping, item: PendingWrite, result: WriteResult, delivery: Delivery
) -> None:
    if not result.ok:
        message = result.error_message or "rejected without a message"
        delivery.fail(
            item.captured, ErrorStage.WRITE, "RecordRejected", message, item.payload,
            code=result.error_code,
        )  # fmt: skip
        return
    if item.stripped:
        delivery.stripped += 1
        for note in item.stripped:
            log.warning("%s %s to %s: %s", target.entity, item.captured.source_id,
                        target.system, note)  # fmt: skip
    created = result.outcome is WriteOutcome.CREATED or (
        result.outcome is WriteOutcome.UPSERTED and item.prior is None
    )
    if created:
        delivery.created += 1
    else:
        delivery.updated += 1
    fallback_id = item.prior.external_id if item.prior else item.captured.record.id
    delivery.xrefs.append(
        XrefEntry(
            system=target.system,
            canonical_id=item.captured.record.id,
            entity=target.entity,
            object_name=target.object_name,
            external_id=result.target_id or fallback_id,
            last_written_hash=item.payload_hash,
            last_written_payload=item.payload,  # the store's JSON serializer takes it as is
            last_source_payload=item.source_payload,
        )
    )


def review_delivery(
    target: EntityMapping,
    captured: Sequence[CapturedRecord],
    connector: Connector,
    written: Mapping[str, XrefEntry],
    refs: RefResolver,
    conflicts: ConflictGuard | None = None,
) -> tuple[Delivery, list[PendingWrite]]:
    """The delivery so far (unchanged, failed, conflicts) and the writes still to send.

    With a ``conflicts`` guard, records the target changed since revbridge's last write are
    decided by the conflict policies first (and logged); held ones are not written.
    """
    delivery = Delivery(system=target.system)
    pending = plan_delivery(target, captured, written, refs, delivery)
    if pending and conflicts is not None:
        reviewed = conflicts.review(target, pending, connector)
        pending = reviewed.pending
        delivery.conflicts, delivery.held = reviewed.conflicts, reviewed.held
    return delivery, pending


def known_target_ids(pending: Iterable[PendingWrite]) -> dict[str, str]:
    """Canonical id -> id in the target, for the pending records written there before."""
    return {item.captured.record.id: item.prior.external_id for item in pending if item.prior}


def write_pending(
    target: EntityMapping, pending: Sequence[PendingWrite], connector: Connector, delivery: Delivery
) -> Delivery:
    """Send the pending writes in one connector call and count each record's result."""
    if not pending:
        return delivery
    spec = write_spec(target, known_target_ids(pending))
    results = connector.write(spec, [item.payload for item in pending])
    if len(results) != len(pending):
        raise ConnectorError(
            f"{target.system} answered {len(results)} results for {len(pending)} records",
            system=target.system,
        )
    for item, result in zip(pending, results, strict=True):
        apply_result(target, item, result, delivery)
    return delivery
