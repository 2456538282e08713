"""The overview page: each flow's last run, lag and next run; open errors grouped; conflicts
waiting; and the two trend charts, whose data goes to the page as JSON (never as script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from apscheduler.triggers.cron import CronTrigger
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from config.settings import FlowSettings
from sync.console.auth import ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.store.flow_status import FlowState, known_flows
from sync.store.overview import Overview, overview

router = APIRouter()


@dataclass(frozen=True)
class FlowLine:
    """One flow's row: its stored state and when its schedule fires next."""

    flow: str
    state: FlowState
    next_run_at: datetime | None


@dataclass(frozen=True)
class ErrorGroup:
    """Open entries sharing one entity, system or class, with the queue filtered to them."""

    name: str
    count: int
    query: str


def next_run(flow: FlowSettings | None, now: datetime) -> datetime | None:
    """When the flow's cron schedule (UTC) fires next; None when it has none (or a bad one)."""
    if flow is None or flow.schedule is None:
        return None
    try:
        trigger = CronTrigger.from_crontab(flow.schedule, timezone=UTC)
    except ValueError:
        return None  # `revbridge check` names a bad schedule; the overview just shows none
    fire: datetime | None = trigger.get_next_fire_time(None, now)
    return fire


def _groups(counts: dict[str, int], field: str) -> list[ErrorGroup]:
    return [
        ErrorGroup(name, count, urlencode({"status": "open", field: name}))
        for name, count in counts.items()
    ]


def charts(view: Overview) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chart data: records written and rejected per run, and open entries per day."""
    runs = {
        "labels": [f"{run.flow} #{run.run_id}" for run in view.recent_runs],
        "written": [run.written for run in view.recent_runs],
        "rejected": [run.rejected for run in view.recent_runs],
    }
    queue = {
        "labels": [day.day.isoformat() for day in view.queue_by_day],
        "open": [day.open for day in view.queue_by_day],
    }
    return runs, queue


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, user: ViewerUser, context: Context) -> HTMLResponse:
    """The page support staff open first."""
    now = context.clock()
    configured = {flow.name: flow for flow in context.settings.flows}
    with context.store.engine.connect() as connection:
        view = overview(connection, known_flows(connection, configured), now)
    flows = [
        FlowLine(state.flow, state, next_run(configured.get(state.flow), now))
        for state in view.flows
    ]
    runs_chart, queue_chart = charts(view)
    page = {
        "flows": flows,
        "open_errors": [
            ("entity", _groups(view.open_by_entity, "entity")),
            ("system", _groups(view.open_by_system, "system")),
            ("class", _groups(view.open_by_class, "error_class")),
        ],
        "conflicts_waiting": view.conflicts_waiting,
        "runs_chart": runs_chart,
        "queue_chart": queue_chart,
    }
    return render(request, "pages/overview.html", page)
