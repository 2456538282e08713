"""A product's state on a Stripe subscription from the changes recorded on it: pure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.billing.stripe.amendments import (
    Applied,
    ProductState,
    applied_changes,
    base_key,
    change_key,
    product_state,
    recorded_states,
)

UP = Applied("prod_a", 5, "2026-03-01")
DOWN = Applied("prod_a", -3, "2026-05-01")
CANCEL = Applied("prod_a", -12, "2026-07-01")


def test_changes_add_up_from_the_quantity_before_any_change() -> None:
    assert product_state(10, [UP, DOWN]) == ProductState(12, None)


def test_a_cancellation_ends_the_product_on_its_date_and_leaves_the_billed_quantity() -> None:
    assert product_state(10, [UP, DOWN, CANCEL]) == ProductState(12, "2026-07-01")


def test_a_cancellation_alone_keeps_the_quantity_it_found_until_its_date() -> None:
    assert product_state(10, [Applied("prod_a", -15, "2026-07-01")]) == ProductState(
        10, "2026-07-01"
    )


ADD = Applied("prod_a", 2, "2026-04-01")


@given(st.permutations([UP, DOWN, ADD, Applied("prod_a", -14, "2026-07-01")]))
def test_the_order_changes_arrive_in_never_matters(changes: list[Applied]) -> None:
    assert product_state(10, changes) == ProductState(14, "2026-07-01")


@given(st.permutations([UP, DOWN, ADD]))
def test_changes_that_leave_some_quantity_end_nothing(changes: list[Applied]) -> None:
    assert product_state(10, changes) == ProductState(14, None)


def test_the_record_reads_back_what_was_written_and_ignores_other_metadata() -> None:
    metadata = {
        change_key("7b1e4f0e-0000-5000-8000-000000000001"): "prod_a|5|2026-03-01",
        change_key("7b1e4f0e-0000-5000-8000-000000000002"): "prod_a|-15|2026-07-01",
        base_key("prod_a"): "10",
        "revbridge_id": "ord-1",
        "rbc_broken": "no delta here",
    }

    assert len(applied_changes(metadata)) == 2
    assert all(len(key) <= 40 for key in metadata)
    assert recorded_states(metadata, {"prod_a": 99}) == {"prod_a": ProductState(15, "2026-07-01")}
