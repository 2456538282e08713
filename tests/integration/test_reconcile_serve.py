"""`serve` reconciles each flow on its ``reconcile_cron``, under the flow's lease, on both
databases: findings recorded, gauges showing them, a busy flow skipped, a failing target one
log line with nothing recorded, and a wrong cron refused at start."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from typer.testing import CliRunner

from config.settings import FlowSettings, Settings
from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from sandboxes.discrepancies import edit_billing_object
from sync.assurance.gauges import FindingsCollector
from sync.assurance.scheduled import scheduled_reconcile
from sync.cli import serve as serve_cli
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import QUOTE_TO_CASH, flows_from_settings
from sync.service.alerts import AlertSender
from sync.service.flow_lease import FlowLease
from sync.service.flow_runner import FlowRunner, ServeContext
from sync.service.leased_job import LeasedJob
from sync.service.metrics import ServeMetrics
from sync.service.scheduler import FlowScheduler
from sync.service.serve import ServeOptions
from sync.store import Store
from sync.store.findings import open_findings
from sync.store.leases import load_lease
from tests.integration.cpq_harness import cpq_sandboxes, run_flow
from tests.serve_harness import NEVER, wait_until, write_serve_config

SIZE = SandboxSize(accounts=3, orders=6, products=3, invalid_records=False, page_size=200)
FLOW = QUOTE_TO_CASH.name
runner = CliRunner()


@dataclass
class Service:
    sandboxes: Sandboxes
    store: Store
    settings: Settings
    mappings: MappingSet
    context: ServeContext

    def job(self) -> LeasedJob:
        return LeasedJob(self.context, scheduled_reconcile(self.settings, self.mappings), "rec")

    def kinds(self) -> list[str]:
        with self.store.engine.connect() as connection:
            return sorted(str(f.finding.kind) for f in open_findings(connection))


@pytest.fixture
def service(store: Store) -> Iterator[Service]:
    with cpq_sandboxes(SIZE) as sandboxes:
        mappings = load_mapping_set()
        run_flow(sandboxes, store, mappings, QUOTE_TO_CASH, page_size=SIZE.page_size)
        document = sandboxes.settings_document(store.url)
        document["flows"] = [{"name": FLOW, "schedule": NEVER, "reconcile_cron": "0 4 * * *"}]
        document["serve"] = {"lease_seconds": 5.0, "heartbeat_seconds": 0.5}
        document["retry"] = {"attempts": 2, "max_wait_seconds": 0.2}
        settings = Settings.model_validate(document)
        context = ServeContext(
            settings=settings,
            store=store,
            mapping_set=mappings,
            flows=flows_from_settings(settings),
            owner="test-replica",
            metrics=ServeMetrics(store),
            alerts=AlertSender(settings.alerts),
            open_connectors=open_connectors,
        )
        yield Service(sandboxes, store, settings, mappings, context)
        context.alerts.close()


def _gauge(collector: FindingsCollector, kind: str) -> float:
    (counts, _amounts) = list(collector.collect())
    return next(s.value for s in counts.samples if s.labels == {"kind": kind})


def test_the_scheduler_fires_the_reconcile_and_the_gauges_show_its_findings(
    service: Service,
) -> None:
    billing = service.sandboxes.billing
    order = billing.resources("orders")[0]
    edit_billing_object(billing, "orders", order["external_id"], {"total": "1.00"})
    collector = FindingsCollector(service.store)
    assert _gauge(collector, "amount_mismatch") == 0

    scheduler = FlowScheduler(
        FlowRunner(service.context), service.settings.flows, reconcile=service.job()
    )
    scheduler.start()
    try:
        job = scheduler.reconcile_job(FLOW)
        assert job is not None
        assert isinstance(job.trigger, CronTrigger)
        assert (str(job.trigger.timezone), job.next_run_time.hour) == ("UTC", 4)
        assert job.max_instances == 1
        job.modify(next_run_time=datetime.now(UTC))  # the cron's next firing, brought forward
        wait_until(lambda: "amount_mismatch" in service.kinds(), what="the reconcile's findings")
    finally:
        scheduler.shutdown()
    assert _gauge(collector, "amount_mismatch") == 1
    assert _gauge(collector, "unbilled") == service.kinds().count("unbilled") > 0
    with service.store.engine.connect() as connection:
        lease = load_lease(connection, FLOW)
    assert lease is not None
    assert lease.owner is None  # given back when the reconcile ended


def test_a_flow_busy_with_a_run_elsewhere_skips_the_reconcile(service: Service) -> None:
    other = FlowLease(
        service.store, FLOW, "other-replica", ttl=timedelta(seconds=60), heartbeat_seconds=10
    )
    assert other.acquire()
    try:
        assert service.job()(FLOW) is False
        assert service.kinds() == []
    finally:
        other.release()
    assert service.job()(FLOW) is True
    assert "unbilled" in service.kinds()


def test_a_failing_target_is_one_log_line_and_nothing_recorded(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    service.sandboxes.billing.inject_rate(1.0, 503)
    with caplog.at_level(logging.INFO, logger="revbridge.assurance"):
        assert service.job()(FLOW) is True
    service.sandboxes.billing.clear_faults()
    failed = [r for r in caplog.records if r.name == "revbridge.assurance"]
    assert len(failed) == 1
    assert failed[0].levelno == logging.ERROR
    assert "nothing recorded" in failed[0].getMessage()
    assert service.kinds() == []


def test_a_stopping_service_starts_no_reconcile(service: Service) -> None:
    service.context.stopping.set()
    assert service.job()(FLOW) is False
    assert service.kinds() == []


@pytest.mark.parametrize("cron", ["61 * * * *", "every day", "* * * *"])
def test_a_wrong_reconcile_cron_stops_serve_at_start_with_one_line(
    tmp_path: Path, cron: str
) -> None:
    with Sandboxes(SIZE) as sandboxes:
        config = write_serve_config(
            tmp_path / "revbridge.yaml",
            sandboxes,
            f"sqlite:///{tmp_path / 'rb.db'}",
            flows=[{"name": FLOW, "schedule": NEVER, "reconcile_cron": cron}],
        )
        result = runner.invoke(app, ["serve", "-c", str(config)])
    assert result.exit_code == 2
    assert f"flow {FLOW}: reconcile_cron" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_flows_without_a_reconcile_cron_get_no_reconcile_job() -> None:
    fake: object = object()
    scheduler = FlowScheduler(
        fake,  # type: ignore[arg-type]  # no run is scheduled: the runner is never called
        [FlowSettings(name="a"), FlowSettings(name="b", reconcile_cron="*/10 * * * *")],
        reconcile=lambda _name: None,
    )
    scheduler.start()
    try:
        assert scheduler.reconcile_job("a") is None
        job = scheduler.reconcile_job("b")
        assert job is not None
        assert job.next_run_time.minute % 10 == 0
    finally:
        scheduler.shutdown()


def test_the_serve_command_wires_the_reconcile_into_serve(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[ServeOptions] = []
    monkeypatch.setattr(serve_cli, "serve", lambda _s, _m, options, _stop: handed.append(options))
    config = write_serve_config(
        tmp_path / "revbridge.yaml",
        service.sandboxes,
        service.store.url,
        flows=[{"name": FLOW, "schedule": NEVER, "reconcile_cron": "0 4 * * *"}],
    )
    result = runner.invoke(app, ["serve", "-c", str(config)])
    assert result.exit_code == 0, result.output
    (options,) = handed
    assert options.reconcile is not None
    options.reconcile(service.store, FLOW)
    assert "unbilled" in service.kinds()
