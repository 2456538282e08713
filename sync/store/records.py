"""Canonical records and the xref between canonical ids and each system's ids."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sync.store.id_lists import one_of
from sync.store.schema import JsonText, canonical_records, utc_now, xref
from sync.store.upsert import upsert_rows


@dataclass(frozen=True)
class StoredRecord:
    """A canonical record as the store keeps it."""

    canonical_id: str
    entity: str
    payload: dict[str, Any]
    content_hash: str
    source_system: str
    source_object: str
    source_id: str
    source_modified_at: datetime
    source_payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class XrefEntry:
    """One canonical record's id in one system, and what revbridge last wrote there."""

    system: str
    canonical_id: str
    entity: str
    object_name: str
    external_id: str
    last_written_hash: str | None = None
    # What revbridge wrote there last (the base for three-way conflict merges) and, when a
    # conflict decision kept target values, the source payload it was built from.
    last_written_payload: dict[str, Any] | None = None
    last_source_payload: dict[str, Any] | None = None


def canonical_row(
    canonical_id: str,
    entity: str,
    payload: dict[str, Any] | JsonText,
    content_hash: str,
    source_system: str,
    source_object: str,
    source_id: str,
    source_modified_at: datetime,
    source_payload: Any,
    now: datetime,
    run_id: int,
) -> dict[str, Any]:
    """One ``canonical_records`` row, as :func:`save_record_rows` takes it.

    ``payload`` may be serialized already (:func:`~sync.store.schema.plain_json_text`).

    The engine's page commit builds rows straight from captured records: a
    :class:`StoredRecord` per record cost as much as the row itself.
    """
    return {
        "canonical_id": canonical_id,
        "entity": entity,
        "payload": payload,
        "content_hash": content_hash,
        "source_system": source_system,
        "source_object": source_object,
        "source_id": source_id,
        "source_modified_at": source_modified_at,
        "is_deleted": False,
        "updated_at": now,
        "run_id": run_id,
        "source_payload": source_payload,
    }


def save_record_rows(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace canonical records given as :func:`canonical_row` rows."""
    upsert_rows(connection, canonical_records, rows, ["canonical_id"])


def save_records(connection: sa.Connection, records: Sequence[StoredRecord], run_id: int) -> None:
    """Insert or replace canonical records."""
    now = utc_now()
    rows = [
        canonical_row(
            r.canonical_id, r.entity, r.payload, r.content_hash, r.source_system,
            r.source_object, r.source_id, r.source_modified_at, r.source_payload, now, run_id,
        )
        for r in records
    ]  # fmt: skip
    save_record_rows(connection, rows)


def _stored(row: sa.Row[Any]) -> StoredRecord:
    return StoredRecord(
        canonical_id=row.canonical_id,
        entity=row.entity,
        payload=dict(row.payload),
        content_hash=row.content_hash,
        source_system=row.source_system,
        source_object=row.source_object,
        source_id=row.source_id,
        source_modified_at=row.source_modified_at,
        source_payload=dict(row.source_payload) if row.source_payload else None,
    )


def iter_stored(
    connection: sa.Connection, entity: str, batch_size: int = 500, after: str = ""
) -> Iterator[list[StoredRecord]]:
    """Every stored record of ``entity`` with a canonical id above ``after``, in batches, by
    canonical id (keyset paging)."""
    while True:
        query = (
            sa.select(canonical_records)
            .where(
                canonical_records.c.entity == entity,
                canonical_records.c.canonical_id > after,
                canonical_records.c.is_deleted.is_(False),
            )
            .order_by(canonical_records.c.canonical_id)
            .limit(batch_size)
        )
        batch = [_stored(row) for row in connection.execute(query)]
        if not batch:
            return
        yield batch
        after = batch[-1].canonical_id


def content_hashes(connection: sa.Connection, canonical_ids: Collection[str]) -> dict[str, str]:
    """Stored content hash per canonical id (ids never stored are absent)."""
    if not canonical_ids:
        return {}
    query = sa.select(canonical_records.c.canonical_id, canonical_records.c.content_hash).where(
        one_of(connection, canonical_records.c.canonical_id, canonical_ids)
    )
    return {row.canonical_id: row.content_hash for row in connection.execute(query)}


def load_payload(connection: sa.Connection, canonical_id: str) -> dict[str, Any] | None:
    """The stored canonical payload of one record."""
    query = sa.select(canonical_records.c.payload).where(
        canonical_records.c.canonical_id == canonical_id
    )
    payload = connection.execute(query).scalar_one_or_none()
    return dict(payload) if payload is not None else None


def xref_row(
    system: str,
    canonical_id: str,
    entity: str,
    object_name: str,
    external_id: str,
    now: datetime,
    run_id: int,
    last_written_hash: str | None = None,
    last_written_payload: dict[str, Any] | None = None,
    last_source_payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``xref`` row, as :func:`save_xref_rows` takes it."""
    return {
        "system": system,
        "canonical_id": canonical_id,
        "entity": entity,
        "object_name": object_name,
        "external_id": external_id,
        "last_written_hash": last_written_hash,
        "last_written_at": now if last_written_hash else None,
        "run_id": run_id,
        "last_written_payload": last_written_payload,
        "last_source_payload": last_source_payload,
    }


def save_xref_rows(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Record (or refresh) xrefs given as :func:`xref_row` rows."""
    upsert_rows(connection, xref, rows, ["system", "canonical_id"])


def save_xrefs(connection: sa.Connection, entries: Sequence[XrefEntry], run_id: int) -> None:
    """Record (or refresh) where each canonical record lives in a system."""
    now = utc_now()
    rows = [
        xref_row(
            e.system, e.canonical_id, e.entity, e.object_name, e.external_id, now, run_id,
            e.last_written_hash, e.last_written_payload, e.last_source_payload,
        )
        for e in entries
    ]  # fmt: skip
    save_xref_rows(connection, rows)


def canonical_ids_for(
    connection: sa.Connection, system: str, entity: str, external_ids: Collection[str]
) -> dict[str, str]:
    """Inbound lookup: that system's ids -> canonical ids."""
    if not external_ids:
        return {}
    query = sa.select(xref.c.external_id, xref.c.canonical_id).where(
        xref.c.system == system,
        xref.c.entity == entity,
        one_of(connection, xref.c.external_id, external_ids),
    )
    return {row.external_id: row.canonical_id for row in connection.execute(query)}


def source_ids_of(connection: sa.Connection, canonical_ids: Collection[str]) -> dict[str, str]:
    """Canonical id -> the record's id in its system of record, for the stored ones."""
    if not canonical_ids:
        return {}
    table = canonical_records.c
    query = sa.select(table.canonical_id, table.source_id).where(
        one_of(connection, table.canonical_id, canonical_ids)
    )
    return {row.canonical_id: row.source_id for row in connection.execute(query)}


def landed_everywhere(
    connection: sa.Connection, entity: str, systems: Collection[str], limit: int
) -> list[StoredRecord]:
    """Stored ``entity`` records with an xref in every one of ``systems``, by source id."""
    landed = (
        sa.select(xref.c.canonical_id)
        .where(xref.c.entity == entity, xref.c.system.in_(list(systems)))
        .group_by(xref.c.canonical_id)
        .having(sa.func.count() == len(systems))
    )
    query = (
        sa.select(canonical_records)
        .where(canonical_records.c.canonical_id.in_(landed))
        .order_by(canonical_records.c.source_id)
        .limit(limit)
    )
    return [_stored(row) for row in connection.execute(query)]


def xref_entries(
    connection: sa.Connection, system: str, canonical_ids: Collection[str]
) -> dict[str, XrefEntry]:
    """Outbound lookup: canonical ids -> their xref entry in ``system``."""
    if not canonical_ids:
        return {}
    query = sa.select(xref).where(
        xref.c.system == system, one_of(connection, xref.c.canonical_id, canonical_ids)
    )
    return {
        row.canonical_id: XrefEntry(
            system=row.system,
            canonical_id=row.canonical_id,
            entity=row.entity,
            object_name=row.object_name,
            external_id=row.external_id,
            last_written_hash=row.last_written_hash,
            last_written_payload=row.last_written_payload,
            last_source_payload=row.last_source_payload,
        )
        for row in connection.execute(query)
    }


def mark_deleted(connection: sa.Connection, canonical_ids: Collection[str]) -> None:
    """Flag canonical records whose source record was deleted (their history stays)."""
    if not canonical_ids:
        return
    connection.execute(
        sa.update(canonical_records)
        .where(canonical_records.c.canonical_id.in_(list(canonical_ids)))
        .values(is_deleted=True, updated_at=utc_now())
    )


def delete_xrefs(connection: sa.Connection, system: str, canonical_ids: Collection[str]) -> None:
    """Forget where records were in ``system``: revbridge deleted them there."""
    if not canonical_ids:
        return
    connection.execute(
        sa.delete(xref).where(xref.c.system == system, xref.c.canonical_id.in_(list(canonical_ids)))
    )
