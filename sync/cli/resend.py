"""``revbridge resend``: write what the store holds to one target again, resumably.

Exit codes as ``run``: 0 finished (records that could not land are in the error queue);
1 a system failed (resume with ``--resume RUN_ID``), or another process holds the lease of
the resend or of a flow it re-sends; 2 invalid options, configuration or store; 130 stopped
by Ctrl-C or SIGTERM after the batch in hand committed (resumable too).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from config.settings import Settings
from connectors.base import Connector
from sync.cli.backfill import TransferSpeedlessRate
from sync.cli.common import (
    DEFAULT_CONFIG,
    JsonOption,
    console,
    err_console,
    fail,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.interrupt import EXIT_INTERRUPTED, stop_on_signals
from sync.cli.run import lease_holder, open_connectors_or_fail, reuse, show_summary
from sync.engine.backfill import BackfillWindowInvalid, parse_moment
from sync.engine.flows import flows_from_settings
from sync.engine.resend import (
    BatchCallback,
    ResendInvalid,
    ResendScope,
    open_resender,
    plan_resend,
    resend_scope,
)
from sync.engine.stats import CANONICAL, RunSummary
from sync.service.flow_lease import FlowLease, replica_id
from sync.store import Store
from sync.store.schema import RunStatus


def resend(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = DEFAULT_CONFIG,
    target: Annotated[
        str, typer.Option("--target", help="The system to write to: billing, erp or salesforce.")
    ] = "",
    flow_name: Annotated[
        str | None, typer.Option("--flow", help="Only the records of this flow.")
    ] = None,
    entities: Annotated[
        list[str] | None, typer.Option("--entity", help="Only this entity (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only records their source changed since this date.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be sent; write nothing.")
    ] = False,
    resume: Annotated[
        int | None, typer.Option(help="Continue this resend run after what it committed.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-send every stored record to one target (restored or new), parents first.

    Each record is upserted by its external id even when revbridge wrote the same payload
    before; no source cursor moves.
    """
    if not target:
        raise fail("--target is required (billing, erp or salesforce)")
    settings = settings_from(config)
    try:
        scope = resend_scope(
            mappings_for(settings), flows_from_settings(settings), target, flow=flow_name,
            entities=entities or (), since=parse_moment(since) if since else None,
        )  # fmt: skip
    except (ResendInvalid, BackfillWindowInvalid) as error:
        raise fail(str(error)) from None
    store = open_store(settings.database_url)
    try:
        planned = plan_resend(store, scope, resume)
    except ResendInvalid as error:
        raise fail(str(error)) from None
    if dry_run:
        _show_plan(scope, planned, as_json)
        return
    with ExitStack() as stack:
        connectors = open_connectors_or_fail(stack, settings)
        stack.enter_context(_leases(store, settings, (scope.flow_name, *scope.flows)))
        summary = _run(settings, store, scope, connectors, planned, resume, not as_json)
    show_summary(summary, f"resend run {summary.run_id} ({summary.flow})", as_json)
    hint = f"resume with: {_command(config, scope, flow_name, entities)} --resume {summary.run_id}"
    if summary.status in (RunStatus.FAILED, RunStatus.STOPPED):
        err_console.print(hint, highlight=False, markup=False)
        raise typer.Exit(1 if summary.status is RunStatus.FAILED else EXIT_INTERRUPTED)


def _run(
    settings: Settings,
    store: Store,
    scope: ResendScope,
    connectors: Mapping[str, Connector],
    planned: dict[str, int],
    resume: int | None,
    show_progress: bool,
) -> RunSummary:
    columns = (TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(),
               TransferSpeedlessRate(), TimeElapsedColumn(), TimeRemainingColumn())  # fmt: skip
    progress = Progress(*columns, console=console, transient=False) if show_progress else None
    with progress or nullcontext():
        on_batch = _progress_callback(progress, planned) if progress else None
        with (
            open_resender(
                settings, store, scope, on_batch=on_batch, connect=reuse(connectors)
            ) as resender,
            stop_on_signals(resender.request_stop),
        ):
            return resender.run(resume)


def _progress_callback(progress: Progress, planned: dict[str, int]) -> BatchCallback:
    tasks: dict[str, TaskID] = {
        entity: progress.add_task(entity, total=total) for entity, total in planned.items()
    }

    def on_batch(entity: str, summary: RunSummary) -> None:
        progress.update(tasks[entity], completed=summary.counts(entity, CANONICAL).read)

    return on_batch


@contextmanager
def _leases(store: Store, settings: Settings, names: Sequence[str]) -> Iterator[None]:
    """The leases of the resend and of the flows it re-sends: no run of them overlaps it."""
    owner = replica_id()
    with ExitStack() as held:
        for name in names:
            lease = FlowLease(store, name, owner,
                              ttl=timedelta(seconds=settings.serve.lease_seconds),
                              heartbeat_seconds=settings.serve.heartbeat_seconds)  # fmt: skip
            if not (lease.acquire() or lease.acquire_from_dead_local_holder()):
                raise fail(f"flow {name} is {lease_holder(store, name)}; try again later", 1)
            held.callback(lease.release)
            lease.start_heartbeat()
        yield


def _show_plan(scope: ResendScope, planned: dict[str, int], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"dry_run": True, "target": scope.target, "entities": planned,
                          "total": sum(planned.values())}))  # fmt: skip
        return
    table = Table(
        title=f"resend to {scope.target}: records to send (dry run)",
        title_justify="left",
        caption="nothing was written",
        caption_justify="left",
    )
    table.add_column("entity")
    table.add_column("records", justify="right")
    for entity, count in planned.items():
        table.add_row(entity, str(count))
    table.add_row("total", str(sum(planned.values())), style="bold")
    console.print(table)


def _command(
    config: Path, scope: ResendScope, flow_name: str | None, entities: list[str] | None
) -> str:
    """This resend as a command line, for the resume hint."""
    parts = ["revbridge", "resend", "-c", str(config), "--target", scope.target]
    if flow_name:
        parts += ["--flow", flow_name]
    for entity in entities or ():
        parts += ["--entity", entity]
    if scope.since is not None:
        parts += ["--since", scope.since.isoformat()]
    return " ".join(parts)
