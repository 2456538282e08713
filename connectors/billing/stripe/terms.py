"""How an order's subscription collects money and when it starts and ends, in Stripe's words.

A sync never moves money. Left to its defaults, Stripe creates a subscription with
``collection_method=charge_automatically`` and, where the customer has a default payment method,
charges it at once. So every subscription revbridge writes says how it collects:

- ``send_invoice`` (the default): Stripe sends an invoice, due ``days_until_due`` days later
  (the mapping's ``days_until_due``, else ``billing.days_until_due``);
- ``charge_automatically`` only where the mapping sets it, and then always with
  ``payment_behavior=default_incomplete``: the first invoice waits, unpaid, for its payment to be
  confirmed outside revbridge. Any other ``payment_behavior`` rejects the record.

The order's dates become the subscription's: an end date cancels it at the end of that day
(``cancel_at``), so a one-year order is a one-year subscription; a start date still ahead
anchors its billing cycle there (``billing_cycle_anchor``, with no proration for the days
before). A start date in the past is not backdated: that would bill the past period at once.
An order whose end date has passed has nothing left to bill (:func:`has_ended`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

SEND_INVOICE = "send_invoice"
CHARGE_AUTOMATICALLY = "charge_automatically"
SAFE_PAYMENT_BEHAVIOR = "default_incomplete"
# Order payload keys that are revbridge's, not Stripe parameters: never sent as they are.
ORDER_KEYS = frozenset({"status", "start_date", "end_date", "type", "revises"})


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OrderTerms:
    """What the configuration says about orders: the default payment term, and the clock."""

    days_until_due: int = 30
    now: Callable[[], datetime] = field(default=_utc_now)


class TermsError(ValueError):
    """An order parameter that would let Stripe collect money unasked, or that is unreadable."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def collection_terms(params: Mapping[str, Any], default_days: int) -> dict[str, Any]:
    """``collection_method`` and its companions for a subscription, never charging unasked."""
    method = params.get("collection_method") or SEND_INVOICE
    behavior = params.get("payment_behavior")
    if method == SEND_INVOICE:
        days = _whole_days(params.get("days_until_due", default_days))
        terms: dict[str, Any] = {"collection_method": SEND_INVOICE, "days_until_due": days}
        return terms | ({"payment_behavior": behavior} if behavior else {})
    if method != CHARGE_AUTOMATICALLY:
        raise TermsError(
            "collection_method",
            f"collection_method {method!r} is neither {SEND_INVOICE} nor {CHARGE_AUTOMATICALLY}",
        )
    if behavior not in (None, SAFE_PAYMENT_BEHAVIOR):
        raise TermsError(
            "payment_behavior",
            f"payment_behavior {behavior!r} with {CHARGE_AUTOMATICALLY} could charge the "
            f"customer during a sync; revbridge sends {SAFE_PAYMENT_BEHAVIOR} (or leave it out)",
        )
    if params.get("days_until_due") is not None:
        raise TermsError(
            "days_until_due", f"days_until_due applies to {SEND_INVOICE} only, not {method}"
        )
    return {"collection_method": CHARGE_AUTOMATICALLY, "payment_behavior": SAFE_PAYMENT_BEHAVIOR}


def _whole_days(raw: Any) -> int:
    try:
        days = Decimal(str(raw).strip())
    except ArithmeticError:
        days = Decimal("NaN")
    if not days.is_finite() or days != days.to_integral_value() or not 0 <= days <= 3650:
        message = f"days_until_due {str(raw)[:40]!r} must be a whole number from 0 to 3650"
        raise TermsError("days_until_due", message)
    return int(days)


def order_date(params: Mapping[str, Any], name: str) -> date | None:
    """The order's ``start_date`` or ``end_date`` as a date (a date, or ISO text)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise TermsError(name, f"{name} {str(raw)[:40]!r} is not a date (YYYY-MM-DD)") from None


def midnight(day: date) -> int:
    """The start of ``day`` in UTC, as a Unix timestamp (Stripe's times)."""
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


def _end_stamp(end: date) -> int:
    """The order's last day ends at the next midnight UTC (Salesforce end dates are inclusive)."""
    return midnight(end + timedelta(days=1))


def has_ended(end: date | None, now: datetime) -> bool:
    """True when the order's service period is over."""
    return end is not None and _end_stamp(end) <= now.timestamp()


def service_dates(start: date | None, end: date | None, now: datetime) -> dict[str, Any]:
    """``cancel_at`` from the end date; ``billing_cycle_anchor`` from a start date still ahead."""
    dates: dict[str, Any] = {}
    if end is not None and _end_stamp(end) > now.timestamp():
        dates["cancel_at"] = _end_stamp(end)
    if start is not None and midnight(start) > now.timestamp():
        dates["billing_cycle_anchor"] = midnight(start)
        dates["proration_behavior"] = "none"
    return dates
