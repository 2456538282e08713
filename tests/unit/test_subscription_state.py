"""A subscription's current state from CPQ's delta records: hand-computed cases, then properties
(capture order does not matter, revisions sum, cancellation zeroes, never below zero)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mappings.canonical import Subscription
from mappings.subscription_state import (
    SubscriptionChange,
    changes_by_subscription,
    state_on,
)

START = date(2026, 1, 1)


def _change(record_id: str, day: int, quantity: int, price: str = "10", **extra: Any) -> Any:
    return SubscriptionChange(
        record_id, START + timedelta(days=day), Decimal(quantity), Decimal(price), **extra
    )


# Bought at 10, amended to 15, amended to 12, cancelled at mid-term: CPQ's records.
LIFECYCLE = [
    _change("sub-1", 0, 10),
    _change("sub-2", 60, 5, "9.50"),
    _change("sub-3", 120, -3, "9.50"),
    _change("sub-4", 181, -12, "9.50", terminated_on=START + timedelta(days=181)),
]


def test_the_quantity_follows_the_lifecycle_date_by_date() -> None:
    quantities = {
        day: state_on(LIFECYCLE, START + timedelta(days=day)).quantity
        for day in (-1, 0, 59, 60, 119, 120, 180, 181, 364)
    }
    assert quantities == {-1: 0, 0: 10, 59: 10, 60: 15, 119: 15, 120: 12, 180: 12, 181: 0, 364: 0}
    assert state_on(LIFECYCLE, START - timedelta(days=1)).unit_price is None
    assert state_on(LIFECYCLE, START + timedelta(days=60)).unit_price == Decimal("9.50")
    # The cancellation's delta and its termination date agree: nothing to report.
    assert state_on(LIFECYCLE, START + timedelta(days=364)).problems == ()


def test_a_termination_zeroes_even_when_no_delta_record_says_so() -> None:
    changes = [_change("sub-1", 0, 10, terminated_on=START + timedelta(days=90))]
    assert state_on(changes, START + timedelta(days=89)).quantity == 10
    assert state_on(changes, START + timedelta(days=90)).quantity == 0


def test_a_decrease_below_zero_is_held_at_zero_and_reported() -> None:
    state = state_on([_change("sub-1", 0, 2), _change("sub-9", 5, -5)], START + timedelta(days=9))
    assert state.quantity == 0
    assert state.problems == ("sub-9 on 2026-01-06 lowers the quantity by 5 from 2; held at 0",)


def _subscription(record_id: str, quantity: str, start: str, **extra: Any) -> Subscription:
    return Subscription.model_validate({
        "id": record_id, "source": {"system": "salesforce", "object": "SBQQ__Subscription__c",
                                    "id": record_id},
        "source_modified_at": "2026-01-05T10:00:00Z", "account_id": "a1", "product_id": "p1",
        "quantity": quantity, "net_price": "10", "currency": "USD", "start_date": start, **extra,
    })  # fmt: skip


def test_captured_records_group_under_the_original_they_revise() -> None:
    records = [
        _subscription("sub-3", "-3", "2026-05-01", revised_subscription_id="sub-2"),
        _subscription("other", "4", "2026-01-01"),
        _subscription("sub-1", "10", "2026-01-01"),
        _subscription("sub-2", "5", "2026-03-01", revised_subscription_id="sub-1"),
        # Its original is not captured yet: it waits under the id it names.
        _subscription("sub-7", "-1", "2026-05-01", revised_subscription_id="missing"),
    ]
    grouped = changes_by_subscription(records)
    assert {key: sorted(c.record_id for c in value) for key, value in grouped.items()} == {
        "sub-1": ["sub-1", "sub-2", "sub-3"],
        "other": ["other"],
        "missing": ["sub-7"],
    }
    assert state_on(grouped["sub-1"], date(2026, 6, 1)).quantity == 12


# --- properties

_days = st.integers(min_value=0, max_value=400)
_revision = st.tuples(_days, st.integers(min_value=-50, max_value=50).filter(bool))


@st.composite
def _histories(draw: st.DrawFn) -> list[SubscriptionChange]:
    original = _change("sub-000", draw(_days), draw(st.integers(min_value=1, max_value=50)))
    revisions = draw(st.lists(_revision, max_size=8))
    return [original] + [
        _change(f"sub-{n + 1:03d}", day, quantity) for n, (day, quantity) in enumerate(revisions)
    ]


@given(_histories(), st.randoms(use_true_random=False), _days)
def test_capture_order_does_not_matter(
    history: list[SubscriptionChange], shuffler: Any, day: int
) -> None:
    shuffled = list(history)
    shuffler.shuffle(shuffled)
    on = START + timedelta(days=day)
    assert state_on(shuffled, on) == state_on(history, on)


@given(_histories(), _days)
def test_the_quantity_is_never_negative(history: list[SubscriptionChange], day: int) -> None:
    state = state_on(history, START + timedelta(days=day))
    assert state.quantity >= 0


@given(_histories())
def test_revisions_sum_when_none_goes_below_zero(history: list[SubscriptionChange]) -> None:
    in_effect = sorted(history, key=lambda c: (c.effective_on, -c.quantity, c.record_id))
    running = Decimal(0)
    dips = False
    for change in in_effect:
        running += change.quantity
        dips = dips or running < 0
    state = state_on(history, START + timedelta(days=401))
    if dips:
        assert state.problems
    else:
        assert (state.quantity, state.problems) == (sum(c.quantity for c in history), ())


@given(_histories(), _days, _days)
def test_a_cancellation_zeroes_the_quantity_from_its_date(
    history: list[SubscriptionChange], cancel_day: int, later: int
) -> None:
    ended = START + timedelta(days=cancel_day)
    before = [c for c in history if c.effective_on <= ended]
    cancelled = [*before, _change("sub-999", cancel_day, 1, terminated_on=ended)]
    assert state_on(cancelled, ended + timedelta(days=later)).quantity == 0
    if cancel_day > 0:
        the_day_before = ended - timedelta(days=1)
        assert state_on(cancelled, the_day_before) == state_on(before, the_day_before)
