"""The generic billing API's subscription items with dated quantity changes, without HTTP."""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest

from sandboxes.billing.sandbox import ApiError, BillingState


@pytest.fixture
def state() -> BillingState:
    billing = BillingState("sk_test")
    billing.upsert("customers", "acc-1", {"name": "Acme", "currency": "EUR"})
    for sku in ("a", "b"):
        billing.upsert("products", f"prod-{sku}", {"name": sku, "sku": sku})
    return billing


def ids(state: BillingState, collection: str) -> dict[str, str]:
    return {row["external_id"]: row["id"] for row in state.resources(collection)}


def subscription(state: BillingState, quantity: str = "10", product: str = "prod-a",
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "customer": ids(state, "customers")["acc-1"], "product": ids(state, "products")[product],
        "quantity": quantity, "unit_amount": "40.00", "currency": "EUR",
        "current_period_start": "2026-01-01", "current_period_end": "2026-12-31",
        "status": "active", **fields,
    }  # fmt: skip


def change(state: BillingState, quantity: str, effective: str, **fields: Any) -> dict[str, Any]:
    original = ids(state, "subscriptions")["sub-1"]
    return subscription(state, quantity, revises=original, effective_date=effective,
                        current_period_start=effective, **fields)  # fmt: skip


def item(state: BillingState) -> dict[str, Any]:
    [row] = [r for r in state.resources("subscriptions") if r["external_id"] == "sub-1"]
    [found] = row["items"]
    return dict(found)


def schedule(state: BillingState) -> list[tuple[str, str]]:
    return [(step["from"], step["quantity"]) for step in item(state)["schedule"]]


CHANGES = {
    "up": ("5", "2026-03-01", {}),
    "down": ("-3", "2026-05-01", {}),
    "cancel": ("-12", "2026-07-01", {"cancel_at": "2026-07-01"}),
}


@pytest.mark.parametrize("order", list(permutations(CHANGES)))
def test_the_changes_make_one_schedule_whatever_order_they_arrive_in(
    state: BillingState, order: tuple[str, ...]
) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    for name in order:
        quantity, effective, extra = CHANGES[name]
        state.upsert("subscriptions", name, change(state, quantity, effective, **extra))

    assert schedule(state) == [("2026-01-01", "10"), ("2026-03-01", "15"),
                               ("2026-05-01", "12"), ("2026-07-01", "0")]  # fmt: skip
    assert item(state)["ends_at"] == "2026-07-01"


def test_a_change_sent_twice_is_one_change_and_an_edit_replaces_it(state: BillingState) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))
    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))
    assert schedule(state) == [("2026-01-01", "10"), ("2026-03-01", "15")]

    state.upsert("subscriptions", "up", change(state, "2", "2026-04-01"))

    assert schedule(state) == [("2026-01-01", "10"), ("2026-04-01", "12")]


def test_a_change_bumps_its_original_so_an_incremental_reader_sees_it(state: BillingState) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    before = item(state), [r["updated"] for r in state.resources("subscriptions")]
    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))

    [original] = [r for r in state.resources("subscriptions") if r["external_id"] == "sub-1"]
    assert original["updated"] > max(before[1])


@pytest.mark.parametrize(
    ("build", "code", "says"),
    [
        (lambda s: ("sub-2", subscription(s, "0")), "parameter_invalid", "other than 0"),
        (lambda s: ("sub-2", subscription(s, "-4")), "parameter_invalid", "must be > 0"),
        (lambda s: ("c", change(s, "0", "2026-03-01")), "parameter_invalid", "other than 0"),
        (lambda s: ("c", change(s, "1.5e3", "2026-03-01")), "parameter_invalid", "decimal"),
        (lambda s: ("c", change(s, "<b>5</b>", "2026-03-01")), "parameter_invalid", "decimal"),
        (lambda s: ("c", change(s, "5", "2026-02-30")), "parameter_invalid", "YYYY-MM-DD"),
        (
            lambda s: (
                "c",
                {**change(s, "5", "2026-03-01"), "product": ids(s, "products")["prod-b"]},
            ),
            "parameter_invalid",
            "must be of its product",
        ),
        (
            lambda s: ("c", {**change(s, "5", "2026-03-01"), "revises": "sub_missing"}),
            "resource_missing",
            "no such subscription",
        ),
    ],
    ids=[
        "zero",
        "negative",
        "zero-change",
        "exponent",
        "markup",
        "bad-date",
        "other-product",
        "unknown-original",
    ],
)
def test_a_quantity_that_is_genuinely_wrong_is_still_refused_with_why(
    state: BillingState, build: Any, code: str, says: str
) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    external_id, body = build(state)

    with pytest.raises(ApiError) as refused:
        state.upsert("subscriptions", external_id, body)

    assert (refused.value.code, says in refused.value.message) == (code, True)
    assert schedule(state) == [("2026-01-01", "10")]


def test_a_decrease_before_the_increase_it_undoes_is_held_at_0_until_that_lands(
    state: BillingState,
) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    state.upsert("subscriptions", "cancel", change(state, "-15", "2026-07-01"))
    assert schedule(state) == [("2026-01-01", "10"), ("2026-07-01", "0")]
    assert len(item(state)["problems"]) == 1

    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))

    assert schedule(state) == [("2026-01-01", "10"), ("2026-03-01", "15"), ("2026-07-01", "0")]
    assert item(state)["problems"] == []


def test_a_change_of_a_change_is_refused(state: BillingState) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))
    body = {**change(state, "1", "2026-04-01"), "revises": ids(state, "subscriptions")["up"]}

    with pytest.raises(ApiError, match="is itself a change"):
        state.upsert("subscriptions", "again", body)


def test_deleting_a_change_takes_it_out_of_the_schedule_and_the_original_waits_for_it(
    state: BillingState,
) -> None:
    state.upsert("subscriptions", "sub-1", subscription(state))
    state.upsert("subscriptions", "up", change(state, "5", "2026-03-01"))
    with pytest.raises(ApiError, match="still has changes"):
        state.delete("subscriptions", "sub-1")

    state.delete("subscriptions", "up")

    assert schedule(state) == [("2026-01-01", "10")]


def test_only_an_amendment_or_cancellation_order_lowers_a_quantity(state: BillingState) -> None:
    line = {"product": ids(state, "products")["prod-a"], "quantity": "-3"}
    order = {"customer": ids(state, "customers")["acc-1"], "currency": "EUR",
             "effective_date": "2026-05-01", "total": "-120.00", "lines": [line]}  # fmt: skip

    with pytest.raises(ApiError, match="a new order cannot lower a quantity"):
        state.upsert("orders", "ord-1", order)
    state.upsert("orders", "ord-2", {**order, "type": "amendment"})
    state.upsert("orders", "ord-3", {**order, "type": "cancellation"})
    with pytest.raises(ApiError, match="other than 0"):
        state.upsert("orders", "ord-4", {**order, "type": "amendment",
                                         "lines": [{**line, "quantity": "0"}]})  # fmt: skip


def test_a_quote_line_may_be_0_only_where_it_removes_a_product_it_had(state: BillingState) -> None:
    line = {"product": ids(state, "products")["prod-a"], "quantity": "0", "unit_amount": "40.00",
            "amount": "0.00"}  # fmt: skip
    quote = {"customer": ids(state, "customers")["acc-1"], "status": "accepted",
             "currency": "EUR", "total": "0.00", "lines": [line]}  # fmt: skip

    with pytest.raises(ApiError, match="0 only on an amendment line with a prior quantity"):
        state.upsert("quotes", "q-1", quote)
    state.upsert("quotes", "q-2", {**quote, "lines": [{**line, "prior_quantity": "4"}]})
