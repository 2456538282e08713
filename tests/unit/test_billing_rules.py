"""The billing sandbox's validation and upsert rules, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from sandboxes.billing.sandbox import ApiError, BillingState

CUSTOMER = {"name": "Acme", "currency": "USD"}


@pytest.fixture
def state() -> BillingState:
    """A sandbox state holding one customer (cus_00000001) and one product (prod_00000001)."""
    billing = BillingState("sk_test_unit")
    billing.upsert("customers", "acc-1", dict(CUSTOMER))
    billing.upsert("products", "prod-1", {"name": "Seat", "sku": "SEAT"})
    return billing


def _order(**changes: Any) -> dict[str, Any]:
    line = {"product": "prod_00000001", "quantity": "2", "unit_amount": "600.00"}
    order = {
        "customer": "cus_00000001",
        "currency": "USD",
        "effective_date": "2026-01-05",
        "total": "1200.00",
        "lines": [line],
    }
    return {**order, **changes}


@pytest.mark.parametrize(
    ("collection", "body", "code", "param"),
    [
        ("customers", {"currency": "USD"}, "parameter_missing", "name"),
        ("customers", {"name": "", "currency": "USD"}, "parameter_missing", "name"),
        ("customers", {"name": "A", "currency": "usd"}, "parameter_invalid", "currency"),
        ("customers", {**CUSTOMER, "address": {"town": "X"}}, "parameter_invalid", "address[town]"),
        ("customers", {**CUSTOMER, "nickname": "A"}, "parameter_invalid", "nickname"),
        ("products", {"name": "A"}, "parameter_missing", "sku"),
        ("products", {"name": "A", "sku": "A", "active": "yes"}, "parameter_invalid", "active"),
        ("orders", _order(total=1200.0), "parameter_invalid", "total"),
        ("orders", _order(total=1200), "parameter_invalid", "total"),
        ("orders", _order(customer="cus_missing"), "resource_missing", "customer"),
        ("orders", _order(effective_date="2026-02-30"), "parameter_invalid", "effective_date"),
        ("orders", _order(status="open"), "parameter_invalid", "status"),
        ("orders", _order(lines=[{"product": "prod_x"}]), "resource_missing", "lines[0][product]"),
        (
            "orders",
            _order(lines=[{"product": "prod_00000001", "quantity": "0"}]),
            "parameter_invalid",
            "lines[0][quantity]",
        ),
    ],
)
def test_invalid_body_is_refused_with_code_and_param(
    state: BillingState, collection: str, body: dict[str, Any], code: str, param: str
) -> None:
    with pytest.raises(ApiError) as refused:
        state.upsert(collection, "x-1", body)
    assert (refused.value.status, refused.value.code, refused.value.param) == (400, code, param)


def test_valid_order_is_stored_with_assigned_id_and_timestamps(state: BillingState) -> None:
    reply = state.upsert("orders", "ord-1", _order())
    assert reply.status == 201
    assert reply.body["id"] == "ord_00000001"
    assert reply.body["created"] == reply.body["updated"]
    assert reply.body["lines"][0]["quantity"] == "2"


def test_update_bumps_updated_but_keeps_id_and_created(state: BillingState) -> None:
    before = state.resources("customers")[0]
    reply = state.upsert("customers", "acc-1", {**CUSTOMER, "phone": "+1 555"})
    assert reply.status == 200
    assert (reply.body["id"], reply.body["created"]) == (before["id"], before["created"])
    assert reply.body["updated"] > before["updated"]


def test_identical_update_answers_200_without_bumping_updated(state: BillingState) -> None:
    before = state.resources("customers")[0]
    reply = state.upsert("customers", "acc-1", dict(CUSTOMER))
    assert reply.status == 200
    assert reply.body["updated"] == before["updated"]
    assert state.writes[("customers", "unchanged")] == 1


def test_body_external_id_must_match_the_url(state: BillingState) -> None:
    with pytest.raises(ApiError) as refused:
        state.upsert("customers", "acc-1", {**CUSTOMER, "external_id": "acc-2"})
    assert refused.value.param == "external_id"
