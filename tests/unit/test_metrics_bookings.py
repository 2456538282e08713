"""Bookings and backlog on hand-computed orders and invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sync.assurance.metrics_bookings import CustomerBacklog, backlog, backlog_totals, bookings
from sync.assurance.metrics_facts import Billed, Booking
from sync.assurance.metrics_period import Period

D = Decimal


def _order(order_id: str, account: str, effective: date, total: str) -> Booking:
    return Booking(order_id, account, "USD", effective, D(total))


def _invoice(order_id: str, issued: date, total: str) -> Billed:
    return Billed(f"inv-{order_id}-{issued}", "x", order_id, "USD", issued, issued, D(total),
                  D(0), True)  # fmt: skip


def test_bookings_are_activated_orders_effective_in_the_period_amendments_net() -> None:
    orders = [
        _order("o1", "a", date(2026, 11, 2), "12000"),
        _order("o2", "b", date(2026, 11, 20), "-3000"),  # a downgrade books its change
        _order("o3", "a", date(2026, 10, 31), "5000"),  # October
    ]
    assert bookings(orders, Period(2026, 11)) == {"USD": D(9000)}  # 12,000 - 3,000


def test_backlog_is_contracted_value_less_invoiced_per_customer() -> None:
    on = date(2026, 11, 30)
    orders = [
        _order("o1", "acme", date(2026, 1, 1), "12000"),  # invoiced 3 x 1,000 by Nov 30
        _order("o2", "acme", date(2026, 11, 1), "500"),  # nothing invoiced
        _order("o3", "globex", date(2026, 6, 1), "2400"),  # over-invoiced: 0, not negative
        _order("o4", "initech", date(2026, 12, 1), "9999"),  # effective after the date
    ]
    invoices = [
        _invoice("o1", date(2026, 1, 1), "1000"),
        _invoice("o1", date(2026, 2, 1), "1000"),
        _invoice("o1", date(2026, 3, 1), "1000"),
        _invoice("o1", date(2026, 12, 1), "1000"),  # after the date
        _invoice("o3", date(2026, 6, 1), "3000"),
    ]
    lines = backlog(orders, invoices, on)
    # acme: (12,000 - 3,000) + 500 = 9,500
    assert lines == [CustomerBacklog("acme", "USD", D(9500))]
    assert backlog_totals(lines) == {"USD": D(9500)}
