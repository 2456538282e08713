"""The canonical revenue model: money, currencies, dates, statuses, and errors that name fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from mappings.canonical import ENTITIES, Order, OrderStatus, model_for
from mappings.currencies import minor_units
from mappings.identity import canonical_id

SOURCE = {"system": "salesforce", "object": "Order", "id": "8015g00000ABCDEAA1"}


def _order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "o1",
        "source": SOURCE,
        "source_modified_at": "2026-01-05T10:00:00.000+0000",
        "account_id": "a1",
        "status": "activated",
        "effective_date": "2026-02-01",
        "currency": "EUR",
        "total": "1200.50",
        "lines": [
            {
                "id": "l1",
                "source": {**SOURCE, "object": "OrderItem", "id": "8025g00000ABCDEAA1"},
                "source_modified_at": "2026-01-05T10:00:00Z",
                "order_id": "o1",
                "product_id": "p1",
                "quantity": "2",
                "unit_price": "600.25",
                "total": "1200.50",
            }
        ],
    }
    order.update(overrides)
    return order


def test_order_parses_money_dates_and_status_into_domain_types() -> None:
    order = Order.model_validate(_order())
    assert order.total == Decimal("1200.50")
    assert order.effective_date == date(2026, 2, 1)
    assert order.status is OrderStatus.ACTIVATED
    assert order.lines[0].unit_price == Decimal("600.25")
    assert order.source_modified_at.utcoffset() is not None


def test_money_survives_a_json_round_trip_exactly() -> None:
    order = Order.model_validate(_order(total="0.10"))
    assert Order.model_validate_json(order.model_dump_json()).total == Decimal("0.10")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "XBT"}, "currency"),
        ({"status": "Pending"}, "status"),
        ({"effective_date": "31/12/2026"}, "effective_date"),
        ({"total": "NaN"}, "total"),
        ({"source_modified_at": "2026-01-05T10:00:00"}, "source_modified_at"),
        ({"account_id": ""}, "account_id"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_values_raise_errors_that_name_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(_order(**overrides))
    assert field in {str(error["loc"][0]) for error in caught.value.errors()}


def test_negative_line_quantity_is_rejected_at_its_path() -> None:
    lines = _order()["lines"]
    lines[0]["quantity"] = "-1"
    with pytest.raises(ValidationError) as caught:
        Order.model_validate(_order(lines=lines))
    # The line as a whole: a negative quantity is wrong only because the line revises nothing.
    error = caught.value.errors()[0]
    assert error["loc"] == ("lines", 0)
    assert "order_line.quantity is -1 but the line revises nothing" in error["msg"]


def test_every_entity_of_the_design_has_a_model() -> None:
    assert set(ENTITIES) == {
        "account", "contact", "product", "price_book_entry", "quote", "quote_line", "order",
        "order_line", "contract", "subscription", "invoice", "invoice_line", "payment",
        "credit_memo",
        # What a payment pays of each invoice (NetSuite's applyList), read with the payment.
        "payment_application",
    }  # fmt: skip
    with pytest.raises(KeyError, match="unknown canonical entity"):
        model_for("opportunity")


def test_minor_units_follow_iso_4217() -> None:
    assert (minor_units("USD"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)
    with pytest.raises(ValueError, match="unknown ISO 4217"):
        minor_units("XBT")


@given(st.text(min_size=1, max_size=30), st.text(min_size=1, max_size=30))
def test_canonical_ids_are_deterministic_and_distinct_per_source(first: str, second: str) -> None:
    assert canonical_id("order", "salesforce", first) == canonical_id("order", "salesforce", first)
    if first != second:
        assert canonical_id("order", "salesforce", first) != canonical_id(
            "order", "salesforce", second
        )
    assert canonical_id("order", "salesforce", first) != canonical_id(
        "account", "salesforce", first
    )
