"""The ``revbridge`` command line.

Exit codes: 0 the run finished (records it could not land are in the error queue);
1 the run failed (a system was unreachable, refused the credentials, or is misconfigured);
2 the configuration or the mappings are invalid, or the state store can't be opened.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from config.settings import Settings
from mappings.errors import MappingConfigError
from mappings.mapping_set import MappingSet
from sync import cli_serve, cli_setup
from sync.cli_backfill import backfill
from sync.cli_common import (
    DEFAULT_CONFIG,
    DEFAULT_DATABASE_URL,
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
from sync.cli_conflicts import conflicts_app
from sync.cli_errors import errors_app
from sync.cli_mappings import mappings_app
from sync.connections import open_connectors
from sync.demo import DEMO_DATABASE, run_demo
from sync.dry_run import DryRun
from sync.engine import SyncEngine
from sync.flows import Flow, flows_from_settings
from sync.leases import FlowLease, replica_id
from sync.logs import LogFormat, configure_logging
from sync.report import dry_run_tables, run_table, sandbox_table
from sync.sandboxes import Sandboxes, SandboxSize, wait_for_interrupt, write_sandbox_config
from sync.store import Store
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
        with open_connectors(settings) as connectors:
            engine = SyncEngine(
                store,
                mapping_set,
                connectors,
                flow,
                page_size=settings.salesforce.page_size,
                conflicts=settings.conflicts,
            )
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
    store = Store(settings.database_url, migrate=False)
    if store.current_revision() != store.head_revision():
        raise fail(f"{store.display_url} is not migrated; run `revbridge db upgrade` first")
    with open_connectors(settings) as connectors:
        plan = DryRun(
            store, mapping_set, connectors, flow, page_size=settings.salesforce.page_size
        ).plan()
    if as_json:
        print(json.dumps({"writes": [asdict(w) for w in plan.writes], "held": plan.held,
                          "read": plan.read, "deletes": [asdict(d) for d in plan.deletes]},
                         default=str))  # fmt: skip
        return
    console.print(dry_run_tables(plan, samples))


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Apply pending migrations to the state store."""
    store = open_store(database_url(database, config))
    console.print(f"{store.display_url} is at revision {store.current_revision()}")


@app.command()
def demo(
    database: Annotated[
        Path, typer.Option(help="SQLite file for the demo's state (replaced on each demo).")
    ] = DEMO_DATABASE,
    accounts: Annotated[int, typer.Option(min=1, help="Seeded Salesforce accounts.")] = 50,
    orders: Annotated[int, typer.Option(min=1, help="Seeded Salesforce orders.")] = 500,
) -> None:
    """Seed the sandboxes, sync, change a few Salesforce records, sync again, then receivables."""
    try:
        result = run_demo(database, SandboxSize(accounts=accounts, orders=orders))
    except MappingConfigError as error:
        raise fail(str(error)) from None
    console.print(run_table(result.first, "run 1: initial sync"))
    console.print("\nBetween the runs, a sales-ops user edited in Salesforce:")
    for change in result.changes:
        console.print(f"  {change.object_name} {change.record_id}: {change.description}")
    console.print(run_table(result.second, "run 2: only what changed"))
    if result.receivables is not None:
        paid = sum(1 for billed in result.billed if billed.payment)
        console.print(
            f"\nThen finance invoiced {len(result.billed)} orders in the ERP and recorded "
            f"{paid} payments."
        )
        console.print(run_table(result.receivables, "run 3: receivables, ERP to Salesforce"))
    console.print(
        f"\nState kept in {database}. Inspect the error queue with:\n"
        f"  revbridge errors list --database-url {result.database_url}"
    )
    runs = (result.first, result.second, result.receivables)
    if any(run is not None and run.status is RunStatus.FAILED for run in runs):
        raise typer.Exit(1)


@app.command()
def sandbox(
    config_out: Annotated[
        Path, typer.Option("--config-out", help="Where to write a config for these sandboxes.")
    ] = Path("revbridge.sandbox.yaml"),
    database_url: Annotated[
        str, typer.Option("--database-url", help="State store URL written into the config.")
    ] = DEFAULT_DATABASE_URL,
    accounts: Annotated[int, typer.Option(min=1, help="Seeded Salesforce accounts.")] = 50,
    orders: Annotated[int, typer.Option(min=1, help="Seeded Salesforce orders.")] = 500,
) -> None:
    """Serve the Salesforce, billing and ERP sandboxes in the foreground until Ctrl-C."""
    with Sandboxes(SandboxSize(accounts=accounts, orders=orders)) as sandboxes:
        document = sandboxes.settings_document(database_url)
        write_sandbox_config(config_out, document)
        console.print(sandbox_table(sandboxes, document))
        console.print(
            f"Wrote {config_out} (sandbox credentials only). Sync with:\n"
            f"  revbridge run --config {config_out}\nPress Ctrl-C to stop."
        )
        wait_for_interrupt()


if __name__ == "__main__":
    app()
