"""Stripe's form encoding and minor-unit money, without a server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.billing.stripe.form import (
    MoneyError,
    form_body,
    form_pairs,
    from_minor_units,
    to_minor_units,
)
from connectors.billing.stripe.objects import create_key, search_query, update_key
from sandboxes.billing.stripe.form import parse_params


def test_nested_objects_and_lists_use_bracketed_names_in_sorted_order() -> None:
    payload = {
        "metadata": {"revbridge_id": "ord-1"},
        "items": [{"price_data": {"product": "prod_1"}, "quantity": 2}],
        "cancel_at_period_end": False,
        "description": None,
        "backdate_start_date": date(2026, 1, 5),
    }
    assert form_pairs(payload) == [
        ("backdate_start_date", "1767571200"),
        ("cancel_at_period_end", "false"),
        ("items[0][price_data][product]", "prod_1"),
        ("items[0][quantity]", "2"),
        ("metadata[revbridge_id]", "ord-1"),
    ]


@pytest.mark.parametrize(
    ("currency", "amount", "minor"),
    [("USD", "12.34", 1234), ("JPY", "1234", 1234), ("KWD", "1.234", 1234), ("EUR", "0", 0)],
)
def test_amounts_go_out_as_integer_minor_units_of_their_currency(
    currency: str, amount: str, minor: int
) -> None:
    wire = to_minor_units({"currency": currency, "price_data": {"unit_amount": Decimal(amount)}})
    assert wire == {"currency": currency.lower(), "price_data": {"unit_amount": minor}}


def test_amount_finer_than_the_minor_unit_is_refused_with_its_param() -> None:
    with pytest.raises(MoneyError) as raised:
        to_minor_units({"currency": "JPY", "items": [{"amount": Decimal("10.5")}]})
    assert raised.value.param == "items[0][amount]"


def test_fractional_unit_price_goes_out_as_unit_amount_decimal() -> None:
    wire = to_minor_units({"currency": "USD", "unit_amount": Decimal("0.125")})
    assert wire == {"currency": "usd", "unit_amount_decimal": "12.5"}


def test_amount_without_any_currency_is_refused() -> None:
    with pytest.raises(MoneyError, match="currency"):
        to_minor_units({"unit_amount": Decimal("1")})


@given(
    currency=st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLP", "BHD"]),
    minor=st.integers(min_value=0, max_value=10**12),
)
def test_money_round_trips_exactly_through_the_wire(currency: str, minor: int) -> None:
    read = from_minor_units(
        {"currency": currency.lower(), "total": minor, "lines": [{"amount": minor}]}
    )
    written = to_minor_units({"currency": currency, "amount": read["total"]})
    assert written["amount"] == minor
    assert read["lines"][0]["amount"] == read["total"]


def test_sandbox_parses_what_the_connector_encodes() -> None:
    payload = {"items": [{"quantity": 1}, {"quantity": 2, "metadata": {"k": "v"}}], "name": "A&B"}
    assert parse_params(form_body(payload).decode()) == {
        "items": [{"quantity": "1"}, {"quantity": "2", "metadata": {"k": "v"}}],
        "name": "A&B",
    }
    assert dict(parse_qsl(form_body({"name": "A&B"}).decode())) == {"name": "A&B"}


def test_create_key_depends_on_id_and_content_only_and_update_key_on_the_call_too() -> None:
    key = create_key("customers", "acc-1", b"name=A")
    assert key == create_key("customers", "acc-1", b"name=A")
    assert key != create_key("customers", "acc-1", b"name=B")
    assert key != create_key("customers", "acc-2", b"name=A")
    assert update_key("customers", "cus_1", b"name=A", "t1") != update_key(
        "customers", "cus_1", b"name=A", "t2"
    )
    assert len(key) <= 255


def test_search_query_escapes_quotes_and_backslashes() -> None:
    assert search_query("o'brien\\1") == "metadata['revbridge_id']:'o\\'brien\\\\1'"
