"""MRR, ARR and their movements (new, expansion, contraction, churn) between two dates.

A subscription's monthly value on a date is its quantity then (the original plus every
amendment in effect, :mod:`mappings.subscription_state`) times its monthly unit price
(:mod:`sync.assurance.metrics_facts`), nothing after its end date. Movements are per customer
and currency, as ChartMogul and Baremetrics count them: a customer's MRR going from nothing
to something is new, up is expansion, down (not to nothing) contraction, to nothing churn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mappings.subscription_state import state_on
from sync.assurance.metrics_facts import RecurringCharge

MONTHS_PER_YEAR = 12
ZERO = Decimal(0)


def monthly_value(charge: RecurringCharge, on: date) -> Decimal:
    """What ``charge`` brings in a month, as it stands on ``on`` (0 when not running)."""
    if charge.ends_on is not None and on > charge.ends_on:
        return ZERO
    state = state_on(charge.changes, on)
    if state.unit_price is None:
        return ZERO
    return state.quantity * state.unit_price


def mrr_by_customer(charges: Iterable[RecurringCharge], on: date) -> dict[tuple[str, str], Decimal]:
    """MRR per (account, currency) on ``on``; a customer's MRR is never below 0 (a credit line
    with a negative price lowers it, but cannot make a customer pay us less than nothing)."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for charge in charges:
        totals[(charge.account_id, charge.currency)] += monthly_value(charge, on)
    return {key: value for key, value in totals.items() if value > 0}


@dataclass(frozen=True)
class ArrMovements:
    """ARR of one currency at the end, and how it moved since the start (all >= 0).

    ``arr == start_arr + new + expansion - contraction - churned``.
    """

    start_arr: Decimal = ZERO
    arr: Decimal = ZERO
    new: Decimal = ZERO
    expansion: Decimal = ZERO
    contraction: Decimal = ZERO
    churned: Decimal = ZERO

    @property
    def mrr(self) -> Decimal:
        """Monthly recurring revenue at the end: ARR / 12."""
        return self.arr / MONTHS_PER_YEAR


def _moved(before: Decimal, after: Decimal) -> dict[str, Decimal]:
    change = (after - before) * MONTHS_PER_YEAR
    if before == 0:
        return {"new": change}
    if after == 0:
        return {"churned": -change}
    return {"expansion": change} if change > 0 else {"contraction": -change}


def arr_movements(
    charges: Iterable[RecurringCharge], start: date, end: date
) -> dict[str, ArrMovements]:
    """Per currency: ARR on ``start`` and ``end`` and the movements between, per customer."""
    listed = list(charges)
    before, after = mrr_by_customer(listed, start), mrr_by_customer(listed, end)
    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for key in before.keys() | after.keys():
        currency = key[1]
        mrr_before, mrr_after = before.get(key, ZERO), after.get(key, ZERO)
        sums[currency]["start_arr"] += mrr_before * MONTHS_PER_YEAR
        sums[currency]["arr"] += mrr_after * MONTHS_PER_YEAR
        if mrr_before != mrr_after:
            for name, amount in _moved(mrr_before, mrr_after).items():
                sums[currency][name] += amount
    return {currency: ArrMovements(**values) for currency, values in sums.items()}
