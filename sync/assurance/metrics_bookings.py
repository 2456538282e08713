"""Bookings (orders activated in a period) and backlog (contracted value not invoiced yet)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sync.assurance.metrics_facts import Billed, Booking
from sync.assurance.metrics_period import Period

ZERO = Decimal(0)


def bookings(orders: Iterable[Booking], period: Period) -> dict[str, Decimal]:
    """Per currency: the totals of activated orders effective in ``period`` (an amendment's
    total is its change, so a downgrade books a negative amount)."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for order in orders:
        if period.holds(order.effective_on):
            totals[order.currency] += order.total
    return dict(totals)


@dataclass(frozen=True)
class CustomerBacklog:
    """One customer's contracted value not invoiced yet, in one currency."""

    account_id: str
    currency: str
    amount: Decimal


def invoiced_by_order(invoices: Iterable[Billed], on: date) -> dict[str, Decimal]:
    """Per order: the totals of its invoices issued by ``on``."""
    invoiced: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in invoices:
        if invoice.order_id and invoice.issued_on <= on:
            invoiced[invoice.order_id] += invoice.total
    return invoiced


def backlog(
    orders: Iterable[Booking], invoices: Iterable[Billed], on: date
) -> list[CustomerBacklog]:
    """Per customer and currency, largest first: each activated order effective by ``on``,
    less what was invoiced against it by then, never below 0 per order."""
    invoiced = invoiced_by_order(invoices, on)
    owed: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for order in orders:
        if order.effective_on <= on:
            rest = order.total - invoiced.get(order.order_id, ZERO)
            owed[(order.account_id, order.currency)] += max(rest, ZERO)
    lines = [CustomerBacklog(a, c, amount) for (a, c), amount in owed.items() if amount > 0]
    return sorted(lines, key=lambda line: (-line.amount, line.account_id, line.currency))


def backlog_totals(lines: Iterable[CustomerBacklog]) -> dict[str, Decimal]:
    """Per currency: the backlog of every customer."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.currency] += line.amount
    return dict(totals)
