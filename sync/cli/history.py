"""``revbridge runs``, ``revbridge runs show RUN_ID`` and ``revbridge status``: read the store.

These commands only read: they never create a store (no store yet is an error, exit 2) and
never migrate one that is not there. Exit codes: 0 shown; 1 ``runs show`` names no run; 2 the
configuration is invalid, or the store can't be opened or does not exist yet.
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from sync.cli.common import (
    ConfigOption,
    DatabaseOption,
    JsonOption,
    console,
    database_url,
    fail,
    open_store,
    settings_from,
)
from sync.cli.output import FormatOption, ListFormat, list_format, plain, print_rows
from sync.cli.report import error_table
from sync.cli.run_footer import run_report
from sync.engine.stats import CANONICAL, RunSummary, SystemCounts
from sync.store.error_queue import ErrorFilter, list_errors
from sync.store.flow_status import FlowState, flow_states, known_flows, run_history, run_json
from sync.store.runs import RunRow, find_run
from sync.store.schema import utc_now

runs_app = typer.Typer(
    help="Recent runs, newest first; `runs show RUN_ID` for one run in full.",
    invoke_without_command=True,
)

_RUN_COLUMNS = ("run_id", "flow", "status", "started_at", "finished_at", "duration_seconds",
                "written", "rejected", "message")  # fmt: skip
_STATUS_COLUMNS = ("flow", "last_run_id", "status", "finished_at", "lag_seconds",
                   "open_errors", "lease_owner")  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``runs`` and ``status`` to ``app``."""
    app.add_typer(runs_app, name="runs")
    app.command("status")(status_command)


@runs_app.callback()
def runs_list(
    context: typer.Context,
    config: ConfigOption = None,
    database_url_option: DatabaseOption = None,
    flow: Annotated[str | None, typer.Option(help="Only runs of this flow.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 20,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """List recent runs, newest first: status, duration, records written and rejected."""
    if context.invoked_subcommand is not None:
        return
    store = open_store(database_url(database_url_option, config), read_only=True)
    with store.engine.connect() as connection:
        history = run_history(connection, flow=flow, limit=limit)
    store.close()
    shown = list_format(output_format, as_json)
    if shown is ListFormat.JSON:
        print_rows([run_json(run) for run in history], _RUN_COLUMNS, shown)
        return
    if shown is ListFormat.CSV:
        print_rows([_run_line(run) for run in history], _RUN_COLUMNS, shown)
        return
    console.print(_runs_table(history))
    for line in _run_messages(history):
        console.print(Text(line))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="Run id (from `revbridge runs`).")],
    config: ConfigOption = None,
    database_url_option: DatabaseOption = None,
    as_json: JsonOption = False,
) -> None:
    """One past run: its per-entity table, API calls, message and the errors it queued."""
    store = open_store(database_url(database_url_option, config), read_only=True)
    with store.engine.connect() as connection:
        run = find_run(connection, run_id)
        errors = list_errors(connection, where=ErrorFilter(run_id=run_id), limit=50)
    store.close()
    if run is None:
        raise fail(f"no run {run_id} in the store; `revbridge runs` lists them", code=1)
    if as_json:
        print(json.dumps(run_json(run), default=str))
        return
    started = f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC"
    console.print(run_report(_summary(run), f"run {run.id} of {run.flow}, started {started}"))
    if errors:
        console.print(error_table(errors))


def status_command(
    config: ConfigOption = None,
    database_url_option: DatabaseOption = None,
    as_json: JsonOption = False,
    output_format: FormatOption = None,
) -> None:
    """Each flow's last run, lag since its last success, open errors and the replica running it."""
    configured = [flow.name for flow in settings_from(config).flows] if config else []
    store = open_store(database_url(database_url_option, config), read_only=True)
    with store.engine.connect() as connection:
        states = flow_states(connection, known_flows(connection, configured), utc_now())
    store.close()
    shown = list_format(output_format, as_json)
    if shown is ListFormat.JSON and output_format is None:
        print(json.dumps([state.to_json() for state in states]))  # --json: one array, as ever
        return
    if shown is not ListFormat.TABLE:
        print_rows([_status_line(state) for state in states], _STATUS_COLUMNS, shown)
        return
    console.print(_status_table(states))
    for line in _lease_lines(states):
        console.print(Text(line))


def _summary(run: RunRow) -> RunSummary:
    """A stored run's counts in the shape the run table reads."""
    stats = run.stats
    names = {counter.name for counter in fields(SystemCounts)}
    by_entity = {
        entity: {
            system: SystemCounts(**{k: v for k, v in counts.items() if k in names})
            for system, counts in per_system.items()
        }
        for entity, per_system in stats.get("entities", {}).items()
    }
    return RunSummary(
        run_id=run.id, flow=run.flow, status=run.status, by_entity=by_entity,
        api_calls=dict(stats.get("api_calls", {})),
        duration_seconds=float(stats.get("duration_seconds", 0.0)),
        pages=int(stats.get("pages", 0)),
        error_queue_active=int(stats.get("error_queue_active", 0)), message=run.message,
    )  # fmt: skip


def _written_and_rejected(run: RunRow) -> tuple[int, int]:
    systems: dict[str, dict[str, int]] = run.stats.get("systems", {})
    written = sum(
        counts.get("created", 0) + counts.get("updated", 0) + counts.get("deleted", 0)
        for name, counts in systems.items()
        if name != CANONICAL
    )
    return written, sum(counts.get("rejected", 0) for counts in systems.values())


def _run_line(run: RunRow) -> dict[str, Any]:
    written, rejected = _written_and_rejected(run)
    line = run_json(run)
    return {**{column: line.get(column) for column in _RUN_COLUMNS},
            "written": written, "rejected": rejected}  # fmt: skip


def _runs_table(history: list[RunRow]) -> Table:
    table = Table(
        title="runs, newest first", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    for column in ("run", "flow", "status", "started UTC"):
        table.add_column(column, no_wrap=True)
    for column in ("secs", "written", "rejected"):
        table.add_column(column, justify="right", no_wrap=True)
    for run in history:
        written, rejected = _written_and_rejected(run)
        duration = run_json(run)["duration_seconds"]
        table.add_row(
            *plain(
                run.id,
                run.flow,
                run.status.value,
                run.started_at.strftime("%m-%d %H:%M"),
                f"{duration:.1f}" if duration is not None else "-",
                written,
                rejected,
            )
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


def _status_line(state: FlowState) -> dict[str, Any]:
    last = state.last_run
    return {
        "flow": state.flow,
        "last_run_id": last.id if last is not None else None,
        "status": last.status.value if last is not None else "never ran",
        "finished_at": last.finished_at.isoformat() if last and last.finished_at else None,
        "lag_seconds": state.lag_seconds,
        "open_errors": state.open_errors,
        "lease_owner": state.lease_owner,
    }


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
            *plain(
                state.flow,
                last.id if last is not None else "-",
                last.status.value if last is not None else "never ran",
                finished.strftime("%m-%d %H:%M") if finished is not None else "-",
                _lag(state.lag_seconds),
                state.open_errors,
            )
        )
    return table


def _lease_lines(states: list[FlowState]) -> list[str]:
    return [
        f"{state.flow} is running on {state.lease_owner} (lease until "
        f"{state.lease_expires_at:%H:%M:%S} UTC unless renewed)"
        for state in states
        if state.lease_owner is not None and state.lease_expires_at is not None
    ]
