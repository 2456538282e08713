"""Held conflicts grouped by record, each field with its three values."""

from __future__ import annotations

from sync.store import Store
from sync.store.conflict_fields import held_record, held_records
from sync.store.conflict_log import ConflictEntry, ConflictStatus, choose, log_conflicts


def _held(
    canonical_id: str, field: str, status: ConflictStatus = ConflictStatus.OPEN
) -> ConflictEntry:
    return ConflictEntry(
        entity="order", canonical_id=canonical_id, target_system="billing", field=field,
        base_value={"last": field}, source_value=f"src-{field}", target_value=f"tgt-{field}",
        policy="manual", decision="held", source_system="salesforce",
        source_id=f"sf-{canonical_id}", status=status,
    )  # fmt: skip


def test_a_held_record_shows_each_field_with_source_target_and_last_sent(store: Store) -> None:
    with store.transaction() as connection:
        log_conflicts(connection, [_held("o1", "amount"), _held("o1", "currency")], 1)
        log_conflicts(connection, [_held("o2", "amount", ConflictStatus.DECIDED)], 1)
        first = held_record(connection, "billing", "o1")
        assert first is not None
        choose(connection, [first.fields[0].conflict_id], "target")

    with store.engine.connect() as connection:
        record = held_record(connection, "billing", "o1")
        decided = held_record(connection, "billing", "o2")
        waiting = held_records(connection)
    assert record is not None
    assert decided is None
    assert [(f.field, f.source_value, f.target_value, f.last_sent_value, f.chosen)
            for f in record.fields] == [
        ("amount", "src-amount", "tgt-amount", {"last": "amount"}, "target"),
        ("currency", "src-currency", "tgt-currency", {"last": "currency"}, None),
    ]  # fmt: skip
    assert record.source_id == "sf-o1"
    assert [r.canonical_id for r in waiting] == ["o1"]


def test_held_records_are_newest_first_and_filtered(store: Store) -> None:
    with store.transaction() as connection:
        for n in range(5):
            log_conflicts(connection, [_held(f"o{n}", "amount")], 1)

    with store.engine.connect() as connection:
        newest_two = held_records(connection, limit=2)
        other_system = held_records(connection, target_system="erp")
        other_entity = held_records(connection, entity="account")
    assert [r.canonical_id for r in newest_two] == ["o4", "o3"]
    assert other_system == other_entity == []
