"""The console's pages and JSON API, one module per page; ``routers`` lists them for the app."""

from __future__ import annotations

from fastapi import APIRouter

routers: list[APIRouter] = []
