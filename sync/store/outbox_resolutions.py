"""``resolved`` events: an error-queue entry closed, announced in the transaction that closes it.

A later run that lands the record closes its open entries in the page commit
(:func:`record_landed_resolutions`, before ``resolve_landed``); a person closes them through
``errors resolve`` or the console (:func:`record_resolved_events`, from ``close_errors``). One
event per entry, as each ``rejected`` event announced one entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from sync.store.error_queue import ErrorRow, error_row
from sync.store.id_lists import one_of
from sync.store.outbox import ChangeType, PageChanges, event_row, outbox_events, storable_text
from sync.store.schema import ErrorStatus, error_queue

_ACTIVE = (ErrorStatus.OPEN.value, ErrorStatus.RETRYING.value)


def _resolved_event(
    flow: str, run_id: int | None, entry: ErrorRow, closed_by: str | None
) -> dict[str, Any]:
    resolution = {
        "error_id": entry.id,
        "stage": entry.stage,
        "error_class": entry.error_class,
        "target_system": entry.target_system or None,
        "resolved_by": closed_by,  # None: a later run landed the record
    }
    ids = {entry.source_system: storable_text(entry.source_id)}
    data = {"record": None, "changes": {}, "ids": ids, "resolution": resolution}
    subject = entry.canonical_id or entry.source_id
    return event_row(flow, entry.entity, run_id, ChangeType.RESOLVED, subject, data)


def _insert(connection: sa.Connection, events: list[dict[str, Any]]) -> None:
    if events:
        connection.execute(sa.insert(outbox_events), events)


def record_resolved_events(
    connection: sa.Connection, entries: Sequence[ErrorRow], closed_by: str | None
) -> None:
    """A ``resolved`` event per open or retrying entry among ``entries`` a person closes.

    Call it in the closing transaction, with the entries as they were before it.
    """
    # Oldest entry first, however the caller listed them: the order they were rejected in.
    active = sorted((e for e in entries if e.status.value in _ACTIVE), key=lambda e: e.id)
    _insert(connection, [_resolved_event(e.flow or "", None, e, closed_by) for e in active])


def record_landed_resolutions(
    connection: sa.Connection, page: PageChanges, source_system: str, source_ids: Sequence[str]
) -> None:
    """A ``resolved`` event per open entry of the page's records that landed now.

    Call it in the page commit's transaction, before ``resolve_landed`` closes the entries.
    """
    table = error_queue.c
    scope = (table.entity == page.entity, table.source_system == source_system)
    probe = sa.select(table.id).where(*scope, table.status.in_(_ACTIVE)).limit(1)
    if not source_ids or connection.execute(probe).first() is None:
        return  # usually nothing is open: spare the page a query naming every id it has
    query = (
        sa.select(error_queue)
        .where(*scope, table.status.in_(_ACTIVE), one_of(connection, table.source_id, source_ids))
        .order_by(table.id)
    )
    entries = [error_row(row) for row in connection.execute(query)]
    _insert(connection, [_resolved_event(page.flow, page.run_id, e, None) for e in entries])
