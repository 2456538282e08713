"""A real ``revbridge serve`` carries the revenue gauges on /metrics, equal to the metrics the
store gives for the current month, in each currency and in the reporting currency."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sync.assurance.metrics_load import load_facts
from sync.assurance.metrics_period import period_of
from sync.assurance.metrics_report import revenue_report
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from tests.serve_harness import SMALL, ServeProcess, write_serve_config

pytestmark = pytest.mark.slow
RATES = {"reporting_currency": "EUR",
         "rates": [{"currency": "USD", "rate": "0.5", "from": "2000-01-01"}]}  # fmt: skip


def _samples(text: str, name: str) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["currency"], sample.labels["basis"]): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_serve_exposes_this_months_revenue_gauges(tmp_path: Path, database_url: str) -> None:
    with Sandboxes(SMALL) as sandboxes:
        config = write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url,
                                    assurance=RATES)  # fmt: skip
        serve = ServeProcess(config)
        try:
            serve.wait_for(lambda line: "status" in line and "run_id" in line)
            metrics = requests.get(f"http://127.0.0.1:{serve.port()}/metrics", timeout=30).text
            assert serve.terminate() == 0
        finally:
            serve.close()
    store = Store(database_url)
    today = datetime.now(UTC).date()
    report = revenue_report(load_facts(store), period_of(today), today)
    store.close()
    expected = {(f.currency, "own"): float(f.backlog) for f in report.by_currency}
    assert expected  # the sandbox's orders are in the store
    backlog = _samples(metrics, "revbridge_backlog")
    assert {key: value for key, value in backlog.items() if key[1] == "own"} == pytest.approx(
        expected
    )
    assert backlog[("EUR", "reporting")] == pytest.approx(0.5 * expected[("USD", "own")])
    assert ("USD", "own") in _samples(metrics, "revbridge_arr")
