"""Cron scheduling of flows for `revbridge serve` (APScheduler 3.x, UTC).

Each flow is one job: coalesced (a backlog of missed firings runs once), with the flow's
misfire grace, and never two instances at once in this process; the flow's lease keeps other
replicas out. A replica that finds the flow held elsewhere checks again when that lease would
expire, and takes over only if its holder stopped renewing it (crashed), so a killed replica's
flow resumes within one lease period rather than at the next cron firing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from config.settings import FlowSettings
from sync.service.flow_lease import Clock
from sync.service.flow_runner import FlowRunner
from sync.store.schema import utc_now

log = logging.getLogger("revbridge.serve")

# Past the holder's expiry, so its last renewal has surely lapsed when we look.
_RESUME_MARGIN = timedelta(milliseconds=250)


class InvalidSchedule(ValueError):
    """A flow's cron expression can't be parsed; the message names the flow."""


def cron_trigger(flow: FlowSettings) -> CronTrigger:
    """The flow's five-field cron schedule, in UTC."""
    assert flow.schedule is not None
    try:
        return CronTrigger.from_crontab(flow.schedule, timezone=UTC)
    except ValueError as error:
        raise InvalidSchedule(f"flow {flow.name}: schedule {flow.schedule!r}: {error}") from None


def reconcile_trigger(flow: FlowSettings) -> CronTrigger:
    """The flow's five-field reconcile schedule, in UTC."""
    assert flow.reconcile_cron is not None
    try:
        return CronTrigger.from_crontab(flow.reconcile_cron, timezone=UTC)
    except ValueError as error:
        raise InvalidSchedule(
            f"flow {flow.name}: reconcile_cron {flow.reconcile_cron!r}: {error}"
        ) from None


# A job of one flow besides its runs (a reconcile), given the flow's name; the service hands in
# one that holds the flow's lease, so it never overlaps a run of the flow.
FlowJob = Callable[[str], object]


class FlowScheduler:
    """Fires each flow on its schedule and resumes flows whose replica crashed."""

    def __init__(
        self,
        runner: FlowRunner,
        flows: list[FlowSettings],
        *,
        clock: Clock = utc_now,
        reconcile: FlowJob | None = None,
    ) -> None:
        self._runner = runner
        self._flows = flows
        self._clock = clock
        self._reconcile = reconcile
        # A scheduled run, a resume check and a reconcile per flow.
        workers = max(len(flows), 1) * 3
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    def start(self, *, run_now: bool = False) -> None:
        """Add one job per flow (plus a first run at once with ``run_now``) and start."""
        for flow in self._flows:
            first_run: datetime | None = self._clock() if run_now else None
            if flow.schedule is None and first_run is None:
                log.info("flow %s has no schedule; it runs only with `revbridge run`", flow.name)
                continue
            trigger = cron_trigger(flow) if flow.schedule else DateTrigger(first_run, UTC)
            options = {"next_run_time": first_run} if first_run and flow.schedule else {}
            self._scheduler.add_job(
                self._run_flow,
                trigger,
                args=[flow.name],
                id=flow.name,
                name=f"flow {flow.name}",
                misfire_grace_time=flow.misfire_grace_seconds,
                **options,
            )
            log.info("flow %s scheduled: %s", flow.name, flow.schedule or "once, now")
        self._add_reconciles()
        self._scheduler.start()

    def _add_reconciles(self) -> None:
        if self._reconcile is None:
            return
        for flow in self._flows:
            if flow.reconcile_cron is None:
                continue
            self._scheduler.add_job(
                self._reconcile,
                reconcile_trigger(flow),
                args=[flow.name],
                id=f"reconcile:{flow.name}",
                name=f"reconcile of flow {flow.name}",
                misfire_grace_time=flow.misfire_grace_seconds,
            )
            log.info("flow %s reconciles on %s", flow.name, flow.reconcile_cron)

    def reconcile_job(self, name: str) -> Job | None:
        """The scheduled reconcile of flow ``name``, if it has one."""
        return self._scheduler.get_job(f"reconcile:{name}")

    def jobs(self) -> list[Job]:
        """The jobs scheduled now (one per flow, plus pending resume checks)."""
        return list(self._scheduler.get_jobs())

    def shutdown(self) -> None:
        """Fire nothing more; wait for runs in progress to end."""
        self._scheduler.shutdown(wait=True)

    def _run_flow(self, name: str) -> None:
        self._check_later_if_busy(name, self._runner.run(name).busy_until)

    def _resume_flow(self, name: str) -> None:
        attempt = self._runner.run(name, resume_only=True)
        self._check_later_if_busy(name, attempt.busy_until)

    def _check_later_if_busy(self, name: str, busy_until: datetime | None) -> None:
        if busy_until is None:
            return
        # When shutting down, the next replica to start picks the flow up instead.
        with contextlib.suppress(SchedulerNotRunningError):
            self._add_resume_check(name, busy_until)

    def _add_resume_check(self, name: str, busy_until: datetime) -> None:
        self._scheduler.add_job(
            self._resume_flow,
            DateTrigger(busy_until + _RESUME_MARGIN, UTC),
            args=[name],
            id=f"resume:{name}",
            name=f"resume check of flow {name}",
            replace_existing=True,
            misfire_grace_time=None,
        )
