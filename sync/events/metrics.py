"""Prometheus metrics of change events, for `serve`'s /metrics (wired through
``ServeOptions.collectors`` by the CLI, as the reconciliation gauges are).

Read from the store at scrape time, the same on every replica: events written (the outbox's
highest sequence, which pruning never lowers), failed publish attempts and events pending and
dead-lettered per sink, and the age of the oldest pending event. Counted by this process: the
events it published per sink (sum them over replicas).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

import sqlalchemy as sa
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.events import EventsSettings
from sync.events.publisher import PublishReport
from sync.store import Store
from sync.store.outbox import SinkStatus, sink_filter, sink_status
from sync.store.outbox_replay import last_sequence
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.events")


class PublishedCounts:
    """Events this process published per sink, added to after each drain (thread-safe)."""

    def __init__(self) -> None:
        """Start at zero."""
        self._lock = threading.Lock()
        self._published: dict[str, int] = {}

    def add(self, reports: Iterable[PublishReport]) -> None:
        """Count what each report published."""
        with self._lock:
            for report in reports:
                self._published[report.sink] = (
                    self._published.get(report.sink, 0) + report.published
                )

    def snapshot(self) -> dict[str, int]:
        """The counts so far, per sink."""
        with self._lock:
            return dict(self._published)


def _age(oldest: datetime | None, now: datetime) -> float:
    return 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)


class EventsCollector(Collector):
    """``revbridge_events_*``: written, published, failed, pending, dead-lettered, oldest age."""

    def __init__(self, store: Store, settings: EventsSettings, counts: PublishedCounts) -> None:
        """Read ``store`` for the sinks ``settings`` names; ``counts`` are this process's."""
        self._store = store
        self._settings = settings
        self._counts = counts

    def _read(self) -> tuple[int, list[SinkStatus]] | None:
        try:
            with self._store.engine.connect() as connection:
                written = last_sequence(connection)
                sinks = [sink_status(connection, sink_filter(s)) for s in self._settings.sinks]
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: cannot read the outbox: %s", type(error).__name__)
            return None
        return written, sinks

    def collect(self) -> Iterator[Metric]:
        """Yield the families; none read from the store when it can't be (the scrape answers)."""
        published = CounterMetricFamily(
            "revbridge_events_published",
            "Events this process published, per sink.",
            labels=["sink"],
        )
        counts = self._counts.snapshot()
        for sink in self._settings.sinks:  # every sink, zero included, so alerts have a series
            published.add_metric([sink.name], counts.get(sink.name, 0))
        yield published
        read = self._read()
        if read is None:
            return
        written, sinks = read
        yield CounterMetricFamily(
            "revbridge_events_written", "Change events written to the outbox.", value=written
        )
        yield from _per_sink(sinks, utc_now())


def _per_sink(sinks: list[SinkStatus], now: datetime) -> Iterator[Metric]:
    failed = CounterMetricFamily(
        "revbridge_events_failed", "Failed publish attempts, per sink.", labels=["sink"]
    )
    pending = GaugeMetricFamily(
        "revbridge_events_pending", "Events waiting in the outbox, per sink.", labels=["sink"]
    )
    dead = GaugeMetricFamily(
        "revbridge_events_dead_lettered", "Events given up on, per sink.", labels=["sink"]
    )
    oldest = GaugeMetricFamily(
        "revbridge_events_oldest_pending_age_seconds",
        "Age of the oldest event waiting for the sink (0: none waits).",
        labels=["sink"],
    )
    for status in sinks:
        failed.add_metric([status.sink], status.failures)
        pending.add_metric([status.sink], status.pending)
        dead.add_metric([status.sink], status.dead_lettered)
        oldest.add_metric([status.sink], _age(status.oldest_pending_at, now))
    yield from (failed, pending, dead, oldest)
