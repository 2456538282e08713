"""The revenue dashboard: this month's metrics, and month-by-month charts of the last 12.

The figures are the ones `revbridge metrics` prints (the same functions, from the canonical
store alone); the chart data goes to the page as JSON in ``<script type="application/json">``
and is drawn by the vendored Chart.js, so no value is ever evaluated as script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sync.assurance.metrics_facts import RevenueFacts
from sync.assurance.metrics_load import load_facts, rates_into
from sync.assurance.metrics_period import period_of, periods_ending
from sync.assurance.metrics_receivables import AGING_BUCKETS
from sync.assurance.metrics_report import CurrencyFigures, RevenueReport, revenue_report
from sync.assurance.metrics_rows import METRICS, columns_of, shown, shown_amount
from sync.assurance.rates import MissingRate
from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.rendering import render

router = APIRouter()
MONTHS = 12
SHOWN_CUSTOMERS = 20


@dataclass(frozen=True)
class BacklogLine:
    """One customer's backlog as the page shows it."""

    name: str
    account_id: str
    amount: str


def _reports(
    facts: RevenueFacts, today: date, context: Context
) -> tuple[list[RevenueReport], list[str]]:
    """A report per month; a month whose rates are missing is reported in its own currencies
    only, and the missing rate is named (a gap in the charts, never a zero)."""
    reporting = context.settings.assurance.reporting_currency
    rates = (reporting, rates_into(reporting, context.settings.assurance)) if reporting else None
    reports, problems = [], []
    for month in periods_ending(period_of(today), MONTHS):
        on = min(month.end, today)
        try:
            reports.append(revenue_report(facts, month, on, rates))
        except MissingRate as missing:
            problems.append(str(missing))
            reports.append(revenue_report(facts, month, on))
    return reports, problems


def _figures_in(report: RevenueReport, currency: str | None) -> CurrencyFigures | None:
    if report.reporting is not None:
        return report.reporting
    return next((f for f in report.by_currency if f.currency == currency), None)


def _series(picked: list[CurrencyFigures | None], read: Any) -> list[float | None]:
    return [float(read(f)) if f is not None else None for f in picked]


def chart_data(reports: list[RevenueReport], currency: str | None) -> dict[str, Any]:
    """ARR, billings and collections, and AR by aging bucket, one point per month; a month
    with no figures in the chart's currency (a missing rate) is a gap."""
    picked = [_figures_in(report, currency) for report in reports]
    # A list, not an object: the page's JSON has sorted keys, and the buckets have an order.
    aging = [
        {"name": name, "data": _series(picked, lambda f, n=name: f.ar.aging.get(n, 0))}
        for name, _, _ in AGING_BUCKETS
    ]
    return {
        "currency": currency,
        "labels": [report.period.name for report in reports],
        "arr": _series(picked, lambda f: f.arr.arr),
        "billings": _series(picked, lambda f: f.billings),
        "collections": _series(picked, lambda f: f.collections),
        "aging": aging,
    }


def _backlog(report: RevenueReport) -> list[BacklogLine]:
    return [
        BacklogLine(report.account_names.get(line.account_id, "-"), line.account_id,
                    shown_amount(line.amount, line.currency) + f" {line.currency}")
        for line in report.backlog_by_customer[:SHOWN_CUSTOMERS]
    ]  # fmt: skip


@router.get("/revenue", response_class=HTMLResponse)
def revenue_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    currency: Annotated[str, Query(max_length=3, pattern=r"^([A-Z]{3})?$")] = "",
) -> HTMLResponse:
    """This month's metrics per currency and the 12-month charts in one currency."""
    facts = load_facts(context.store)
    known = facts.currencies()
    reports, problems = _reports(facts, context.clock().date(), context)
    current = reports[-1]
    reporting = context.settings.assurance.reporting_currency
    chosen = reporting or currency or (known[0] if known else None)
    columns = columns_of(current)
    page = {
        "problems": list(dict.fromkeys(problems)),
        "report": current,
        "headings": [
            f"{f.currency} (reporting)" if f is current.reporting else f.currency for f in columns
        ],
        "rows": [(m.label, [shown(m, f) or "-" for f in columns]) for m in METRICS],
        "backlog": _backlog(current),
        "chart": chart_data(reports, chosen),
        "currencies": [] if reporting else known,
        "chosen": chosen,
    }
    return render(request, "pages/revenue.html", page)
