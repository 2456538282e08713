"""Properties the metrics keep on any data: ARR is never negative and its movements add up,
aging buckets sum to AR, and billings of a period split in two add up to the whole."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mappings.subscription_state import SubscriptionChange
from sync.assurance.metrics_facts import Billed, RecurringCharge, Settlement
from sync.assurance.metrics_receivables import billings_between, receivables
from sync.assurance.metrics_recurring import arr_movements, mrr_by_customer

DAYS = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31))
MONEY = st.decimals(min_value=-10_000, max_value=10_000, places=2, allow_nan=False)
POSITIVE = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)
QUANTITY = st.decimals(min_value=-50, max_value=50, places=0).filter(lambda q: q != 0)


@st.composite
def charges(draw: st.DrawFn) -> RecurringCharge:
    account = draw(st.sampled_from(["a", "b", "c"]))
    changes = tuple(
        SubscriptionChange(f"r{index}", draw(DAYS), draw(QUANTITY), draw(MONEY),
                           draw(st.none() | DAYS))
        for index in range(draw(st.integers(1, 4)))
    )  # fmt: skip
    return RecurringCharge("s", account, draw(st.sampled_from(["USD", "EUR"])), changes,
                           draw(st.none() | DAYS))  # fmt: skip


@st.composite
def invoices(draw: st.DrawFn) -> Billed:
    issued = draw(DAYS)
    total = draw(POSITIVE)
    return Billed(
        draw(st.sampled_from(["i1", "i2", "i3", "i4"])), "a", None,
        draw(st.sampled_from(["USD", "EUR"])), issued,
        issued + timedelta(days=draw(st.integers(0, 90))), total,
        draw(POSITIVE.filter(lambda b: b <= total)), draw(st.booleans()),
    )  # fmt: skip


@given(st.lists(charges(), max_size=8), DAYS, DAYS)
def test_arr_is_never_negative_and_its_movements_add_up(
    listed: list[RecurringCharge], start: date, end: date
) -> None:
    assert all(mrr >= 0 for mrr in mrr_by_customer(listed, end).values())
    for moved in arr_movements(listed, start, end).values():
        parts = (moved.start_arr, moved.arr, moved.new, moved.expansion, moved.contraction,
                 moved.churned)  # fmt: skip
        assert all(part >= 0 for part in parts)
        assert (
            moved.start_arr + moved.new + moved.expansion - moved.contraction - (moved.churned)
            == moved.arr
        )


@given(
    st.lists(invoices(), max_size=10),
    st.lists(st.builds(Settlement, st.sampled_from(["i1", "i2", "i9"]), DAYS, POSITIVE)),
    DAYS,
)
def test_aging_buckets_sum_to_ar_and_ar_is_never_negative(
    listed: list[Billed], settlements: list[Settlement], on: date
) -> None:
    for ar in receivables(listed, settlements, on).values():
        assert sum(ar.aging.values()) == ar.total
        assert all(amount >= 0 for amount in ar.aging.values())


@given(st.lists(invoices(), max_size=12), DAYS, st.integers(0, 60), st.integers(1, 60))
def test_a_period_split_in_two_gives_the_same_billings(
    listed: list[Billed], first: date, split_after: int, length: int
) -> None:
    last = first + timedelta(days=length)
    middle = first + timedelta(days=min(split_after, length))
    whole = billings_between(listed, first, last)
    halves = [billings_between(listed, first, middle),
              billings_between(listed, middle + timedelta(days=1), last)]  # fmt: skip
    for currency in whole.keys() | halves[0].keys() | halves[1].keys():
        parts = sum((half.get(currency, Decimal(0)) for half in halves), Decimal(0))
        assert parts == whole.get(currency, Decimal(0))
