"""Billings, collections, accounts receivable with aging, and days sales outstanding.

AR on a past date is rebuilt from today's balance: what an invoice owed on day D is what it
owes now plus what was paid or credited on it after D (never more than its total). So a
payment captured late moves AR back to the day it was received, and an invoice whose payments
revbridge never captured still reads as paid on its current balance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sync.assurance.metrics_facts import Billed, Collected, Settlement
from sync.assurance.metrics_period import Period

ZERO = Decimal(0)
# (name, first day past due, last day past due or None for no end)
AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", -(10**9), 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("over 90", 91, None),
)
# How far back the count-back method looks before it gives up (DSO "more than 2 years").
COUNT_BACK_MONTHS = 24


def billings_between(invoices: Iterable[Billed], first: date, last: date) -> dict[str, Decimal]:
    """Per currency: the totals of invoices issued from ``first`` to ``last`` inclusive."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        if first <= invoice.issued_on <= last:
            totals[invoice.currency] += invoice.total
    return dict(totals)


def billings(invoices: Iterable[Billed], period: Period) -> dict[str, Decimal]:
    """Per currency: the totals of invoices issued in ``period``."""
    return billings_between(invoices, period.start, period.end)


def collections(payments: Iterable[Collected], period: Period) -> dict[str, Decimal]:
    """Per currency: payments received in ``period``."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for payment in payments:
        if period.holds(payment.received_on):
            totals[payment.currency] += payment.amount
    return dict(totals)


def settled_after(settlements: Iterable[Settlement], on: date) -> dict[str, Decimal]:
    """Per invoice: what was paid or credited on it after ``on``."""
    later: dict[str, Decimal] = defaultdict(Decimal)
    for settlement in settlements:
        if settlement.on > on:
            later[settlement.invoice_id] += settlement.amount
    return later


def balance_on(invoice: Billed, on: date, paid_later: Decimal) -> Decimal:
    """What ``invoice`` was owed on ``on``: today's balance plus what came in later, capped."""
    if on < invoice.issued_on or not invoice.receivable:
        return ZERO
    return min(max(invoice.total, ZERO), invoice.balance_now + paid_later)


def bucket_of(days_past_due: int) -> str:
    """The aging bucket of an invoice ``days_past_due`` past its due date (<= 0: current)."""
    for name, first, last in AGING_BUCKETS:
        if days_past_due >= first and (last is None or days_past_due <= last):
            return name
    raise AssertionError("the buckets cover every integer")


@dataclass(frozen=True)
class Receivables:
    """AR of one currency on a date, and the same split by how late it is."""

    total: Decimal = ZERO
    aging: dict[str, Decimal] = field(default_factory=dict)


def receivables(
    invoices: Iterable[Billed], settlements: Iterable[Settlement], on: date
) -> dict[str, Receivables]:
    """Per currency: open balances on ``on``, in aging buckets by days past due."""
    later = settled_after(settlements, on)
    aging: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {name: ZERO for name, _, _ in AGING_BUCKETS}
    )
    for invoice in invoices:
        owed = balance_on(invoice, on, later.get(invoice.invoice_id, ZERO))
        if owed > 0:
            aging[invoice.currency][bucket_of((on - invoice.due_on).days)] += owed
    return {c: Receivables(sum(b.values(), ZERO), b) for c, b in aging.items()}


def dso_standard(ar: Decimal, billed: Decimal, days: int) -> Decimal | None:
    """AR / billings in the period x days in it; None when nothing was billed."""
    if billed <= 0:
        return None
    return ar / billed * days


def dso_count_back(
    ar: Decimal, period: Period, billed_in: Callable[[Period], Decimal]
) -> Decimal | None:
    """Days of the latest billings that add up to AR, month by month back from ``period``.

    Whole months count all their days; the month that covers the rest counts its share. None
    when :data:`COUNT_BACK_MONTHS` months of billings do not cover AR.
    """
    remaining, days, month = ar, Decimal(0), period
    for _ in range(COUNT_BACK_MONTHS):
        if remaining <= 0:
            return days
        billed = billed_in(month)
        if billed > 0 and remaining <= billed:
            return days + remaining / billed * month.days
        remaining -= max(billed, ZERO)
        days += month.days
        month = month.previous()
    return days if remaining <= 0 else None
