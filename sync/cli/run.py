"""``revbridge run``: one flow once, under the flow's lease, stoppable with Ctrl-C.

Exit codes: 0 the run finished (records it could not land are in the error queue); 1 the run
failed (a system was unreachable, refused the credentials, or is misconfigured), or another
process holds the flow's lease; 2 the configuration or the mappings are invalid, or the state
store can't be opened; 130 stopped by Ctrl-C or SIGTERM after the page in hand committed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from config.settings import Settings
from connectors.base import Connector
from connectors.errors import ConnectorError, TransientError
from mappings.mapping_set import MappingSet
from sync.cli.common import (
    DEFAULT_CONFIG,
    JsonOption,
    console,
    err_console,
    fail,
    flows_named,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.events import publish_after_run
from sync.cli.interrupt import EXIT_INTERRUPTED, stop_on_signals
from sync.cli.progress import entity_progress
from sync.cli.report import show_plan
from sync.cli.run_footer import run_report
from sync.engine.connections import open_connectors
from sync.engine.dry_run import plan_run
from sync.engine.factory import OpenConnectors, open_engine
from sync.engine.flows import Flow
from sync.engine.open_pages import PageCallback
from sync.engine.stats import RunSummary
from sync.service.flow_lease import FlowLease, replica_id
from sync.store import Store
from sync.store.database import StoreError
from sync.store.leases import load_lease
from sync.store.schema import RunStatus


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
    no_publish: Annotated[
        bool, typer.Option("--no-publish", help="Leave the run's change events in the outbox.")
    ] = False,
) -> None:
    """Run one flow once: changed records from its source to each of its targets."""
    settings = settings_from(config)
    mapping_set = mappings_for(settings)
    flow = flows_named(settings, flow_name, config)[0]
    if dry_run:
        plan_dry_run(settings, mapping_set, flow, samples, as_json)
        return
    with ExitStack() as stack:
        connectors = open_connectors_or_fail(stack, settings, flow.targets)
        on_page = stack.enter_context(entity_progress(console, flow.source, quiet=as_json))
        summary = _run_under_lease(settings, mapping_set, flow, connectors, on_page)
    show_summary(summary, f"run {summary.run_id} of {summary.flow}", as_json)
    if not no_publish:
        publish_after_run(settings.database_url, settings.events, quiet=as_json)
    if summary.status is RunStatus.FAILED:
        raise typer.Exit(1)
    if summary.status is RunStatus.STOPPED:
        raise typer.Exit(EXIT_INTERRUPTED)


def open_connectors_or_fail(
    stack: ExitStack, settings: Settings, targets: Sequence[str] = ()
) -> Mapping[str, Connector]:
    """The connectors, opened before the store so that a connection misconfigured (a
    ``ca_bundle`` that is not there) stops the command with nothing written; exit 1.

    Each of ``targets`` logs in once first: with nothing changed at the source a run sends a
    target no call at all, so wrong billing or ERP credentials would pass as "succeeded". Only
    a refusal or a misconfiguration stops the command here; a target that is down for now is
    left to the run, which fails (recorded, resumable) only if it has something to send.
    """
    try:
        connectors = stack.enter_context(open_connectors(settings))
    except ConnectorError as error:
        raise fail(f"{error}; nothing was run", 1) from None
    for system in targets:
        try:
            connectors[system].check()
        except TransientError as down:
            # Down for now, or a wrong host: said, and the run fails if it needs the target.
            warning = (
                f"warning: target {system} unreachable before the run: {down}; the run goes on"
            )
            err_console.print(Text(warning, style="yellow"))
            continue
        except ConnectorError as error:
            hint = "`revbridge check` shows each system; fix it, then run again"
            message = f"target {system} failed its login: {error}; nothing was run ({hint})"
            raise fail(message, 1) from None
    return connectors


def reuse(connectors: Mapping[str, Connector]) -> OpenConnectors:
    """An opener for :func:`open_engine` that hands over connectors already open."""
    return lambda _settings: nullcontext(connectors)


def _run_under_lease(
    settings: Settings,
    mapping_set: MappingSet,
    flow: Flow,
    connectors: Mapping[str, Connector],
    on_page: PageCallback,
) -> RunSummary:
    store = open_store(settings.database_url)
    # The same lease `serve` replicas take: a manual run never overlaps a scheduled one.
    lease = FlowLease(store, flow.name, replica_id(),
                      ttl=timedelta(seconds=settings.serve.lease_seconds),
                      heartbeat_seconds=settings.serve.heartbeat_seconds)  # fmt: skip
    if not (lease.acquire() or lease.acquire_from_dead_local_holder()):
        raise fail(f"flow {flow.name} is {lease_holder(store, flow.name)}; try again later", 1)
    lease.start_heartbeat()
    try:
        with (
            open_engine(
                settings, store, mapping_set, flow, on_page=on_page, connect=reuse(connectors)
            ) as engine,
            stop_on_signals(engine.request_stop),
        ):
            return engine.run()
    finally:
        lease.release()


def lease_holder(store: Store, flow: str) -> str:
    """Who holds ``flow``'s lease, from its owner ``host:pid:suffix``, for a refusal."""
    with store.engine.connect() as connection:
        lease = load_lease(connection, flow)
    if lease is None or lease.owner is None:
        return "running elsewhere"
    host, _, rest = lease.owner.partition(":")
    pid = rest.partition(":")[0]
    until = f" (lease until {lease.expires_at:%H:%M:%S} UTC)" if lease.expires_at else ""
    return f"held by a revbridge process on {host} pid {pid}{until}"


def show_summary(summary: RunSummary, title: str, as_json: bool) -> None:
    """The run's counts: one JSON object for scripts, the table for people."""
    if as_json:
        print(json.dumps({"run_id": summary.run_id, "status": summary.status.value,
                          "flow": summary.flow, "message": summary.message,
                          **summary.to_json()}))  # fmt: skip
    else:
        console.print(run_report(summary, title))


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
