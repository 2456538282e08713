"""The revenue gauges on /metrics: this month's figures per currency and in the reporting one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from config.assurance import AssuranceSettings, RateSettings
from sync.assurance.metrics_gauges import REFRESH_SECONDS, RevenueCollector
from sync.store import Store
from sync.store.records import save_records
from tests.integration.test_metrics_cli import revenue_record, seed_metrics_store

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
EUR = AssuranceSettings(
    reporting_currency="EUR",
    rates=[RateSettings(currency="USD", rate="0.9", effective_from="2026-01-01")],
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _scrape(collector: RevenueCollector) -> str:
    registry = CollectorRegistry()
    registry.register(collector)
    return generate_latest(registry).decode()


def test_the_gauges_carry_the_months_figures_in_each_currency_and_the_reporting_one(
    store: Store,
) -> None:
    seed_metrics_store(store)
    text = _scrape(RevenueCollector(store, EUR, Clock()))
    assert 'revbridge_arr{basis="own",currency="USD"} 7200.0' in text
    assert 'revbridge_arr{basis="reporting",currency="EUR"} 6480.0' in text  # 7,200 x 0.9
    assert 'revbridge_mrr{basis="own",currency="USD"} 600.0' in text
    assert 'revbridge_backlog{basis="own",currency="USD"} 5400.0' in text
    assert 'revbridge_billings{basis="own",currency="USD"} 1800.0' in text
    assert 'revbridge_collections{basis="own",currency="USD"} 600.0' in text
    assert 'revbridge_leakage{basis="own",currency="USD"} 250.0' in text
    assert 'revbridge_accounts_receivable{basis="own",bucket="1-30",currency="USD"} 1200.0' in text
    assert 'revbridge_dso_days{basis="own",currency="USD",method="standard"} 20.0' in text


def test_a_missing_rate_leaves_the_reporting_series_out_not_at_zero(store: Store) -> None:
    seed_metrics_store(store)
    text = _scrape(RevenueCollector(store, AssuranceSettings(reporting_currency="GBP"), Clock()))
    assert 'revbridge_arr{basis="own",currency="USD"} 7200.0' in text
    assert 'basis="reporting"' not in text


def test_figures_are_read_again_once_the_refresh_interval_has_passed(store: Store) -> None:
    seed_metrics_store(store)
    clock = Clock()
    collector = RevenueCollector(store, AssuranceSettings(), clock)
    assert 'revbridge_billings{basis="own",currency="USD"} 1800.0' in _scrape(collector)
    more = revenue_record("invoice", "inv-2", account_id="acct-1", status="open",
                   invoice_date="2026-11-29", currency="USD", subtotal="200", total="200",
                   amount_due="200")  # fmt: skip
    with store.transaction() as connection:
        save_records(connection, [more], run_id=2)
    clock.now = NOW + timedelta(seconds=REFRESH_SECONDS - 1)
    assert 'revbridge_billings{basis="own",currency="USD"} 1800.0' in _scrape(collector)
    clock.now = NOW + timedelta(seconds=REFRESH_SECONDS)
    assert 'revbridge_billings{basis="own",currency="USD"} 2000.0' in _scrape(collector)


def test_an_unreadable_store_yields_no_gauges_and_the_scrape_still_answers(store: Store) -> None:
    collector = RevenueCollector(store, AssuranceSettings(), Clock())
    store.close()
    store.engine.dispose()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE canonical_records")
    assert "revbridge_arr" not in _scrape(collector)
