"""JSON columns take payloads as read: money becomes decimal text, dates ISO 8601, once."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sync.engine.conflicts import json_ready
from sync.store import Store
from sync.store.records import StoredRecord, iter_stored, save_records

MODIFIED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
RAW = {"Id": "801A", "TotalAmount": Decimal("1200.50"), "EffectiveDate": date(2026, 2, 1),
       "SystemModstamp": MODIFIED, "OrderItems": [{"Quantity": Decimal("2")}]}  # fmt: skip


def test_raw_source_payload_is_stored_as_json_would_carry_it(store: Store) -> None:
    record = StoredRecord("c1", "order", {"id": "c1"}, "h1", "salesforce", "Order", "801A",
                          MODIFIED, source_payload=RAW)  # fmt: skip
    with store.transaction() as connection:
        save_records(connection, [record], run_id=1)

    with store.engine.connect() as connection:
        ((stored,),) = iter_stored(connection, "order")

    assert stored.source_payload == json_ready(RAW)
    assert stored.source_payload == {
        "Id": "801A",
        "TotalAmount": "1200.50",
        "EffectiveDate": "2026-02-01",
        "SystemModstamp": "2026-01-05T10:00:00+00:00",
        "OrderItems": [{"Quantity": "2"}],
    }
