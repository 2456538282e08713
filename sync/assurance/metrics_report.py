"""One period's revenue metrics from the facts: per currency, and in the reporting currency.

Stocks (ARR, backlog, AR) are taken on the as-of date, flows (bookings, billings,
collections) over the period; ARR movements compare the previous period's end with the
as-of date. ``docs/metrics.md`` defines each figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sync.assurance.metrics_bookings import CustomerBacklog, backlog, backlog_totals, bookings
from sync.assurance.metrics_currency import RateOf, restated
from sync.assurance.metrics_facts import RevenueFacts
from sync.assurance.metrics_period import Period
from sync.assurance.metrics_receivables import (
    AGING_BUCKETS,
    Receivables,
    billings,
    collections,
    dso_count_back,
    dso_standard,
    receivables,
)
from sync.assurance.metrics_recurring import ArrMovements, arr_movements

ZERO = Decimal(0)


@dataclass(frozen=True)
class CurrencyFigures:
    """Every metric of one period in one currency."""

    currency: str
    arr: ArrMovements
    bookings: Decimal
    backlog: Decimal
    billings: Decimal
    collections: Decimal
    ar: Receivables
    dso: Decimal | None
    dso_count_back: Decimal | None
    leakage: Decimal


@dataclass(frozen=True)
class RevenueReport:
    """One period's metrics: per currency, in the reporting currency, and backlog by customer."""

    period: Period
    as_of: date
    by_currency: list[CurrencyFigures]
    reporting: CurrencyFigures | None = None
    backlog_by_customer: list[CustomerBacklog] = field(default_factory=list)
    account_names: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def figures(
    facts: RevenueFacts, period: Period, as_of: date, currencies: list[str] | None = None
) -> list[CurrencyFigures]:
    """The metrics of ``period`` on ``as_of`` for ``currencies`` (default: each the facts hold)."""
    movements = arr_movements(facts.recurring, period.previous().end, as_of)
    booked = bookings(facts.bookings, period)
    owed = backlog_totals(backlog(facts.bookings, facts.invoices, as_of))
    billed = billings(facts.invoices, period)
    collected = collections(facts.collections, period)
    ar = receivables(facts.invoices, facts.settlements, as_of)
    empty_ar = Receivables(ZERO, {name: ZERO for name, _, _ in AGING_BUCKETS})
    lines = []
    for currency in currencies or facts.currencies():
        currency_ar = ar.get(currency, empty_ar)
        currency_billed = billed.get(currency, ZERO)

        def billed_in(month: Period, currency: str = currency) -> Decimal:
            return billings(facts.invoices, month).get(currency, ZERO)

        lines.append(
            CurrencyFigures(
                currency=currency,
                arr=movements.get(currency, ArrMovements()),
                bookings=booked.get(currency, ZERO),
                backlog=owed.get(currency, ZERO),
                billings=currency_billed,
                collections=collected.get(currency, ZERO),
                ar=currency_ar,
                dso=dso_standard(currency_ar.total, currency_billed, period.days),
                dso_count_back=dso_count_back(currency_ar.total, period, billed_in),
                leakage=facts.leakage.get(currency, ZERO),
            )
        )
    return lines


def revenue_report(
    facts: RevenueFacts,
    period: Period,
    as_of: date | None = None,
    reporting: tuple[str, RateOf] | None = None,
) -> RevenueReport:
    """The report of ``period`` (as of its last day unless given); ``reporting`` is the
    reporting currency and its rates, which must cover every currency on the as-of date."""
    on = as_of or period.end
    in_reporting = None
    if reporting is not None:
        currency, rate_of = reporting
        restated_facts = restated(facts, currency, rate_of, on)
        in_reporting = figures(restated_facts, period, on, [currency])[0]
    return RevenueReport(
        period=period,
        as_of=on,
        by_currency=figures(facts, period, on),
        reporting=in_reporting,
        backlog_by_customer=backlog(facts.bookings, facts.invoices, on),
        account_names=facts.account_names,
        skipped=facts.skipped,
    )
