"""Prometheus metrics of `revbridge serve`.

Counts of this process's work (records by outcome, runs, run duration, Salesforce API usage)
are kept in memory; state shared by all replicas (error-queue depth, last successful run of
each flow) is read from the store at scrape time, so every replica reports the same truth.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import asdict

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.flow_status import error_counts_by_status, last_success_by_flow

log = logging.getLogger("revbridge.serve")

_RUN_SECONDS_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class StoreCollector(Collector):
    """Error-queue depth by status and last success per flow, queried on each scrape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[Metric]:
        """Yield the store-backed gauges; none when the store can't be read."""
        try:
            with self._store.engine.connect() as connection:
                errors = error_counts_by_status(connection)
                successes = last_success_by_flow(connection)
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: cannot read the store: %s", type(error).__name__)
            return
        depth = GaugeMetricFamily(
            "revbridge_error_queue_entries", "Error-queue entries by status.", labels=["status"]
        )
        for status, count in errors.items():
            depth.add_metric([status.value], count)
        yield depth
        last = GaugeMetricFamily(
            "revbridge_last_success_timestamp_seconds",
            "When the flow's last successful or partial run finished (Unix time).",
            labels=["flow"],
        )
        for flow, finished in successes.items():
            last.add_metric([flow], finished.timestamp())
        yield last


class ServeMetrics:
    """The metrics registry of one `serve` process."""

    def __init__(self, store: Store | None = None) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "revbridge_records",
            "Records processed, by flow, entity, system and outcome (read, created, updated, "
            "unchanged, deferred, rejected, conflicts).",
            ["flow", "entity", "system", "outcome"],
            registry=self.registry,
        )
        self.runs = Counter(
            "revbridge_runs",
            "Runs finished, by flow and status.",
            ["flow", "status"],
            registry=self.registry,
        )
        self.run_duration = Histogram(
            "revbridge_run_duration_seconds",
            "Wall-clock duration of finished runs.",
            ["flow"],
            buckets=_RUN_SECONDS_BUCKETS,
            registry=self.registry,
        )
        self.api_remaining = Gauge(
            "revbridge_salesforce_api_calls_remaining",
            "Salesforce daily API calls left, from the last Sforce-Limit-Info header seen "
            "(NaN until a run has seen one).",
            registry=self.registry,
        )
        self.api_limit = Gauge(
            "revbridge_salesforce_api_calls_limit",
            "Salesforce daily API allocation, from the last Sforce-Limit-Info header seen.",
            registry=self.registry,
        )
        # Unknown until a run has read Salesforce's Sforce-Limit-Info header: NaN, never 0,
        # so an alert on "remaining below X" does not fire before the first run.
        self.api_remaining.set(math.nan)
        self.api_limit.set(math.nan)
        if store is not None:
            self.registry.register(StoreCollector(store))

    def run_progress(self, flow: str) -> RunProgress:
        """A tracker that turns a run's cumulative counts into counter increments."""
        return RunProgress(self, flow)

    def observe_run(self, summary: RunSummary, duration_seconds: float) -> None:
        """Count a finished run and its duration."""
        self.runs.labels(summary.flow, summary.status.value).inc()
        self.run_duration.labels(summary.flow).observe(duration_seconds)

    def observe_api_usage(self, usage: tuple[int, int] | None) -> None:
        """Record Salesforce's (used, limit) API counts when the connector has seen them."""
        if usage is None:
            return
        used, limit = usage
        self.api_remaining.set(max(limit - used, 0))
        self.api_limit.set(limit)


class RunProgress:
    """Adds each page's new counts to the records counter (summaries are cumulative)."""

    def __init__(self, metrics: ServeMetrics, flow: str) -> None:
        self._metrics = metrics
        self._flow = flow
        self._seen: dict[tuple[str, str, str], int] = {}

    def update(self, summary: RunSummary) -> None:
        """Count what ``summary`` holds beyond what was counted already."""
        for entity, per_system in summary.by_entity.items():
            for system, counts in per_system.items():
                for outcome, total in asdict(counts).items():
                    key = (entity, system, outcome)
                    delta = total - self._seen.get(key, 0)
                    if delta > 0:
                        self._metrics.records.labels(self._flow, entity, system, outcome).inc(delta)
                        self._seen[key] = total
