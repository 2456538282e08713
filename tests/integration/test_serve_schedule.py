"""How `serve` schedules flows: cron in UTC, coalescing, misfire grace, resume checks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from typer.testing import CliRunner

from config.settings import FlowSettings
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes
from sync.service.flow_runner import Attempt, FlowRunner
from sync.service.scheduler import FlowScheduler
from tests.serve_harness import SMALL, write_serve_config


class RecordingRunner:
    """Stands in for FlowRunner: records each call and answers from a script."""

    def __init__(self, answers: list[Attempt] | None = None) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.answers = answers or []
        self.called = threading.Condition()

    def run(self, name: str, *, resume_only: bool = False) -> Attempt:
        with self.called:
            self.calls.append((name, resume_only))
            self.called.notify_all()
        return self.answers.pop(0) if self.answers else Attempt()

    def wait_for_calls(self, count: int) -> list[tuple[str, bool]]:
        with self.called:
            assert self.called.wait_for(lambda: len(self.calls) >= count, timeout=15)
            return list(self.calls)


def _scheduler(runner: RecordingRunner, flows: list[FlowSettings]) -> FlowScheduler:
    fake: Any = runner
    real: FlowRunner = fake
    return FlowScheduler(real, flows)


def test_each_scheduled_flow_is_one_coalesced_utc_cron_job_with_its_misfire_grace() -> None:
    flows = [
        FlowSettings(name="quote-to-cash", schedule="*/5 * * * *", misfire_grace_seconds=120),
        FlowSettings(name="manual-only"),
    ]
    scheduler = _scheduler(RecordingRunner(), flows)
    scheduler.start()
    try:
        (job,) = scheduler.jobs()
    finally:
        scheduler.shutdown()

    assert job.id == "quote-to-cash"
    assert isinstance(job.trigger, CronTrigger)
    assert str(job.trigger.timezone) == "UTC"
    assert "minute='*/5'" in str(job.trigger)
    assert job.misfire_grace_time == 120
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.next_run_time.minute % 5 == 0


def test_run_now_runs_every_flow_at_once_and_keeps_the_cron_schedule() -> None:
    runner = RecordingRunner()
    flows = [
        FlowSettings(name="quote-to-cash", schedule="0 3 * * *"),
        FlowSettings(name="manual-only"),
    ]
    scheduler = _scheduler(runner, flows)
    scheduler.start(run_now=True)
    try:
        calls = runner.wait_for_calls(2)
        remaining = {job.id: job.next_run_time for job in scheduler.jobs()}
    finally:
        scheduler.shutdown()

    assert sorted(calls) == [("manual-only", False), ("quote-to-cash", False)]
    next_run = remaining["quote-to-cash"].astimezone(UTC)
    assert (next_run.hour, next_run.minute) == (3, 0)
    assert "manual-only" not in remaining  # a one-off run


def test_a_flow_held_elsewhere_is_checked_again_when_that_lease_would_expire() -> None:
    soon = datetime.now(UTC) + timedelta(milliseconds=300)
    runner = RecordingRunner([Attempt(busy_until=soon), Attempt()])
    scheduler = _scheduler(runner, [FlowSettings(name="quote-to-cash", schedule="0 3 * * *")])
    scheduler.start(run_now=True)
    try:
        calls = runner.wait_for_calls(2)
    finally:
        scheduler.shutdown()

    assert calls == [("quote-to-cash", False), ("quote-to-cash", True)]


def test_serve_refuses_an_invalid_cron_schedule_with_exit_2(tmp_path: Path) -> None:
    with Sandboxes(SMALL) as sandboxes:
        config = write_serve_config(
            tmp_path / "revbridge.yaml",
            sandboxes,
            f"sqlite:///{tmp_path / 'revbridge.db'}",
            flows=[{"name": "quote-to-cash", "schedule": "61 * * * *"}],
        )
    outcome = CliRunner().invoke(app, ["serve", "--config", str(config)])
    assert outcome.exit_code == 2
    assert "flow quote-to-cash: schedule '61 * * * *'" in outcome.output
