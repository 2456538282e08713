"""Run one flow the way `serve` does: under its lease, with logs, metrics and alerts.

The lease makes a run exclusive across replicas; the engine's page callback renews it, counts
records, and names the run in every log line from then on. A stop request (SIGTERM) reaches
the engine in hand, which finishes its page, commits and ends the run as stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from config.settings import Settings
from connectors.base import Connector
from mappings.mapping_set import MappingSet
from sync.engine.factory import build_engine
from sync.engine.flows import Flow
from sync.engine.run import SyncEngine
from sync.engine.stats import RunSummary
from sync.service.alerts import AlertSender, crashed_run_text
from sync.service.flow_lease import Clock, FlowLease
from sync.service.logs import bind_run_context, run_context
from sync.service.metrics import RunProgress, ServeMetrics
from sync.store import Store
from sync.store.error_queue import count_active
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.serve")

ConnectorsFactory = Callable[[Settings], AbstractContextManager[Mapping[str, Connector]]]


@dataclass(frozen=True)
class Attempt:
    """What came of trying to run a flow."""

    summary: RunSummary | None = None  # None: it did not run
    busy_until: datetime | None = None  # another replica holds the flow until then


@dataclass
class ServeContext:
    """What every run of a `serve` process shares."""

    settings: Settings
    store: Store
    mapping_set: MappingSet
    flows: dict[str, Flow]
    owner: str
    metrics: ServeMetrics
    alerts: AlertSender
    open_connectors: ConnectorsFactory
    config_path: Path | None = None
    after_run: Callable[[Store], None] | None = None  # e.g. drain the change events' outbox
    clock: Clock = utc_now
    stopping: threading.Event = field(default_factory=threading.Event)

    def lease_for(self, flow: str) -> FlowLease:
        """The lease on ``flow`` this process takes before it runs or reconciles it."""
        serve = self.settings.serve
        return FlowLease(
            self.store,
            flow,
            self.owner,
            ttl=timedelta(seconds=serve.lease_seconds),
            heartbeat_seconds=serve.heartbeat_seconds,
            clock=self.clock,
        )


class FlowRunner:
    """Runs flows under their leases; :meth:`request_stop` winds every run down."""

    def __init__(self, context: ServeContext) -> None:
        self._context = context
        self._engines: set[SyncEngine] = set()
        self._engines_lock = threading.Lock()

    def request_stop(self) -> None:
        """Start no new run, and have each running one stop after its current page."""
        self._context.stopping.set()
        with self._engines_lock:
            for engine in self._engines:
                engine.request_stop()

    def run(self, name: str, *, resume_only: bool = False) -> Attempt:
        """Run flow ``name`` if its lease is free (``resume_only``: if its holder crashed)."""
        context = self._context
        if context.stopping.is_set():
            return Attempt()
        lease = context.lease_for(name)
        with run_context(flow=name):
            if not lease.acquire(only_expired=resume_only):
                busy_until = lease.holder_expiry()
                if busy_until is not None and not resume_only:
                    log.info("flow %s is running on another replica; skipped", name)
                return Attempt(busy_until=busy_until)
            try:
                return Attempt(summary=self._run_leased(context.flows[name], lease))
            except Exception as error:
                # Not a connector failure (the engine reports those): a bug or a store outage.
                # The scheduler would only log it; the people on call need to hear of it.
                log.exception("flow %s crashed", name)
                context.alerts.post(crashed_run_text(name, error, context.config_path))
                return Attempt()
            finally:
                lease.release()

    def _run_leased(self, flow: Flow, lease: FlowLease) -> RunSummary | None:
        context = self._context
        with context.store.engine.connect() as connection:
            active_before = count_active(connection)
        log.info("flow %s starting (lease held by %s)", flow.name, lease.owner)
        started = time.monotonic()
        with context.open_connectors(context.settings) as connectors:
            progress = context.metrics.run_progress(flow.name)
            engine = build_engine(
                context.settings,
                context.store,
                context.mapping_set,
                connectors,
                flow,
                on_page=self._on_page(lease, progress, connectors.get(flow.source)),
            )
            with self._running(engine):
                lease.start_heartbeat(on_lost=engine.request_stop)
                summary = engine.run()
            context.metrics.observe_api_usage(_api_usage(connectors.get(flow.source)))
        duration = time.monotonic() - started
        progress.update(summary)
        context.metrics.observe_run(summary, duration)
        _log_run(summary, duration)
        context.alerts.run_finished(summary, active_before)
        if context.after_run is not None:
            context.after_run(context.store)
        return summary

    @contextmanager
    def _running(self, engine: SyncEngine) -> Iterator[None]:
        """Keep ``engine`` reachable by :meth:`request_stop` while it runs."""
        with self._engines_lock:
            self._engines.add(engine)
        # A stop that arrived before the engine was registered must still reach it.
        if self._context.stopping.is_set():
            engine.request_stop()
        try:
            yield
        finally:
            with self._engines_lock:
                self._engines.discard(engine)

    def _on_page(
        self, lease: FlowLease, progress: RunProgress, source: Connector | None
    ) -> Callable[[str, RunSummary], None]:
        metrics = self._context.metrics

        def on_page(entity: str, summary: RunSummary) -> None:
            bind_run_context(run_id=summary.run_id)
            lease.beat()
            progress.update(summary)
            metrics.observe_api_usage(_api_usage(source))

        return on_page


def _api_usage(connector: Connector | None) -> tuple[int, int] | None:
    usage = getattr(connector, "api_usage", None)
    return usage if isinstance(usage, tuple) else None


def _log_run(summary: RunSummary, duration: float) -> None:
    counts = summary.to_json()
    log.info(
        "run %d of flow %s %s in %.2fs: %d pages, %d written downstream, %d rejected, "
        "%d in the error queue%s",
        summary.run_id,
        summary.flow,
        summary.status.value,
        duration,
        summary.pages,
        summary.written,
        summary.rejected,
        summary.error_queue_active,
        f" ({summary.message})" if summary.message else "",
        extra={
            "run_id": summary.run_id,
            "status": summary.status.value,
            "duration_seconds": round(duration, 3),
            "systems": counts["systems"],
            "error_queue_active": summary.error_queue_active,
        },
    )
