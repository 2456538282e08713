"""The ``revbridge`` command line.

Exit codes: 0 the run finished (records it could not land are in the error queue);
1 the run failed (a system was unreachable, refused the credentials, or is misconfigured);
2 the configuration or the mappings are invalid, or the state store can't be opened.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from mappings.mapping_set import MappingSet
from sync.cli import sandbox_commands
from sync.cli import serve as cli_serve
from sync.cli import setup as cli_setup
from sync.cli.backfill import backfill
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
from sync.cli.conflicts import conflicts_app
from sync.cli.error_queue import errors_app
from sync.cli.mappings import mappings_app
from sync.cli.report import run_table, show_plan
from sync.engine.dry_run import plan_run
from sync.engine.factory import open_engine
from sync.engine.flows import Flow, flows_from_settings
from sync.service.flow_lease import FlowLease, replica_id
from sync.service.logs import LogFormat, configure_logging
from sync.store.database import StoreError
from sync.store.schema import RunStatus

app = typer.Typer(
    name="revbridge",
    help="Salesforce CPQ -> billing -> ERP sync: capture each record once, keep the rest in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Manage the state store.", no_args_is_help=True)
app.add_typer(errors_app, name="errors")
app.add_typer(db_app, name="db")
app.add_typer(mappings_app, name="mappings")
app.add_typer(conflicts_app, name="conflicts")
app.command()(backfill)
cli_setup.register(app)
cli_serve.register(app)
sandbox_commands.register(app)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each rejection.")] = False,
    log_format: Annotated[
        LogFormat, typer.Option("--log-format", help="human, or json for log shippers.")
    ] = LogFormat.HUMAN,
) -> None:
    """Configure logging for every command (secrets masked, run context on every line)."""
    configure_logging(log_format, level=logging.INFO if verbose else logging.ERROR)


@app.command()
def run(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = DEFAULT_CONFIG,
    flow_name: Annotated[
        str | None, typer.Option("--flow", help="Flow to run (default: the first configured).")
    ] = None,
    as_json: JsonOption = False,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show planned creates, updates and deletes; write nothing."),
    ] = False,
    samples: Annotated[int, typer.Option(min=0, help="Dry run: diffs shown per entity.")] = 5,
) -> None:
    """Run one flow once: changed records from its source to each of its targets."""
    settings = settings_from(config)
    mapping_set = mappings_for(settings)
    flows = flows_from_settings(settings)
    if flow_name is not None and flow_name not in flows:
        raise fail(f"no flow {flow_name!r} in {config}; configured: {', '.join(flows)}")
    flow = flows[flow_name] if flow_name else next(iter(flows.values()))
    if dry_run:
        plan_dry_run(settings, mapping_set, flow, samples, as_json)
        return
    store = open_store(settings.database_url)
    # The same lease `serve` replicas take: a manual run never overlaps a scheduled one.
    lease = FlowLease(store, flow.name, replica_id(),
                      ttl=timedelta(seconds=settings.serve.lease_seconds),
                      heartbeat_seconds=settings.serve.heartbeat_seconds)  # fmt: skip
    if not (lease.acquire() or lease.acquire_from_dead_local_holder()):
        raise fail(f"flow {flow.name} is running elsewhere (a serve replica); try again later", 1)
    lease.start_heartbeat()
    try:
        with open_engine(settings, store, mapping_set, flow) as engine:
            summary = engine.run()
    finally:
        lease.release()
    if as_json:
        print(json.dumps({"run_id": summary.run_id, "status": summary.status.value,
                          "message": summary.message, **summary.to_json()}))  # fmt: skip
    else:
        console.print(run_table(summary, f"run {summary.run_id} of {summary.flow}"))
    if summary.status is RunStatus.FAILED:
        raise typer.Exit(1)


def plan_dry_run(
    settings: Settings, mapping_set: MappingSet, flow: Flow, samples: int, as_json: bool
) -> None:
    """Print what a run of ``flow`` would write, without writing to the store or any system."""
    try:
        plan = plan_run(settings, mapping_set, flow)
    except StoreError as error:
        raise fail(str(error)) from None
    show_plan(plan, samples, as_json)
    if plan.status is RunStatus.FAILED:
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Apply pending migrations to the state store."""
    store = open_store(database_url(database, config))
    console.print(f"{store.display_url} is at revision {store.current_revision()}")


if __name__ == "__main__":
    app()
