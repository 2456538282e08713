"""Commit one page: canonical records, xrefs, error-queue entries and the cursor, together."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Cursor
from mappings.mapping_set import EntityMapping
from sync.engine.capture import CapturedRecord, CaptureFailure
from sync.engine.conflicts import json_ready
from sync.engine.deliver import Delivery, DeliveryFailure
from sync.engine.gc_pause import gc_paused
from sync.engine.propagate import DeleteDelivery, delete_errors
from sync.store import Store
from sync.store.cursors import save_cursor
from sync.store.error_queue import QueuedError, queue_error, resolve_landed
from sync.store.outbox import PageChanges, record_page_events
from sync.store.outbox_resolutions import record_landed_resolutions
from sync.store.records import (
    canonical_row,
    delete_xrefs,
    mark_deleted,
    save_record_rows,
    save_xref_rows,
    save_xrefs,
    xref_row,
)
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.sync")


@dataclass
class PageOutcome:
    """Everything one page produced, to be committed in one transaction."""

    mapping: EntityMapping
    captured: Sequence[CapturedRecord] = ()
    changed: Sequence[CapturedRecord] = ()
    failures: Sequence[CaptureFailure] = ()
    deliveries: Sequence[Delivery] = ()
    cursor: Cursor | None = None
    deleted_ids: Sequence[str] = ()  # canonical ids whose source record was deleted
    # Source deletions the `propagate` policy carried to targets: landed and refused ones.
    deletes: Sequence[DeleteDelivery] = ()
    propagated: Sequence[str] = ()  # source ids of the deleted records sent to targets
    # Source ids of captured records whose writes a target still holds: not landed yet.
    waiting: Collection[str] = ()
    # Source ids of a page's held records, committed later: landed unless they failed now.
    landed_late: Sequence[str] = ()


def _record_rows(captured: Sequence[CapturedRecord], run_id: int) -> list[dict[str, Any]]:
    now = utc_now()
    return [
        canonical_row(
            c.record.id, c.record.entity, c.canonical_text, c.content_hash,
            c.record.source.system, c.record.source.object, c.record.source.id,
            c.record.source_modified_at,
            c.raw,  # the store's JSON serializer takes it as read
            now, run_id,
        )
        for c in captured
    ]  # fmt: skip


def _source_xref_rows(
    mapping: EntityMapping, captured: Sequence[CapturedRecord], run_id: int
) -> list[dict[str, Any]]:
    now, system, entity, name = utc_now(), mapping.system, mapping.entity, mapping.object_name
    return [xref_row(system, c.record.id, entity, name, c.source_id, now, run_id) for c in captured]


def _capture_error(flow: str, mapping: EntityMapping, failure: CaptureFailure) -> QueuedError:
    return QueuedError(
        flow=flow,
        entity=mapping.entity,
        source_system=mapping.system,
        source_object=mapping.object_name,
        source_id=failure.source_id,
        stage=failure.stage,
        error_class=failure.error_class,
        message=failure.message,
        payload=json_ready(dict(failure.raw)),
        canonical_id=failure.canonical_id,
        mapping_version=mapping.fingerprint,
    )


def _delivery_error(
    flow: str, mapping: EntityMapping, system: str, failure: DeliveryFailure
) -> QueuedError:
    return QueuedError(
        flow=flow,
        entity=mapping.entity,
        source_system=mapping.system,
        source_object=mapping.object_name,
        source_id=failure.captured.source_id,
        stage=failure.stage,
        error_class=failure.error_class,
        message=failure.message,
        payload=failure.payload,
        canonical_id=failure.captured.record.id,
        target_system=system,
        code=failure.code,
        mapping_version=mapping.fingerprint,
    )


def commit_page(store: Store, flow: str, outcome: PageOutcome, run_id: int) -> None:
    """Write the page's results and advance its cursor in one transaction."""
    mapping = outcome.mapping
    errors = [_capture_error(flow, mapping, failure) for failure in outcome.failures]
    errors += [
        _delivery_error(flow, mapping, delivery.system, failure)
        for delivery in outcome.deliveries
        for failure in delivery.failures
    ]
    errors += delete_errors(flow, mapping, outcome.deletes)
    failed = {f.captured.source_id for d in outcome.deliveries for f in d.failures}
    failed |= {source_id for d in outcome.deletes for source_id in d.failed_source_ids}
    failed |= set(outcome.waiting)
    landed = [record.source_id for record in outcome.captured if record.source_id not in failed]
    landed += [source_id for source_id in outcome.propagated if source_id not in failed]
    landed += [source_id for source_id in outcome.landed_late if source_id not in failed]
    rows = _record_rows(outcome.changed, run_id)
    xrefs = [entry for delivery in outcome.deliveries for entry in delivery.xrefs]
    page = PageChanges(flow, mapping.entity, run_id, rows, outcome.deleted_ids, errors, xrefs)
    with gc_paused(), store.transaction() as connection:
        if store.record_events:
            record_page_events(connection, page)  # before the upsert: it reads the old values
        save_record_rows(connection, rows)
        mark_deleted(connection, outcome.deleted_ids)
        save_xref_rows(connection, _source_xref_rows(mapping, outcome.captured, run_id))
        for delivery in outcome.deliveries:
            save_xrefs(connection, delivery.xrefs, run_id)
        for removal in outcome.deletes:
            delete_xrefs(connection, removal.system, removal.removed)
        if store.record_events:
            record_landed_resolutions(connection, page, mapping.system, landed)
        resolve_landed(connection, mapping.entity, mapping.system, landed)
        for error in errors:
            queue_error(connection, error, run_id)
        if outcome.cursor is not None:
            save_cursor(connection, flow, mapping.system, mapping.entity, outcome.cursor, run_id)
    for error in errors:
        target = f" for {error.target_system}" if error.target_system else ""
        log.warning(
            "rejected %s %s at %s%s: %s",
            error.entity,
            error.source_id,
            error.stage.value,
            target,
            error.message,
            extra={
                "run_id": run_id,
                "flow": flow,
                "entity": error.entity,
                "record_id": error.source_id,
                "stage": error.stage.value,
                "target_system": error.target_system,
            },
        )
