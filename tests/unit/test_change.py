"""Change detection hashes content, not key order or source timestamps."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel

from mappings.canonical import Order
from sync.engine.change import content_hash, json_and_hash, payload_hash
from sync.store.schema import plain_json_text


def test_payload_hash_ignores_key_order() -> None:
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})


def test_payload_hash_sees_every_value_change() -> None:
    assert payload_hash({"total": "10.00"}) != payload_hash({"total": "10.0"})


def _order(modified: str = "2026-01-05T10:00:00Z", line_modified: str = "2026-01-05T10:00:00Z",
           quantity: str = "1") -> Order:  # fmt: skip
    source: dict[str, Any] = {"system": "salesforce", "object": "Order", "id": "801A"}
    line = {"id": "l1", "source": {**source, "object": "OrderItem", "id": "802A"},
            "source_modified_at": line_modified, "order_id": "o1", "product_id": "p1",
            "quantity": quantity, "unit_price": "10", "total": "10"}  # fmt: skip
    order = {"id": "o1", "source": source, "source_modified_at": modified, "account_id": "a1",
             "status": "draft", "effective_date": "2026-02-01", "currency": "USD", "total": "10",
             "lines": [line]}  # fmt: skip
    return Order.model_validate(order)


def test_content_hash_ignores_source_timestamps_at_every_level() -> None:
    touched = _order(modified="2026-03-01T08:00:00Z", line_modified="2026-03-09T08:00:00Z")

    assert content_hash(_order()) == content_hash(touched)


def test_content_hash_sees_a_changed_child() -> None:
    assert content_hash(_order()) != content_hash(_order(quantity="2"))


def test_content_hash_sees_a_changed_field() -> None:
    renumbered = _order().model_copy(update={"order_number": "100"})

    assert content_hash(_order()) != content_hash(renumbered)


def _tricky_order() -> Order:
    """Text a careless cut would trip on: the volatile key, quotes, backslashes, non-ASCII."""
    order = _order()
    return order.model_copy(
        update={
            "order_number": ',"source_modified_at":"2026-01-05T10:00:00Z","x":"\\"',
            "lines": [
                line.model_copy(update={"product_id": 'Zoë \\",\\"source_modified_at\\":null'})
                for line in order.lines
            ],
        }
    )


def test_json_and_hash_give_the_stored_json_and_the_content_hash() -> None:
    for order in (_order(), _tricky_order()):
        text, digest = json_and_hash(order)

        assert text == plain_json_text(order.model_dump(mode="json"))
        assert digest == content_hash(order)


def test_json_and_hash_of_a_model_with_free_form_keys_serializes_twice() -> None:
    class Tagged(BaseModel):
        id: str
        source_modified_at: AwareDatetime
        tags: dict[str, Any]

    tags = {"a": 1, "source_modified_at": "kept: not a field"}
    tagged = Tagged.model_validate(
        {"id": "t1", "source_modified_at": "2026-01-05T10:00:00Z", "tags": tags}
    )

    text, digest = json_and_hash(tagged)

    assert text == tagged.model_dump_json()
    assert digest == content_hash(tagged)
    assert "kept: not a field" in tagged.model_dump_json(exclude={"source_modified_at": True})
