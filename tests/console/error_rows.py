"""Error-queue rows written straight into a store, for the console's query tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sync.store.schema import error_queue

BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def error_values(index: int, **overrides: Any) -> dict[str, Any]:
    """One entry's columns; ``index`` makes ids and times distinct unless overridden."""
    at = BASE + timedelta(minutes=index)
    values: dict[str, Any] = {
        "run_id": 1,
        "flow": "quote-to-cash",
        "entity": "order",
        "source_system": "salesforce",
        "source_object": "Order",
        "source_id": f"801{index:015d}",
        "canonical_id": f"c-{index}",
        "target_system": "billing",
        "stage": "write",
        "error_class": "RecordRejected",
        "code": "INVALID",
        "message": f"order {index} was rejected",
        "payload": {"Id": f"801{index:015d}"},
        "attempts": 1,
        "status": "open",
        "created_at": at,
        "updated_at": at,
    }
    values.update(overrides)
    return values


def insert_errors(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (from :func:`error_values`)."""
    connection.execute(sa.insert(error_queue), rows)
