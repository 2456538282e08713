"""A real ``revbridge serve`` process on the sandboxes: runs, logs, metrics, probes, SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from config.settings import SalesforceSettings
from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.cursors import load_cursor
from sync.store.leases import load_lease
from sync.store.schema import RunStatus, runs
from tests.serve_harness import (
    PAGED,
    SMALL,
    ServeProcess,
    WebhookReceiver,
    write_serve_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def small(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(SMALL) as sandboxes:
        yield sandboxes, write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url)


@pytest.fixture
def paged(tmp_path: Path, database_url: str) -> Iterator[tuple[Sandboxes, Path]]:
    with Sandboxes(PAGED) as sandboxes:
        yield sandboxes, write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url)


def _metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name} {labels} not in /metrics")


def _set_revision(database_url: str, revision: str) -> None:
    store = Store(database_url, migrate=False)
    with store.transaction() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    store.close()


def _run_line(serve: ServeProcess) -> dict[str, object]:
    return serve.wait_for(lambda line: "status" in line and "run_id" in line)


def test_serve_runs_each_flow_logs_it_and_exposes_metrics_and_probes(
    small: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = small
    serve = ServeProcess(config)
    try:
        run = _run_line(serve)
        base = f"http://127.0.0.1:{serve.port()}"
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        health = requests.get(f"{base}/healthz", timeout=10)
        ready = requests.get(f"{base}/readyz", timeout=10)
        _set_revision(database_url, "0002")  # as if an older revbridge had set up the store
        behind = requests.get(f"{base}/readyz", timeout=10)
        assert serve.terminate() == 0
    finally:
        serve.close()

    assert run["flow"] == "quote-to-cash"
    assert run["status"] == RunStatus.PARTIAL.value  # the sandbox seeds a few invalid records
    rejections = [line for line in serve.lines if str(line["message"]).startswith("rejected ")]
    assert len(rejections) == run["error_queue_active"]
    assert all(line["flow"] == "quote-to-cash" and line["record_id"] for line in rejections)
    assert {line["entity"] for line in rejections} >= {"account", "order"}

    created = len(sandboxes.billing.resources("orders"))
    assert (
        _metric(
            metrics,
            "revbridge_records_total",
            flow="quote-to-cash",
            entity="order",
            system="billing",
            outcome="created",
        )
        == created
    )
    assert _metric(metrics, "revbridge_error_queue_entries", status="open") == len(rejections)
    assert _metric(metrics, "revbridge_runs_total", flow="quote-to-cash", status="partial") == 1
    assert _metric(metrics, "revbridge_run_duration_seconds_count", flow="quote-to-cash") == 1
    assert _metric(metrics, "revbridge_last_success_timestamp_seconds", flow="quote-to-cash") > 0
    assert _metric(metrics, "revbridge_salesforce_api_calls_remaining") > 0
    # The reconciliation's gauges, which the CLI wires into the service's registry.
    families = {family.name for family in text_string_to_metric_families(metrics)}
    assert {"revbridge_open_findings", "revbridge_amount_at_risk"} <= families
    assert health.status_code == 200
    assert ready.status_code == 200
    head = Store("sqlite://", migrate=False).head_revision()
    assert ready.json()["detail"] == f"store at revision {head}"
    assert behind.status_code == 503
    assert behind.json() == {"ready": False, "detail": f"store at revision 0002, expected {head}"}

    store = Store(database_url, migrate=False)  # left behind at 0002 on purpose
    with store.engine.connect() as connection:
        lease = load_lease(connection, "quote-to-cash")
    store.close()
    assert lease is not None
    assert lease.owner is None  # released on the way out


ORDERS_QUERY = "+FROM+Order+"  # the orders query, not its OrderItems subquery


def test_sigterm_mid_run_commits_the_page_in_hand_releases_the_lease_and_exits_zero(
    paged: tuple[Sandboxes, Path], database_url: str
) -> None:
    sandboxes, config = paged
    # The first query-more call after the orders query is the second page of orders: page
    # one is committed by then.
    query_more = f"/services/data/v{SalesforceSettings().api_version}/query/"
    gate = sandboxes.salesforce.server.hold_requests("GET", query_more, after=ORDERS_QUERY)
    serve = ServeProcess(config)
    try:
        assert gate.arrived.wait(timeout=60), "serve never asked for the second page"
        serve.process.send_signal(signal.SIGTERM)
        serve.wait_for(lambda line: "SIGTERM" in str(line["message"]))
        gate.release()
        exit_code = serve.process.wait(timeout=60)
    finally:
        gate.release()
        serve.close()

    assert exit_code == 0
    run = _run_line(serve)
    assert run["status"] == RunStatus.STOPPED.value
    store = Store(database_url)
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(runs.c.status, runs.c.message)).one()
        cursor = load_cursor(connection, "quote-to-cash", "salesforce", "order")
        lease = load_lease(connection, "quote-to-cash")
    store.close()
    assert stored.status == RunStatus.STOPPED.value
    assert cursor is not None  # the page in hand was committed before stopping
    assert lease is not None
    assert lease.owner is None
    assert 200 <= len(sandboxes.billing.resources("orders")) < 450


def test_a_failed_run_alerts_the_webhook_and_no_secret_is_logged_or_posted(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'revbridge.db'}"
    with Sandboxes(SMALL) as sandboxes, WebhookReceiver() as webhook:
        document = sandboxes.settings_document(database_url)
        secrets = [
            value
            for section in ("salesforce", "billing", "erp")
            for key, value in document[section].items()
            if key in {"password", "security_token", "client_secret", "api_key"}
            or key.endswith("_secret")
        ]
        hook_url = f"{webhook.url}/services/T0/B0/hook-token-3b7e"
        config = write_serve_config(
            tmp_path / "revbridge.yaml",
            sandboxes,
            database_url,
            alerts={"webhook_url": hook_url},
            billing={"base_url": "http://127.0.0.1:9", "api_key": sandboxes.billing.api_key},
        )
        serve = ServeProcess(config)
        try:
            run = _run_line(serve)
            assert webhook.posted.wait(timeout=30)
            assert serve.terminate() == 0
        finally:
            serve.close()

    assert run["status"] == RunStatus.FAILED.value
    (post,) = webhook.posts
    text = post["body"]["text"]
    assert f"run {run['run_id']} of flow `quote-to-cash` failed" in text
    assert f"revbridge errors list --status open --config {config}" in text
    assert len(secrets) >= 5
    everything = text + "".join(serve.raw)
    for secret in [*secrets, "hook-token-3b7e"]:
        assert secret not in everything
