"""Incremental-read cursors per flow, system and entity."""

from __future__ import annotations

import sqlalchemy as sa

from connectors.base import Cursor
from sync.store.schema import cursors, utc_now
from sync.store.upsert import upsert_rows


def load_cursor(connection: sa.Connection, flow: str, system: str, entity: str) -> Cursor | None:
    """The committed cursor, or None before the first run."""
    query = sa.select(cursors.c.position).where(
        cursors.c.flow == flow, cursors.c.system == system, cursors.c.entity == entity
    )
    position = connection.execute(query).scalar_one_or_none()
    return Cursor.from_json(position) if position is not None else None


def save_cursor(
    connection: sa.Connection, flow: str, system: str, entity: str, cursor: Cursor, run_id: int
) -> None:
    """Advance the cursor; call it in the same transaction that commits the page."""
    row = {
        "flow": flow,
        "system": system,
        "entity": entity,
        "position": cursor.to_json(),
        "updated_at": utc_now(),
        "run_id": run_id,
    }
    upsert_rows(connection, cursors, [row], ["flow", "system", "entity"])


def reset_cursor(connection: sa.Connection, flow: str, system: str, entity: str) -> None:
    """Forget the cursor, so the next read starts from the beginning of the source's history."""
    connection.execute(
        sa.delete(cursors).where(
            cursors.c.flow == flow, cursors.c.system == system, cursors.c.entity == entity
        )
    )
