"""Server-side pages: one Jinja2 environment (autoescaped) and :func:`render`.

Every page gets ``user`` (or None), ``csrf_token`` (for its forms; also in base.html's meta tag
and htmx's headers) and ``nav``. Values reach the HTML only through Jinja2's escaping: no
template marks data ``|safe``, and nothing here builds HTML from strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from sync.console.auth import Identity

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True)
class NavItem:
    """One entry of the nav bar."""

    label: str
    path: str


NAV = (
    NavItem("Overview", "/"),
    NavItem("Error queue", "/errors"),
    NavItem("Journey", "/journey"),
    NavItem("Conflicts", "/conflicts"),
    NavItem("Runs", "/runs"),
    NavItem("Findings", "/findings"),
    NavItem("Revenue", "/revenue"),
    NavItem("Events", "/events"),
)

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,  # every template, whatever its file name
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_environment)


def _current(path: str, item: NavItem) -> bool:
    return path == item.path or (item.path != "/" and path.startswith(f"{item.path}/"))


def render(
    request: Request, template_name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """``template_name`` rendered with ``context`` plus the user, CSRF token and nav bar."""
    identity: Identity | None = getattr(request.state, "identity", None)
    path = request.url.path
    page = {
        "user": identity.user if identity is not None else None,
        "csrf_token": (identity.csrf_token if identity is not None else None) or "",
        "nav": [(item, _current(path, item)) for item in NAV],
        **context,
    }
    return templates.TemplateResponse(request, template_name, page, status_code=status_code)
