"""`revbridge serve`: wire the store, scheduler, runner, metrics endpoint and alerts, then wait.

The metrics port serves the console too when the CLI mounts it (``ServeOptions.mounted``).
With the Stripe profile and ``billing.webhook_secrets`` set, it also takes Stripe's
webhooks (:mod:`sync.service.webhooks`): each verified event runs the flows whose source is
billing at once, besides their schedule.

SIGTERM (or Ctrl-C) sets one event; the main thread then asks each running engine to stop
after its current page, waits for the runs to commit and release their leases, and returns.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from prometheus_client.registry import Collector
from starlette.types import ASGIApp

from config.redaction import secret_values
from config.settings import Settings
from mappings.mapping_set import MappingSet
from sync.engine.connections import open_connectors
from sync.engine.flows import flows_from_settings
from sync.service.alerts import AlertSender
from sync.service.flow_lease import replica_id
from sync.service.flow_runner import FlowRunner, ServeContext
from sync.service.health import StatusServer
from sync.service.http_server import HttpLimits, bind_problem
from sync.service.leased_job import LeasedJob, StoreJob
from sync.service.metrics import ServeMetrics
from sync.service.scheduler import FlowScheduler
from sync.service.webhooks import RunTrigger, StripeSignatureVerifier, StripeWebhookEndpoint
from sync.store import Store

log = logging.getLogger("revbridge.serve")

# Builds an app to serve beside the endpoints (the console) over serve's own store; the CLI
# hands it in, so the service never imports the console.
MountedApp = Callable[[Store, Settings], ASGIApp]


@dataclass(frozen=True)
class ServeOptions:
    """How this `serve` process runs."""

    config_path: Path | None = None
    run_now: bool = False
    metrics_port: int | None = None  # None: no HTTP endpoint; 0: any free port
    mounted: MountedApp | None = None  # answers every path the endpoints don't
    # More gauges for /metrics, built over the store (the CLI wires the findings' in: the
    # service knows nothing of reconciliation).
    collectors: Callable[[Store], Sequence[Collector]] | None = None
    # Called after each run of a flow, such as the change events' publisher (the CLI wires it).
    after_run: Callable[[Store], None] | None = None
    # A flow's scheduled reconcile (flows.<f>.reconcile_cron), run under the flow's lease.
    reconcile: StoreJob | None = None


class ServeError(Exception):
    """`serve` can't start; the message says why."""


def _status_server(
    settings: Settings,
    options: ServeOptions,
    store: Store,
    metrics: ServeMetrics,
    trigger: RunTrigger | None = None,
) -> StatusServer | None:
    if options.metrics_port is None:
        return None
    mounted = options.mounted(store, settings) if options.mounted is not None else None
    server = StatusServer(
        settings.serve.metrics_host,
        options.metrics_port,
        store,
        metrics,
        webhooks=_stripe_webhooks(settings, trigger),
        mounted=mounted,
        limits=HttpLimits.from_settings(settings.serve),
    )
    return server.start()


def _webhook_trigger(settings: Settings, options: ServeOptions) -> RunTrigger | None:
    """The runs Stripe's webhooks start, where the configuration asks for webhooks."""
    billing = settings.billing
    if billing.profile != "stripe" or not billing.webhook_secrets:
        return None
    if options.metrics_port is None:
        log.warning("billing.webhook_secrets is set but serve has no HTTP port: no webhooks")
        return None
    flows = [flow.name for flow in settings.flows if flow.source == "billing"]
    if not flows:
        log.warning("Stripe webhooks are accepted, but no flow reads billing: they start nothing")
    return RunTrigger(flows)


def _stripe_webhooks(
    settings: Settings, trigger: RunTrigger | None
) -> StripeWebhookEndpoint | None:
    if trigger is None:
        return None
    billing = settings.billing
    verifier = StripeSignatureVerifier(billing.webhook_secrets, billing.webhook_tolerance_seconds)
    return StripeWebhookEndpoint(verifier, trigger)


def _serve_context(
    settings: Settings,
    mapping_set: MappingSet,
    options: ServeOptions,
    store: Store,
    metrics: ServeMetrics,
) -> ServeContext:
    return ServeContext(
        settings=settings,
        store=store,
        mapping_set=mapping_set,
        flows=flows_from_settings(settings),
        owner=replica_id(),
        metrics=metrics,
        alerts=AlertSender(
            settings.alerts, secrets=secret_values(settings), config_path=options.config_path
        ),
        open_connectors=open_connectors,
        config_path=options.config_path,
        after_run=options.after_run,
    )


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (call from the main thread)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping after the current page", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop


def serve(
    settings: Settings,
    mapping_set: MappingSet,
    options: ServeOptions,
    stop: threading.Event,
) -> None:
    """Run every flow on its schedule until ``stop`` is set, then wind down cleanly."""
    store = Store(settings.database_url)
    metrics = ServeMetrics(store)
    for collector in options.collectors(store) if options.collectors else ():
        metrics.registry.register(collector)
    trigger = _webhook_trigger(settings, options)
    try:
        server = _status_server(settings, options, store, metrics, trigger)
    except OSError as error:
        store.close()
        host, port = settings.serve.metrics_host, options.metrics_port
        raise ServeError(f"cannot listen on {host}:{port}: {bind_problem(error)}") from None
    context = _serve_context(settings, mapping_set, options, store, metrics)
    alerts = context.alerts
    runner = FlowRunner(context)
    reconcile = LeasedJob(context, options.reconcile, "reconcile") if options.reconcile else None
    scheduler = FlowScheduler(runner, settings.flows, reconcile=reconcile)
    try:
        if trigger is not None:
            trigger.start(runner.run)
        scheduler.start(run_now=options.run_now)
        log.info(
            "serve started as replica %s with %d flow(s)",
            context.owner,
            len(context.flows),
            extra={"replica": context.owner},
        )
        # A timed wait: the signal handler runs between waits even where a blocked wait would
        # not be interrupted.
        while not stop.wait(1.0):
            pass
        runner.request_stop()
        scheduler.shutdown()
    finally:
        if server is not None:
            server.stop()
        if trigger is not None:
            runner.request_stop()  # a run a webhook started stops after its page
            trigger.stop()
        alerts.close()
        store.close()
    log.info("serve stopped; leases released", extra={"replica": context.owner})
