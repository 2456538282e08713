"""``revbridge events tail|replay|prune``: follow the outbox, send stored events again, and
delete the published ones past their retention (registered by :mod:`sync.cli.events`).

Exit codes: 0 done (``tail``: stopped with Ctrl-C); 1 ``replay`` stopped early because a sink
failed; 2 the configuration, a date, a type, an entity or a sink name is wrong, or the store
can't be opened.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from config.events import EventsSettings, SinkSettings
from config.settings import Settings
from mappings.canonical import ENTITIES
from sync.cli.common import DEFAULT_CONFIG, JsonOption, console, fail, open_store, settings_from
from sync.cli.reconcile_findings import shown
from sync.events.envelope import event_type, structured
from sync.events.publisher import publish_sink
from sync.events.replay import replay_to_sink
from sync.store import Store
from sync.store.outbox import ChangeType, OutboxEvent, sink_filter
from sync.store.outbox_dead_letters import requeue_dead_letters
from sync.store.outbox_prune import prune_outbox
from sync.store.outbox_replay import (
    EventSelection,
    TailPosition,
    events_after,
    last_sequence,
    latest_events,
)
from sync.store.schema import utc_now

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="revbridge YAML configuration file.")
]
TypeOption = Annotated[
    list[str] | None, typer.Option("--type", help="Only this change (created, updated, ...).")
]
EntityOption = Annotated[list[str] | None, typer.Option("--entity", help="Only this entity.")]
FlowOption = Annotated[list[str] | None, typer.Option("--flow", help="Only this flow.")]
POLL_SECONDS = 0.5  # how often tail looks for new events: near live, an indexed query each


def _selection(
    settings: Settings, types: list[str] | None, entities: list[str] | None, flows: list[str] | None
) -> EventSelection:
    """The filters asked for; exit 2 naming the valid values on a typo."""
    known = {
        "--type": ([t.value for t in ChangeType], types),
        "--entity": (sorted(ENTITIES), entities),
        "--flow": ([flow.name for flow in settings.flows], flows),
    }
    for option, (valid, given) in known.items():
        wrong = sorted(set(given or ()) - set(valid))
        if wrong:
            raise fail(f"{option} {shown(wrong[0])} is not one of: {', '.join(valid)}")
    return EventSelection(flows or (), entities or (), types or ())


def event_line(event: OutboxEvent) -> str:
    """One event as one line of plain text (data escaped, never read as markup)."""
    changed = ",".join(sorted(event.data.get("changes") or {})) or "-"
    parts = (
        event.occurred_at.isoformat(timespec="seconds"),
        event_type(event.entity, event.change.value),
        shown(event.subject),
        f"flow={shown(event.flow)}",
        f"changed={shown(changed)}",
    )
    return " ".join(parts)


def _show(events: list[OutboxEvent], as_json: bool) -> None:
    for event in events:
        # The envelope the sinks get, one a line; print, not rich: data is never markup.
        text = structured(event).decode() if as_json else event_line(event)
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _stop_on_signals() -> threading.Event:
    """An event Ctrl-C (or SIGTERM) sets: the loop ends between queries, never inside one."""
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def _follow(
    store: Store, selection: EventSelection, last: int, as_json: bool, stop: threading.Event
) -> None:
    with store.engine.connect() as connection:
        start = last_sequence(connection)
        shown_first = latest_events(connection, selection, last)
    _show(shown_first, as_json)
    position = TailPosition(highest=start, start=start)
    while not stop.is_set():
        with store.engine.connect() as connection:
            events = events_after(connection, selection, position, 500)
        _show(events, as_json)
        if not events:
            stop.wait(POLL_SECONDS)


def events_tail(
    config: ConfigOption = DEFAULT_CONFIG,
    types: TypeOption = None,
    entities: EntityOption = None,
    flows: FlowOption = None,
    last: Annotated[int, typer.Option("--last", min=0, help="First show the last N.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Follow change events as runs write them, until Ctrl-C (--json: the envelopes)."""
    settings = settings_from(config)
    selection = _selection(settings, types, entities, flows)
    store = open_store(settings.database_url, read_only=True)
    try:
        _follow(store, selection, last, as_json, _stop_on_signals())
    finally:
        store.close()
    console.print("stopped following events", highlight=False)


def _since(text: str) -> datetime:
    """A date or an ISO time (UTC unless it says otherwise); exit 2 on a typo."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(
            f"--since {shown(text)} is not a date (2026-12-01 or 2026-12-01T09:30)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sinks_named(settings: Settings, name: str | None, config: Path) -> list[SinkSettings]:
    sinks = list(settings.events.sinks)
    if not sinks:
        raise fail(f"no event sinks configured in {config} (events: sinks:)")
    if name is None:
        return sinks
    chosen = [sink for sink in sinks if sink.name == name]
    if not chosen:
        names = ", ".join(sink.name for sink in sinks)
        raise fail(f"no sink {shown(name)} in {config}; configured: {names}")
    return chosen


def events_replay(
    since: Annotated[
        str | None, typer.Option("--since", help="From this date or UTC time.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    sink: Annotated[str | None, typer.Option("--sink", help="Only this sink.")] = None,
    types: TypeOption = None,
    entities: EntityOption = None,
    flows: FlowOption = None,
    dead_letter: Annotated[
        bool, typer.Option("--dead-letter", help="Instead: requeue the sinks' dead letters.")
    ] = False,
) -> None:
    """Send stored events again, with the ids they first had (consumers drop repeats)."""
    settings = settings_from(config)
    if since is None and not dead_letter:
        raise fail("say from when: --since 2026-12-01 (or --dead-letter to requeue dead letters)")
    moment = _since(since) if since is not None else datetime.min.replace(tzinfo=UTC)
    selection = _selection(settings, types, entities, flows)
    sinks = _sinks_named(settings, sink, config)
    store = open_store(settings.database_url, read_only=True)
    failed = False
    for chosen in sinks:
        if dead_letter:
            failed |= _requeue(store, chosen, settings.events.batch_size)
            continue
        report = replay_to_sink(store, chosen, moment, selection, settings.events.batch_size)
        stopped = f"; stopped: {report.error}" if report.error else ""
        console.print(f"{chosen.name}: replayed {report.sent}{stopped}", highlight=False)
        failed |= report.error is not None
    store.close()
    if failed:
        raise typer.Exit(1)


def _requeue(store: Store, sink: SinkSettings, batch_size: int) -> bool:
    """Make the sink's dead letters pending again and drain it; whether that failed."""
    with store.transaction() as connection:
        requeued = requeue_dead_letters(connection, sink.name)
    report = publish_sink(store, sink, batch_size)
    stopped = f"; stopped, events wait: {report.error}" if report.error else ""
    line = f"{sink.name}: requeued {requeued} dead letters, published {report.published}{stopped}"
    console.print(line, highlight=False)
    return report.error is not None


def prune_published(store: Store, settings: EventsSettings, now: datetime) -> int:
    """Delete events published to every sink that takes them and older than the retention."""
    before = now - timedelta(days=settings.retention_days)
    return prune_outbox(store, [sink_filter(sink) for sink in settings.sinks], before)


def events_prune(config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Delete published events older than events.retention_days (pending ones always stay)."""
    settings = settings_from(config)
    store = open_store(settings.database_url, read_only=True)
    deleted = prune_published(store, settings.events, utc_now())
    store.close()
    if as_json:
        sys.stdout.write(json.dumps({"pruned": deleted}) + "\n")
        return
    days = settings.events.retention_days
    console.print(f"pruned {deleted} published events older than {days:g} days", highlight=False)
