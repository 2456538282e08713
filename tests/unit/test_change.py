"""Change detection hashes content, not key order or source timestamps."""

from __future__ import annotations

from sync.change import content_hash, payload_hash


def test_payload_hash_ignores_key_order() -> None:
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})


def test_payload_hash_sees_every_value_change() -> None:
    assert payload_hash({"total": "10.00"}) != payload_hash({"total": "10.0"})


def test_content_hash_ignores_source_timestamps_at_every_level() -> None:
    record = {
        "id": "o1",
        "source_modified_at": "t1",
        "lines": [{"id": "l1", "source_modified_at": "t1"}],
    }
    touched = {
        "id": "o1",
        "source_modified_at": "t2",
        "lines": [{"id": "l1", "source_modified_at": "t9"}],
    }
    assert content_hash(record) == content_hash(touched)


def test_content_hash_sees_a_changed_child() -> None:
    record = {"id": "o1", "lines": [{"id": "l1", "quantity": "1"}]}
    changed = {"id": "o1", "lines": [{"id": "l1", "quantity": "2"}]}
    assert content_hash(record) != content_hash(changed)
