"""``revbridge events``: the change-event outbox: its JSON Schemas, its state per sink, a drain
(``tail``, ``replay`` and ``prune`` are in :mod:`sync.cli.events_follow`).

Exit codes: 0 done (for ``publish``: every sink drained); 1 ``publish`` left events waiting
because a sink failed (they go out on the next drain); 2 the configuration is invalid, the
store can't be opened or the schema folder can't be written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from config.events import EventsSettings
from sync.cli.common import (
    DEFAULT_CONFIG,
    JsonOption,
    console,
    err_console,
    fail,
    open_store,
    settings_from,
)
from sync.cli.events_follow import events_prune, events_replay, events_tail, prune_published
from sync.cli.output import plain
from sync.events.metrics import PublishedCounts
from sync.events.publisher import publish_all
from sync.events.schemas import write_schemas
from sync.store import Store
from sync.store.outbox import SinkStatus, sink_filter, sink_status
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.events")

events_app = typer.Typer(
    help="Change events: schemas, outbox status, publishing, tail, replay, pruning.",
    no_args_is_help=True,
)
ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
]


@events_app.command("schema")
def events_schema(
    out: Annotated[Path, typer.Option("--out", help="Folder to write <type>.json into.")] = Path(
        "event-schemas"
    ),
) -> None:
    """Write a JSON Schema per event type (com.revbridge.<entity>.<change>.json)."""
    try:
        written = write_schemas(out)
    except OSError as error:
        raise fail(f"cannot write schemas to {out}: {error.strerror or error}") from None
    console.print(f"wrote {len(written)} event schemas to {out}", highlight=False)


def _lag_seconds(oldest: datetime | None, now: datetime) -> float | None:
    return None if oldest is None else round((now - oldest).total_seconds(), 1)


def _status_json(status: SinkStatus, now: datetime) -> dict[str, Any]:
    return {
        "sink": status.sink,
        "pending": status.pending,
        "published": status.published,
        "failures": status.failures,
        "dead_lettered": status.dead_lettered,
        "lag_seconds": _lag_seconds(status.oldest_pending_at, now),
        "last_error": status.last_error,
    }


@events_app.command("status")
def events_status(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Per sink: events pending and published, failed attempts, and the oldest event's age."""
    settings = settings_from(config)
    store = open_store(settings.database_url)
    now = utc_now()
    with store.engine.connect() as connection:
        rows = [
            _status_json(sink_status(connection, sink_filter(sink)), now)
            for sink in settings.events.sinks
        ]
    store.close()
    if as_json:
        console.print_json(data=rows)
        return
    if not rows:
        console.print(f"no event sinks configured in {config} (events: sinks:)", highlight=False)
        return
    table = Table(title="event sinks", title_justify="left")
    columns = ("sink", "pending", "published", "failures", "dead-lettered", "lag (s)", "last error")
    for column in columns:
        table.add_column(column)
    for row in rows:
        lag = "-" if row["lag_seconds"] is None else row["lag_seconds"]
        values = (
            row["sink"], row["pending"], row["published"], row["failures"], row["dead_lettered"],
            lag,
        )  # fmt: skip
        table.add_row(*plain(*values, row["last_error"] or "-"))
    console.print(table)


@events_app.command("publish")
def events_publish(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Drain the outbox once to every configured sink."""
    settings = settings_from(config)
    store = open_store(settings.database_url)
    reports = publish_all(store, settings.events)
    store.close()
    if as_json:
        console.print_json(data=[vars(report) for report in reports])
    else:
        for report in reports:
            waiting = f"; stopped, events wait: {report.error}" if report.error else ""
            dead = f", dead-lettered {report.dead_lettered}" if report.dead_lettered else ""
            line = f"{report.sink}: published {report.published}{dead}{waiting}"
            console.print(plain(line)[0], highlight=False)
    if any(report.error for report in reports):
        raise typer.Exit(1)


events_app.command("tail")(events_tail)
events_app.command("replay")(events_replay)
events_app.command("prune")(events_prune)

# serve prunes after a drain at most this often: a prune reads the whole outbox.
PRUNE_EVERY = timedelta(hours=1)


def event_publisher(
    settings: EventsSettings, counts: PublishedCounts | None = None
) -> Callable[[Store], None] | None:
    """`serve`'s drain of the outbox after each run, one at a time; None with no sink.

    A sink that fails is logged and its events wait: it never fails the run or the service.
    Every :data:`PRUNE_EVERY` the drain also prunes what is past ``retention_days``;
    ``counts`` (for /metrics) adds up what each drain published.
    """
    if not settings.sinks:
        return None
    one_at_a_time = threading.Lock()  # two flows finishing together drain once each, in turn
    pruned_at: list[datetime] = []

    def publish(store: Store) -> None:
        with one_at_a_time:
            reports = publish_all(store, settings)
            now = utc_now()
            if not pruned_at or now - pruned_at[-1] >= PRUNE_EVERY:
                pruned_at[:] = [now]
                pruned = prune_published(store, settings, now)
                log.info("pruned %d published events from the outbox", pruned)
        if counts is not None:
            counts.add(reports)
        for report in reports:
            if report.error:
                log.warning("events for sink %s wait in the outbox: %s", report.sink, report.error)
            else:
                log.info("events: %d published to %s", report.published, report.sink)

    return publish


def publish_after_run(database_url: str, settings: EventsSettings, quiet: bool) -> None:
    """`run`'s drain of the outbox: a sink that fails is a warning, never the run's exit code."""
    if not settings.sinks:
        return
    store = open_store(database_url)
    reports = publish_all(store, settings)
    store.close()
    for report in reports:
        if report.error:
            message = f"events for sink {report.sink} wait in the outbox: {report.error}"
            err_console.print(Text.assemble(("warning: ", "yellow"), message), highlight=False)
        elif not quiet:
            console.print(f"events: {report.published} published to {report.sink}", highlight=False)
