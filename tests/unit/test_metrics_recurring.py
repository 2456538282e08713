"""MRR, ARR and their movements on hand-computed subscriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from mappings.canonical import Subscription
from mappings.subscription_state import SubscriptionChange
from sync.assurance.metrics_facts import RecurringCharge, months_covered, recurring_charges
from sync.assurance.metrics_recurring import arr_movements, monthly_value, mrr_by_customer

D = Decimal


def _subscription(**fields: Any) -> Subscription:
    base: dict[str, Any] = {
        "id": "sub-1",
        "source": {"system": "salesforce", "object": "SBQQ__Subscription__c", "id": "a1"},
        "source_modified_at": datetime(2026, 1, 1, tzinfo=UTC),
        "account_id": "acct-1",
        "product_id": "prod-1",
        "quantity": "10",
        "net_price": "1200",
        "currency": "USD",
        "start_date": "2026-01-01",
    }
    return Subscription.model_validate({**base, **fields})


def _charge(account: str, price: str, quantity: str, start: date, **extra: Any) -> RecurringCharge:
    change = SubscriptionChange(f"{account}-s", start, D(quantity), D(price))
    return RecurringCharge(f"{account}-s", account, "USD", (change,), extra.get("ends_on"))


def test_net_price_is_spread_over_the_term_then_the_billing_period_then_twelve_months() -> None:
    assert months_covered(_subscription(term_months=24), {}) == 24
    assert months_covered(_subscription(contract_id="c1"), {"c1": 36}) == 36
    assert months_covered(_subscription(billing_frequency="quarterly"), {}) == 3
    assert months_covered(_subscription(), {}) == 12


def test_mrr_of_a_subscription_is_quantity_times_its_price_per_month() -> None:
    # 10 seats at 1,200 a year (12-month term): 10 x 1,200 / 12 = 1,000 a month.
    (charge,) = recurring_charges([_subscription(term_months=12)], {})
    assert monthly_value(charge, date(2026, 3, 31)) == D(1000)
    assert monthly_value(charge, date(2025, 12, 31)) == 0  # before it starts


def test_amendments_add_and_remove_seats_from_their_effective_date() -> None:
    original = _subscription(term_months=12)
    # +5 seats from April at 1,200/yr; then -3 from July: 10 -> 15 -> 12 seats at 100 a month.
    upsell = _subscription(
        id="sub-2",
        quantity="5",
        start_date="2026-04-01",
        revised_subscription_id="sub-1",
        term_months=12,
    )
    downgrade = _subscription(id="sub-3", quantity="-3", start_date="2026-07-01",
                              revised_subscription_id="sub-1", term_months=12)  # fmt: skip
    (charge,) = recurring_charges([downgrade, original, upsell], {})
    assert monthly_value(charge, date(2026, 3, 31)) == D(1000)  # 10 x 100
    assert monthly_value(charge, date(2026, 4, 30)) == D(1500)  # 15 x 100
    assert monthly_value(charge, date(2026, 7, 31)) == D(1200)  # 12 x 100


def test_one_time_and_usage_charges_and_ended_subscriptions_are_not_recurring_revenue() -> None:
    records = [
        _subscription(id="once", charge_type="one_time"),
        _subscription(id="metered", charge_type="usage"),
        _subscription(id="ended", end_date="2026-06-30"),
    ]
    charges = recurring_charges(records, {})
    assert [c.subscription_id for c in charges] == ["ended"]
    assert monthly_value(charges[0], date(2026, 6, 30)) == D(1000)
    assert monthly_value(charges[0], date(2026, 7, 1)) == 0


def test_a_cancellation_ends_the_revenue_on_its_termination_date() -> None:
    records = [_subscription(terminated_on="2026-05-15")]
    (charge,) = recurring_charges(records, {})
    assert monthly_value(charge, date(2026, 5, 14)) == D(1000)
    assert monthly_value(charge, date(2026, 5, 15)) == 0


def test_a_customers_mrr_sums_its_subscriptions_and_never_goes_below_zero() -> None:
    charges = [
        _charge("a", "100", "2", date(2026, 1, 1)),
        _charge("a", "50", "1", date(2026, 1, 1)),
        _charge("credit-only", "-40", "1", date(2026, 1, 1)),
    ]
    # a: 2 x 100 + 1 x 50 = 250; the credit-only customer's -40 is no MRR at all.
    assert mrr_by_customer(charges, date(2026, 2, 1)) == {("a", "USD"): D(250)}


def test_arr_movements_sort_each_customer_into_new_expansion_contraction_and_churn() -> None:
    start, end = date(2026, 10, 31), date(2026, 11, 30)
    nov = date(2026, 11, 1)
    charges = [
        _charge("kept", "100", "1", date(2026, 1, 1)),  # 100 -> 100: no movement
        _charge("new", "50", "1", nov),  # 0 -> 50: new 600
        _charge("grew", "100", "1", date(2026, 1, 1)),
        _charge("grew", "30", "1", nov),  # 100 -> 130: expansion 360
        _charge("churned", "80", "1", date(2026, 1, 1), ends_on=date(2026, 11, 10)),  # churn 960
        RecurringCharge(
            "shrank-s",
            "shrank",
            "USD",
            (
                SubscriptionChange("shrank-s", date(2026, 1, 1), D(4), D(25)),
                SubscriptionChange("shrank-d", nov, D(-1), D(25)),
            ),
            None,
        ),  # 100 -> 75: contraction 300
    ]
    moved = arr_movements(charges, start, end)["USD"]
    # start: (100 + 100 + 80 + 100) x 12 = 4,560; end: (100 + 50 + 130 + 75) x 12 = 4,260
    assert moved.start_arr == D(4560)
    assert moved.arr == D(4260)
    assert (moved.new, moved.expansion, moved.contraction, moved.churned) == (
        D(600), D(360), D(300), D(960)
    )  # fmt: skip
    assert moved.start_arr + moved.new + moved.expansion - moved.contraction - moved.churned == (
        moved.arr
    )
    assert moved.mrr == D(355)
