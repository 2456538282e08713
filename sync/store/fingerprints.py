"""Which version of each mapping a flow last ran with."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from sync.store.schema import mapping_fingerprints, utc_now
from sync.store.upsert import upsert_rows


def load_fingerprints(connection: sa.Connection, flow: str) -> dict[tuple[str, str], str]:
    """(system, entity) -> fingerprint of the mapping the flow last completed a run with."""
    query = sa.select(
        mapping_fingerprints.c.system,
        mapping_fingerprints.c.entity,
        mapping_fingerprints.c.fingerprint,
    ).where(mapping_fingerprints.c.flow == flow)
    return {(row.system, row.entity): row.fingerprint for row in connection.execute(query)}


def save_fingerprints(
    connection: sa.Connection, flow: str, fingerprints: Mapping[tuple[str, str], str]
) -> None:
    """Remember the fingerprints a run completed with."""
    now = utc_now()
    rows = [
        {"flow": flow, "system": system, "entity": entity, "fingerprint": value, "updated_at": now}
        for (system, entity), value in fingerprints.items()
    ]
    upsert_rows(connection, mapping_fingerprints, rows, ["flow", "system", "entity"])
