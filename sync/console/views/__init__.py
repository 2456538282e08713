"""The console's pages and JSON API, one module per page; ``routers`` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

from sync.console.views import pages_conflicts, pages_errors, pages_journey, pages_runs

routers: list[APIRouter] = [
    pages_conflicts.router,
    pages_errors.router,
    pages_journey.router,
    pages_runs.router,
]
