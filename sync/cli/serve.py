"""``revbridge serve``, ``revbridge runs`` and ``revbridge status``.

``serve`` exit codes: 0 stopped on SIGTERM/Ctrl-C after the runs in hand committed; 2 the
configuration, a flow's schedule or the mappings are invalid, or the store can't be opened.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from config.redaction import install_redaction
from config.settings import Settings
from sync.cli.common import (
    DEFAULT_CONFIG,
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    database_url,
    fail,
    mappings_for,
    open_store,
    settings_from,
)
from sync.service.logs import LogFormat, configure_logging
from sync.service.scheduler import InvalidSchedule, cron_trigger
from sync.service.serve import ServeError, ServeOptions, serve, stop_on_signals
from sync.store.flow_status import FlowState, flow_states, known_flows, run_history, run_json
from sync.store.runs import RunRow
from sync.store.schema import utc_now


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve_command)
    app.command("runs")(runs_command)
    app.command("status")(status_command)


def _check_schedules(settings: Settings) -> None:
    for flow in settings.flows:
        if flow.schedule is not None:
            try:
                cron_trigger(flow)
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
            help="Serve /metrics, /healthz and /readyz on this port (default: serve.metrics_port).",
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
    for chatty in ("apscheduler", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    mapping_set = mappings_for(settings)
    open_store(settings.database_url).close()  # exit 2 now if the store can't be opened
    options = ServeOptions(
        config_path=config,
        run_now=run_now,
        metrics_port=metrics_port if metrics_port is not None else settings.serve.metrics_port,
    )
    try:
        serve(settings, mapping_set, options, stop_on_signals())
    except ServeError as error:
        raise fail(str(error)) from None


def runs_command(
    config: ConfigOption = None,
    database_url_option: DatabaseOption = None,
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent runs, newest first: status, duration, records written and rejected."""
    store = open_store(database_url(database_url_option, config))
    with store.engine.connect() as connection:
        history = run_history(connection, flow=flow, limit=limit)
    store.close()
    if as_json:
        for run in history:
            print(json.dumps(run_json(run), default=str))
        return
    console.print(_runs_table(history))
    for line in _run_messages(history):
        console.print(line, highlight=False, markup=False)


def status_command(
    config: ConfigOption = None,
    database_url_option: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Each flow's last run, lag since its last success, open errors and the replica running it."""
    configured = [flow.name for flow in settings_from(config).flows] if config else []
    store = open_store(database_url(database_url_option, config))
    with store.engine.connect() as connection:
        states = flow_states(connection, known_flows(connection, configured), utc_now())
    store.close()
    if as_json:
        print(json.dumps([state.to_json() for state in states]))
        return
    console.print(_status_table(states))
    for line in _lease_lines(states):
        console.print(line, highlight=False, markup=False)


def _runs_table(history: list[RunRow]) -> Table:
    table = Table(
        title="runs, newest first", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for column in ("run", "flow", "status", "started UTC"):
        table.add_column(column, no_wrap=True)
    for column in ("secs", "written", "rejected"):
        table.add_column(column, justify="right", no_wrap=True)
    for run in history:
        systems = run.stats.get("systems", {})
        written = sum(
            counts.get("created", 0) + counts.get("updated", 0)
            for name, counts in systems.items()
            if name != "canonical"
        )
        rejected = sum(counts.get("rejected", 0) for counts in systems.values())
        duration = run_json(run)["duration_seconds"]
        table.add_row(
            str(run.id),
            run.flow,
            run.status.value,
            run.started_at.strftime("%m-%d %H:%M"),
            f"{duration:.1f}" if duration is not None else "-",
            str(written),
            str(rejected),
        )
    return table


def _run_messages(history: list[RunRow]) -> list[str]:
    # Messages are long (a connector's error); under the table they stay whole and readable.
    return [f"run {run.id} ({run.status.value}): {run.message}" for run in history if run.message]


def _lag(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _status_table(states: list[FlowState]) -> Table:
    table = Table(title="flows", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("flow", "last run", "status", "finished UTC"):
        table.add_column(column, no_wrap=True)
    table.add_column("since success", no_wrap=True)
    table.add_column("open errors", justify="right")
    for state in states:
        last = state.last_run
        finished = last.finished_at if last is not None else None
        table.add_row(
            state.flow,
            str(last.id) if last is not None else "-",
            last.status.value if last is not None else "never ran",
            finished.strftime("%m-%d %H:%M") if finished is not None else "-",
            _lag(state.lag_seconds),
            str(state.open_errors),
        )
    return table


def _lease_lines(states: list[FlowState]) -> list[str]:
    return [
        f"{state.flow} is running on {state.lease_owner} (lease until "
        f"{state.lease_expires_at:%H:%M:%S} UTC unless renewed)"
        for state in states
        if state.lease_owner is not None and state.lease_expires_at is not None
    ]
