"""Revenue facts from the store, and the rates that restate them in a reporting currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from config.assurance import AssuranceSettings
from sync.assurance.metrics_currency import RateOf
from sync.assurance.metrics_facts import RevenueFacts, revenue_facts
from sync.assurance.rates import ReportingRates
from sync.store import Store
from sync.store.metrics_reads import (
    REVENUE_ENTITIES,
    account_names,
    iter_payloads,
    open_leakage_minor,
)


def load_facts(store: Store) -> RevenueFacts:
    """Every fact the metrics need, read through one connection."""
    with store.engine.connect() as connection:
        payloads = {entity: list(iter_payloads(connection, entity)) for entity in REVENUE_ENTITIES}
        return revenue_facts(payloads, account_names(connection), open_leakage_minor(connection))


def rates_into(currency: str, settings: AssuranceSettings) -> RateOf:
    """Rates into ``currency`` from the config's table.

    The table converts into the configured reporting currency; another currency asked for on
    the command line goes through it (a cross rate: USD->GBP is USD->EUR / GBP->EUR).
    """
    table = ReportingRates.from_settings(settings)
    if table.currency in (None, currency):
        direct = ReportingRates.of(currency, settings.rates if table.currency else [])
        return direct.rate

    def cross(source: str, on: date) -> Decimal:
        if source == currency:
            return Decimal(1)
        return table.rate(source, on) / table.rate(currency, on)

    return cross
