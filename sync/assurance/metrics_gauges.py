"""Prometheus gauges of the revenue metrics of the current month, as `revbridge metrics` has them.

Read from the store at scrape time, at most once per :data:`REFRESH_SECONDS` per process (the
figures read every revenue record; a scrape every 15 seconds need not). Amounts are in each
currency's major unit, labelled ``basis="own"``, and again in the reporting currency with
``basis="reporting"``. A missing rate leaves the reporting series out (logged), never zero.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.assurance import AssuranceSettings
from sync.assurance.metrics_load import load_facts, rates_into
from sync.assurance.metrics_period import period_of
from sync.assurance.metrics_report import CurrencyFigures, RevenueReport, revenue_report
from sync.assurance.rates import MissingRate
from sync.store import Store

log = logging.getLogger("revbridge.assurance")
REFRESH_SECONDS = 300
_AMOUNTS: tuple[tuple[str, str, Callable[[CurrencyFigures], Decimal]], ...] = (
    ("revbridge_arr", "Annual recurring revenue now.", lambda f: f.arr.arr),
    ("revbridge_mrr", "Monthly recurring revenue now.", lambda f: f.arr.mrr),
    ("revbridge_bookings", "Orders activated this month.", lambda f: f.bookings),
    ("revbridge_backlog", "Contracted value not invoiced yet.", lambda f: f.backlog),
    ("revbridge_billings", "Invoiced this month.", lambda f: f.billings),
    ("revbridge_collections", "Payments received this month.", lambda f: f.collections),
    ("revbridge_leakage", "At risk in open unbilled and mismatch findings.", lambda f: f.leakage),
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Cached:
    report: RevenueReport
    at: datetime


class RevenueCollector(Collector):
    """The month's metrics per currency (and in the reporting currency) as gauges."""

    def __init__(
        self,
        store: Store,
        settings: AssuranceSettings,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._store, self._settings, self._clock = store, settings, clock
        self._cached: _Cached | None = None

    def _report(self) -> RevenueReport:
        now = self._clock()
        if self._cached and now - self._cached.at < timedelta(seconds=REFRESH_SECONDS):
            return self._cached.report
        facts = load_facts(self._store)
        today = now.date()
        reporting = self._settings.reporting_currency
        try:
            rates = (reporting, rates_into(reporting, self._settings)) if reporting else None
            report = revenue_report(facts, period_of(today), today, rates)
        except MissingRate as missing:
            log.warning("metrics: the reporting currency is left out: %s", missing)
            report = revenue_report(facts, period_of(today), today)
        self._cached = _Cached(report, now)
        return report

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges; none when the store can't be read (the scrape still answers)."""
        try:
            report = self._report()
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: cannot read the revenue records: %s", type(error).__name__)
            return
        columns = [(f, "own") for f in report.by_currency]
        if report.reporting is not None:
            columns.append((report.reporting, "reporting"))
        for name, text, read in _AMOUNTS:
            gauge = GaugeMetricFamily(name, text, labels=["currency", "basis"])
            for figures, basis in columns:
                gauge.add_metric([figures.currency, basis], float(read(figures)))
            yield gauge
        yield from _receivables(columns)


def _receivables(columns: list[tuple[CurrencyFigures, str]]) -> Iterator[Metric]:
    ar = GaugeMetricFamily(
        "revbridge_accounts_receivable",
        "Open invoice balances now, by days past due.",
        labels=["currency", "basis", "bucket"],
    )
    dso = GaugeMetricFamily(
        "revbridge_dso_days", "Days sales outstanding this month.",
        labels=["currency", "basis", "method"],
    )  # fmt: skip
    for figures, basis in columns:
        for bucket, amount in figures.ar.aging.items():
            ar.add_metric([figures.currency, basis, bucket], float(amount))
        for method, days in (("standard", figures.dso), ("count_back", figures.dso_count_back)):
            if days is not None:  # undefined (nothing billed): no sample rather than a 0
                dso.add_metric([figures.currency, basis, method], float(days))
    yield ar
    yield dso
