"""``revbridge serve``: every flow on its schedule until SIGTERM, and the console on its port.

``serve`` exit codes: 0 stopped on SIGTERM/Ctrl-C after the runs in hand committed; 2 the
configuration, a flow's schedule or the mappings are invalid, or the store can't be opened.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from config.redaction import install_redaction
from config.settings import Settings
from sync.assurance.gauges import FindingsCollector
from sync.assurance.metrics_gauges import RevenueCollector
from sync.assurance.scheduled import scheduled_reconcile
from sync.cli.common import (
    DEFAULT_CONFIG,
    fail,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.console import console_app_for, quiet_server_loggers, warn_about_exposure
from sync.cli.events import event_publisher
from sync.cli.output import cap_logged_values
from sync.events.metrics import EventsCollector, PublishedCounts
from sync.service.logs import LogFormat, configure_logging
from sync.service.scheduler import InvalidSchedule, cron_trigger, reconcile_trigger
from sync.service.serve import ServeError, ServeOptions, serve, stop_on_signals


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve_command)


def _check_schedules(settings: Settings) -> None:
    for flow in settings.flows:
        try:
            if flow.schedule is not None:
                cron_trigger(flow)
            if flow.reconcile_cron is not None:
                reconcile_trigger(flow)
        except InvalidSchedule as error:
            raise fail(str(error)) from None


def serve_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = DEFAULT_CONFIG,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve /metrics, /healthz, /readyz and the console on this port "
            "(default: serve.metrics_port).",
        ),
    ] = None,
    run_now: Annotated[
        bool, typer.Option("--run-now", help="Also run every flow once at start.")
    ] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="human lines, or one JSON object a line.")
    ] = LogFormat.HUMAN,
) -> None:
    """Run each configured flow on its cron schedule until SIGTERM, one replica per flow run."""
    settings = settings_from(config)
    install_redaction(settings)
    _check_schedules(settings)
    configure_logging(log_format)
    cap_logged_values()
    for chatty in ("apscheduler", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    quiet_server_loggers()
    mapping_set = mappings_for(settings)
    open_store(settings.database_url).close()  # exit 2 now if the store can't be opened
    published = PublishedCounts()  # the drains count, /metrics reads
    options = ServeOptions(
        config_path=config,
        run_now=run_now,
        metrics_port=metrics_port if metrics_port is not None else settings.serve.metrics_port,
        mounted=console_app_for,
        collectors=lambda store: [
            FindingsCollector(store),
            RevenueCollector(store, settings.assurance),
            EventsCollector(store, settings.events, published),
        ],
        after_run=event_publisher(settings.events, published),
        reconcile=scheduled_reconcile(settings, mapping_set),
    )
    if options.metrics_port is not None:
        warn_about_exposure(settings.serve.metrics_host, settings)
    try:
        serve(settings, mapping_set, options, stop_on_signals())
    except ServeError as error:
        raise fail(str(error)) from None
