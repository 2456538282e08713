"""Billings, collections, AR aging and both DSO methods on hand-computed invoices."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sync.assurance.metrics_facts import Billed, Collected, Settlement
from sync.assurance.metrics_period import Period
from sync.assurance.metrics_receivables import (
    billings,
    bucket_of,
    collections,
    dso_count_back,
    dso_standard,
    receivables,
)

D = Decimal
NOV = Period(2026, 11)


def _invoice(
    invoice_id: str, issued: date, total: str, balance: str, due: date | None = None, **extra: str
) -> Billed:
    return Billed(
        invoice_id, "acct-1", None, extra.get("currency", "USD"), issued, due or issued,
        D(total), D(balance), extra.get("receivable", "yes") == "yes",
    )  # fmt: skip


def test_billings_are_invoices_issued_in_the_period_per_currency() -> None:
    invoices = [
        _invoice("i1", date(2026, 11, 1), "100", "0"),
        _invoice("i2", date(2026, 11, 30), "250.50", "0"),
        _invoice("i3", date(2026, 12, 1), "999", "0"),  # next month
        _invoice("i4", date(2026, 11, 5), "40", "0", currency="EUR"),
    ]
    # USD: 100 + 250.50 = 350.50; EUR: 40
    assert billings(invoices, NOV) == {"USD": D("350.50"), "EUR": D(40)}


def test_collections_are_payments_received_in_the_period() -> None:
    payments = [
        Collected("a", "USD", date(2026, 11, 3), D(70)),
        Collected("a", "USD", date(2026, 11, 20), D(30)),
        Collected("a", "USD", date(2026, 10, 31), D(500)),
    ]
    assert collections(payments, NOV) == {"USD": D(100)}  # 70 + 30


def test_aging_buckets_follow_days_past_due() -> None:
    assert [bucket_of(days) for days in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 400)] == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90",
        "over 90", "over 90",
    ]  # fmt: skip


def test_ar_on_a_past_date_adds_back_what_was_paid_after_it() -> None:
    on = date(2026, 11, 30)
    invoices = [
        # Issued Oct 1, due Oct 31: 30 days past due on Nov 30. Owes 0 today, but 600 of its
        # 1,000 came in on Dec 10, so on Nov 30 it owed 600.
        _invoice("late", date(2026, 10, 1), "1000", "0", date(2026, 10, 31)),
        # Due Dec 15: current; owes 200 today, nothing paid later.
        _invoice("current", date(2026, 11, 15), "200", "200", date(2026, 12, 15)),
        # Due Aug 1: 121 days past due; 50 credited on Dec 2 -> 300 + 50 = 350 on Nov 30.
        _invoice("old", date(2026, 7, 1), "500", "300", date(2026, 8, 1)),
        _invoice("future", date(2026, 12, 1), "80", "80"),  # issued after the date
        _invoice("written-off", date(2026, 6, 1), "90", "90", receivable="no"),
    ]
    settlements = [
        Settlement("late", date(2026, 12, 10), D(600)),
        Settlement("old", date(2026, 12, 2), D(50)),
        Settlement("old", date(2026, 9, 1), D(200)),  # before the date: already in today's 300
    ]
    ar = receivables(invoices, settlements, on)["USD"]
    assert ar.total == D(1150)  # 600 + 200 + 350
    assert ar.aging == {
        "current": D(200), "1-30": D(600), "31-60": D(0), "61-90": D(0), "over 90": D(350)
    }  # fmt: skip
    assert sum(ar.aging.values()) == ar.total


def test_ar_never_exceeds_an_invoices_total() -> None:
    invoices = [_invoice("i", date(2026, 11, 1), "100", "100")]
    overpaid_later = [Settlement("i", date(2026, 12, 1), D(500))]
    assert receivables(invoices, overpaid_later, date(2026, 11, 30))["USD"].total == D(100)


def test_dso_is_ar_over_billings_times_days_in_the_period() -> None:
    # AR 1,500 at Nov 30, billed 3,000 in November (30 days): 1,500 / 3,000 x 30 = 15 days.
    assert dso_standard(D(1500), D(3000), NOV.days) == D(15)
    assert dso_standard(D(1500), D(0), NOV.days) is None


def test_count_back_dso_walks_back_through_each_months_billings() -> None:
    billed = {Period(2026, 11): D(1000), Period(2026, 10): D(3100), Period(2026, 9): D(600)}

    def billed_in(month: Period) -> Decimal:
        return billed.get(month, D(0))

    # AR 2,550: November's 1,000 covers 30 days, 1,550 left; October's 3,100 covers it in
    # 1,550 / 3,100 x 31 = 15.5 days. DSO = 30 + 15.5 = 45.5.
    assert dso_count_back(D(2550), NOV, billed_in) == D("45.5")
    assert dso_count_back(D(500), NOV, billed_in) == D(15)  # 500 / 1,000 x 30
    assert dso_count_back(D(0), NOV, billed_in) == D(0)
    # More than 24 months of billings: undefined rather than a made-up number.
    assert dso_count_back(D(10_000), NOV, billed_in) is None
