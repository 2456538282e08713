"""Prometheus gauges of the open reconciliation findings, read from the store at scrape time.

Every replica of `revbridge serve` reports the same numbers, as the findings live in the
store. Amounts are exported in the currency's major unit (dollars, not cents), as people read
them on a dashboard.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync.assurance.values import to_major
from sync.store import Store
from sync.store.findings import FindingKind, open_totals

log = logging.getLogger("revbridge.assurance")


class FindingsCollector(Collector):
    """``revbridge_open_findings{kind}`` and ``revbridge_amount_at_risk{currency}``."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        """Yield both gauges; none when the store can't be read (the scrape still answers)."""
        try:
            with self._store.engine.connect() as connection:
                totals = open_totals(connection)
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: cannot read the findings: %s", type(error).__name__)
            return
        counts = GaugeMetricFamily(
            "revbridge_open_findings", "Unresolved reconciliation findings.", labels=["kind"]
        )
        # Every kind, zero included, so an alert on a kind has a series before its first one.
        for kind in FindingKind:
            counts.add_metric([kind.value], totals.by_kind.get(kind.value, 0))
        yield counts
        at_risk = GaugeMetricFamily(
            "revbridge_amount_at_risk",
            "Amount at risk of unresolved findings, in the currency's major unit.",
            labels=["currency"],
        )
        for currency, minor in sorted(totals.at_risk_minor.items()):
            at_risk.add_metric([currency], float(to_major(minor, currency)))
        yield at_risk
