"""A revenue report as plain rows and JSON, for the CLI, the console and the demo alike.

Amounts are rounded to their currency's minor units (half to even) only here, when shown;
DSO to one decimal. Values are data: the callers render them as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from mappings.currencies import minor_units
from sync.assurance.metrics_receivables import AGING_BUCKETS
from sync.assurance.metrics_report import CurrencyFigures, RevenueReport

_ONE_DECIMAL = Decimal("0.1")


def shown_amount(amount: Decimal, currency: str) -> str:
    """``amount`` rounded to ``currency``'s minor units, as plain decimal text.

    Rounded in a context wide enough for the amount, so a huge (hostile) total is printed
    whole instead of failing the report.
    """
    try:
        places = minor_units(currency)
    except ValueError:
        places = 2
    wide = Context(prec=max(amount.adjusted(), 0) + places + 2)
    return format(amount.quantize(Decimal(1).scaleb(-places), ROUND_HALF_EVEN, wide), "f")


def shown_days(days: Decimal | None) -> str | None:
    """Days to one decimal; None when the figure is undefined."""
    if days is None:
        return None
    wide = Context(prec=max(days.adjusted(), 0) + 3)
    return format(days.quantize(_ONE_DECIMAL, ROUND_HALF_EVEN, wide), "f")


@dataclass(frozen=True)
class Metric:
    """One line of the report: its name in tables and JSON, and how to read it."""

    key: str
    label: str
    read: Callable[[CurrencyFigures], Decimal | None]
    days: bool = False


def _bucket(name: str) -> Callable[[CurrencyFigures], Decimal | None]:
    return lambda figures: figures.ar.aging.get(name, Decimal(0))


METRICS: tuple[Metric, ...] = (
    Metric("mrr", "MRR", lambda f: f.arr.mrr),
    Metric("arr", "ARR", lambda f: f.arr.arr),
    Metric("new_arr", "new ARR", lambda f: f.arr.new),
    Metric("expansion_arr", "expansion ARR", lambda f: f.arr.expansion),
    Metric("contraction_arr", "contraction ARR", lambda f: f.arr.contraction),
    Metric("churned_arr", "churned ARR", lambda f: f.arr.churned),
    Metric("bookings", "bookings", lambda f: f.bookings),
    Metric("backlog", "backlog", lambda f: f.backlog),
    Metric("billings", "billings", lambda f: f.billings),
    Metric("collections", "collections", lambda f: f.collections),
    Metric("ar", "AR", lambda f: f.ar.total),
    *(Metric(f"ar_{name.replace(' ', '_').replace('-', '_')}", f"AR {name}", _bucket(name))
      for name, _, _ in AGING_BUCKETS),
    Metric("dso", "DSO (days)", lambda f: f.dso, days=True),
    Metric("dso_count_back", "DSO count-back (days)", lambda f: f.dso_count_back, days=True),
    Metric("leakage", "leakage", lambda f: f.leakage),
)  # fmt: skip


def shown(metric: Metric, figures: CurrencyFigures) -> str | None:
    """One metric of one currency as text (None: undefined, such as DSO with no billings)."""
    value = metric.read(figures)
    if metric.days:
        return shown_days(value)
    return None if value is None else shown_amount(value, figures.currency)


def figures_json(figures: CurrencyFigures) -> dict[str, str | None]:
    """Every metric of one currency by key, amounts as decimal text."""
    return {metric.key: shown(metric, figures) for metric in METRICS}


def report_json(report: RevenueReport) -> dict[str, Any]:
    """The whole report as one JSON object."""
    return {
        "period": report.period.name,
        "as_of": report.as_of.isoformat(),
        "currencies": {f.currency: figures_json(f) for f in report.by_currency},
        "reporting": (
            {"currency": report.reporting.currency, **figures_json(report.reporting)}
            if report.reporting is not None
            else None
        ),
        "backlog_by_customer": [
            {
                "account_id": line.account_id,
                "account": report.account_names.get(line.account_id),
                "currency": line.currency,
                "backlog": shown_amount(line.amount, line.currency),
            }
            for line in report.backlog_by_customer
        ],
        "skipped_records": dict(report.skipped),
    }


def columns_of(report: RevenueReport) -> list[CurrencyFigures]:
    """The report's columns: each currency, then the reporting currency."""
    return [*report.by_currency, *([report.reporting] if report.reporting else [])]
