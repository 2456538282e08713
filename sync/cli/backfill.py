"""``revbridge backfill``: stream a window of history through a flow, resumably.

Exit codes: 0 done; 1 the backfill failed, or ``--resume`` names no run (the failed run's
summary ends with the ``--resume`` command to continue it); 2 the configuration, the mappings,
the window or the store are invalid; 130 stopped by Ctrl-C or SIGTERM (resume as printed).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from config.settings import Settings
from mappings.mapping_set import MappingSet
from sync.cli.common import (
    DEFAULT_CONFIG,
    JsonOption,
    console,
    fail,
    mappings_for,
    open_store,
    settings_from,
)
from sync.cli.interrupt import EXIT_INTERRUPTED, stop_on_signals
from sync.cli.progress import RecordRate, entity_progress
from sync.cli.report import show_plan
from sync.cli.run import open_connectors_or_fail, reuse, show_summary
from sync.engine.backfill import BackfillWindow, BackfillWindowInvalid, parse_moment
from sync.engine.dry_run import plan_run
from sync.engine.factory import open_engine
from sync.engine.flows import Flow, flows_from_settings
from sync.engine.stats import RunSummary
from sync.store.database import StoreError
from sync.store.runs import recent_runs
from sync.store.schema import RunStatus

# The records/s column, under the name sync/cli/resend.py imports it by.
TransferSpeedlessRate = RecordRate


def _window_and_flow(
    settings: Settings,
    flow_name: str | None,
    since: str | None,
    until: str | None,
    resume: int | None,
) -> tuple[Flow, BackfillWindow]:
    flows = flows_from_settings(settings)
    try:
        if resume is not None:
            with open_store(settings.database_url, read_only=True).engine.connect() as connection:
                run = next(
                    (r for r in recent_runs(connection, limit=100_000) if r.id == resume), None
                )
            if run is None:
                raise fail(f"no run {resume} in the store", code=1)
            flow_name, window = BackfillWindow.from_flow_name(run.flow)
        else:
            if since is None:
                raise fail("--since is required (or --resume RUN_ID)")
            window = BackfillWindow(parse_moment(since), parse_moment(until) if until else None)
    except BackfillWindowInvalid as error:
        raise fail(str(error)) from None
    chosen = flow_name or next(iter(flows))
    if chosen not in flows:
        raise fail(f"no flow {chosen!r} in the configuration; configured: {', '.join(flows)}")
    return flows[chosen], window


def _run(
    settings: Settings, mapping_set: MappingSet, flow: Flow, window: BackfillWindow, quiet: bool
) -> RunSummary:
    with (
        entity_progress(console, flow.source, quiet=quiet) as on_page,
        ExitStack() as stack,
    ):
        connectors = open_connectors_or_fail(stack, settings, flow.targets)
        store = open_store(settings.database_url)
        engine = stack.enter_context(
            open_engine(settings, store, mapping_set, flow, on_page=on_page, window=window,
                        connect=reuse(connectors))
        )  # fmt: skip
        with stop_on_signals(engine.request_stop):
            return engine.run()


def backfill(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
    ] = DEFAULT_CONFIG,
    flow_name: Annotated[str | None, typer.Option("--flow", help="Flow to backfill.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Start: 2026-01-01 or an ISO date-time.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="End (inclusive); default: now.")] = None,
    resume: Annotated[
        int | None, typer.Option(help="Continue the backfill of this run id where it stopped.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; write nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Stream history from --since to --until through a flow, leaving its cursors alone."""
    settings = settings_from(config)
    mapping_set = mappings_for(settings)
    flow, window = _window_and_flow(settings, flow_name, since, until, resume)
    if dry_run:
        try:
            plan = plan_run(settings, mapping_set, flow, window=window)
        except StoreError as error:
            raise fail(str(error)) from None
        show_plan(plan, 5, as_json)
        if plan.status is RunStatus.FAILED:
            raise typer.Exit(1)
        return
    summary = _run(settings, mapping_set, flow, window, quiet=as_json)
    show_summary(summary, f"backfill run {summary.run_id} ({summary.flow})", as_json)
    if summary.status in (RunStatus.FAILED, RunStatus.STOPPED) and not as_json:
        hint = f"resume with: revbridge backfill -c {config} --resume {summary.run_id}"
        console.print(Text(hint))
    if summary.status is RunStatus.FAILED:
        raise typer.Exit(1)
    if summary.status is RunStatus.STOPPED:
        raise typer.Exit(EXIT_INTERRUPTED)
