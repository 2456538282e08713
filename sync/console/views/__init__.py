"""The console's pages and JSON API, one module per page; ``routers`` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

from sync.console.views import (
    api_errors,
    api_records,
    api_runs,
    pages_conflicts,
    pages_errors,
    pages_events,
    pages_findings,
    pages_journey,
    pages_overview,
    pages_revenue,
    pages_runs,
)

routers: list[APIRouter] = [
    api_errors.router,
    api_records.router,
    api_runs.router,
    pages_conflicts.router,
    pages_errors.router,
    pages_events.router,
    pages_findings.router,
    pages_journey.router,
    pages_overview.router,
    pages_revenue.router,
    pages_runs.router,
]
