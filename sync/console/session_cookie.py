"""The session cookie: HttpOnly, SameSite=Lax, Secure whenever the browser came over https."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response

from config.console_settings import ConsoleSettings
from sync.console.auth import SESSION_COOKIE
from sync.console.proxies import is_https


def set_session_cookie(
    response: Response,
    request: Request,
    settings: ConsoleSettings,
    session_id: str,
    expires_at: datetime,
    now: datetime,
) -> None:
    """Hand the browser ``session_id`` until ``expires_at``."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max(0, int((expires_at - now).total_seconds())),
        path="/",
        httponly=True,  # no script reads it, so an injected one can't steal it
        samesite="lax",  # another site's form POST arrives without it
        secure=is_https(request, settings),
    )


def clear_session_cookie(response: Response, request: Request, settings: ConsoleSettings) -> None:
    """Tell the browser to drop its session cookie."""
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request, settings),
    )
