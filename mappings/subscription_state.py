"""A subscription's quantity and price on any date, from the records CPQ writes for it.

CPQ never edits a subscription when it is amended: it writes another subscription record with
the *change* (``SBQQ__RevisedSubscription__c`` names the original), positive for an upsell,
negative for a downgrade or a cancellation, starting on the amendment's effective date, and it
stamps ``SBQQ__TerminatedDate__c`` when the subscription is cancelled. So what a customer has
on a date is the original plus every revision effective by then, in effective-date order, and
nothing from a termination date on.

The functions are pure: records in, state out, whatever order they were captured in. A
revision that would take the quantity below zero (one captured without the upsell before it,
or bad data) leaves it at zero and is reported in ``problems``, never raised: the caller
decides what an admin sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from mappings.canonical import Subscription


@dataclass(frozen=True)
class SubscriptionChange:
    """One record of a subscription: the original or a revision, as a dated change."""

    record_id: str
    effective_on: date
    quantity: Decimal  # the original's quantity, or a revision's signed delta
    unit_price: Decimal
    terminated_on: date | None = None


@dataclass(frozen=True)
class SubscriptionState:
    """What the customer has on one date."""

    on: date
    quantity: Decimal
    unit_price: Decimal | None  # set by the latest change in effect; None before the start
    problems: tuple[str, ...] = ()


_CHANGE, _TERMINATION = 0, 1
_Event = tuple[date, int, Decimal, str, SubscriptionChange | None]


def _timeline(changes: Iterable[SubscriptionChange]) -> list[_Event]:
    """Changes and terminations in the order they take effect.

    On one day, changes come before a termination (CPQ's cancellation delta and its
    termination date fall on the same day), additions before removals (a same-day upsell and
    downgrade never dip below zero), and the record id settles the rest, so capture order never
    matters.
    """
    listed = list(changes)
    events: list[_Event] = [(c.effective_on, _CHANGE, -c.quantity, c.record_id, c) for c in listed]
    ended = {c.terminated_on for c in listed if c.terminated_on is not None}
    events += [(day, _TERMINATION, Decimal(0), "", None) for day in ended]
    return sorted(events, key=lambda event: event[:4])


def state_on(changes: Iterable[SubscriptionChange], on: date) -> SubscriptionState:
    """The quantity and unit price on ``on``: every change effective by then, in date order.

    A termination (any record's ``terminated_on``) brings the quantity to zero from its date;
    a change effective after it applies again from zero.
    """
    quantity, unit_price = Decimal(0), None
    problems: list[str] = []
    for day, _kind, _order, _record_id, change in _timeline(changes):
        if day > on:
            break
        if change is None:
            quantity = Decimal(0)
            continue
        proposed = quantity + change.quantity
        if proposed < 0:
            problems.append(
                f"{change.record_id} on {day.isoformat()} lowers the quantity by "
                f"{-change.quantity} from {quantity}; held at 0"
            )
            proposed = Decimal(0)
        quantity, unit_price = proposed, change.unit_price
    return SubscriptionState(on, quantity, unit_price, tuple(problems))


def change_of(record: Subscription) -> SubscriptionChange:
    """A captured subscription record as a dated change."""
    return SubscriptionChange(
        record.id, record.start_date, record.quantity, record.net_price, record.terminated_on
    )


def changes_by_subscription(
    records: Iterable[Subscription],
) -> dict[str, list[SubscriptionChange]]:
    """Group captured records under the original each revises (a chain is followed to its root).

    A revision whose original is not captured yet is grouped under the id it names, so its
    history is whole once the original lands.
    """
    listed = list(records)
    revises: Mapping[str, str | None] = {r.id: r.revised_subscription_id for r in listed}
    grouped: dict[str, list[SubscriptionChange]] = {}
    for record in listed:
        grouped.setdefault(_root(record.id, revises), []).append(change_of(record))
    return grouped


def _root(record_id: str, revises: Mapping[str, str | None]) -> str:
    seen = {record_id}
    current = record_id
    while (parent := revises.get(current)) is not None and parent not in seen:
        seen.add(parent)
        current = parent
    return current
