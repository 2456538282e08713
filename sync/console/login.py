"""``/login`` and ``/logout``: the login form, password checks under throttling, sessions.

The form itself rides on a session with no user, which carries its CSRF token (so another
site can't sign a browser in as someone else). A good password replaces that session by a new
one under a new id (:func:`sync.store.user_sessions.rotate_session`).

Failed logins are counted per user name and per client address
(``console.login_failures_per_user`` / ``_per_address`` within ``login_window_seconds``);
past either limit the password is not even checked until the window has moved on.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from sync.console.auth import Identity, identify
from sync.console.context import ConsoleContext, Context
from sync.console.passwords import password_matches
from sync.console.proxies import client_address
from sync.console.rendering import render
from sync.console.session_cookie import clear_session_cookie, set_session_cookie
from sync.store.login_throttle import (
    address_key,
    clear_failures,
    failure_counts,
    record_failure,
    user_key,
)
from sync.store.user_sessions import end_session, open_session, rotate_session
from sync.store.users import find_user, valid_user_name

log = logging.getLogger("revbridge.console")
router = APIRouter()

# Only a path on this site: no scheme, no "//host", no backslash browsers read as a slash.
_LOCAL_PATH = re.compile(r"/(?!/)[\x21-\x5b\x5d-\x7e]*")
_FORM_MAX = 1024
# A login form's session lives an hour: anyone may open one, so they must not pile up.
PRE_LOGIN_LIFETIME = timedelta(hours=1)


def safe_next(candidate: str | None) -> str:
    """Where to go after login: ``candidate`` if it is a path on this site, else the overview."""
    if candidate and len(candidate) <= 2000 and _LOCAL_PATH.fullmatch(candidate):
        return candidate
    return "/"


def _shown(username: str) -> str:
    # What was typed as a name may be a password typed in the wrong field: log only names.
    return repr(username) if valid_user_name(username) else "(not a user name)"


def _lifetime(context: ConsoleContext) -> timedelta:
    return timedelta(hours=context.settings.console.session_hours)


def _login_page(
    request: Request,
    context: ConsoleContext,
    *,
    next_path: str,
    problem: str | None = None,
    username: str = "",
    status_code: int = 200,
) -> Response:
    """The form, on a fresh pre-login session when the browser holds none."""
    identity = identify(request, context)
    now = context.clock()
    opened = None
    if identity.csrf_token is None or identity.user is not None:
        opened = open_session(context.store, None, now, PRE_LOGIN_LIFETIME)
        request.state.identity = Identity(None, "nobody", opened.session_id, opened.csrf_token)
    page = {"next_path": next_path, "problem": problem, "username": username}
    response = render(request, "login.html", page, status_code=status_code)
    if opened is not None:
        settings = context.settings.console
        set_session_cookie(response, request, settings, opened.session_id, opened.expires_at, now)
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, context: Context, next: str | None = None) -> Response:
    """The sign-in form (or straight on, for someone signed in already)."""
    if identify(request, context).user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, context, next_path=safe_next(next))


def _throttled(context: ConsoleContext, keys: list[str]) -> bool:
    settings = context.settings.console
    since = context.clock() - timedelta(seconds=settings.login_window_seconds)
    counts = failure_counts(context.store, keys, since)
    user_limit, address_limit = (
        settings.login_failures_per_user,
        settings.login_failures_per_address,
    )
    return counts.get(keys[0], 0) >= user_limit or counts.get(keys[1], 0) >= address_limit


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    context: Context,
    username: Annotated[str, Form(max_length=_FORM_MAX)],
    password: Annotated[str, Form(max_length=_FORM_MAX)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Check the password and open a session; the CSRF token was checked before this runs."""
    identity = identify(request, context)
    next_path = safe_next(next)
    if identity.csrf_token is None:
        problem = "Your sign-in form expired. Please sign in again."
        return _login_page(request, context, next_path=next_path, problem=problem, status_code=403)
    settings = context.settings.console
    address = client_address(request, settings)
    keys = [user_key(username), address_key(address)]
    if _throttled(context, keys):
        log.warning("console login throttled for %s from %s", _shown(username), address)
        minutes = max(1, settings.login_window_seconds // 60)
        problem = f"Too many failed sign-ins. Wait up to {minutes} minutes and try again."
        return _login_page(request, context, next_path=next_path, problem=problem, status_code=429)
    # A name no user can have is not looked up (PostgreSQL refuses NUL in a query).
    user = find_user(context.store, username) if valid_user_name(username) else None
    stored_hash = user.password_hash if user is not None and user.active else None
    if not password_matches(stored_hash, password) or user is None:
        now = context.clock()
        since = now - timedelta(seconds=settings.login_window_seconds)
        record_failure(context.store, keys, now, since)
        log.warning("console login failed for %s from %s", _shown(username), address)
        problem = "Wrong user name or password, or the user is disabled."
        return _login_page(
            request,
            context,
            next_path=next_path,
            problem=problem,
            username=username[:80],
            status_code=401,
        )
    clear_failures(context.store, keys[0])
    now = context.clock()
    opened = rotate_session(context.store, identity.session_id, user.name, now, _lifetime(context))
    log.info("console user %s signed in from %s", user.name, address)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, request, settings, opened.session_id, opened.expires_at, now)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, context: Context) -> Response:
    """End the session here and now, and go back to the sign-in form."""
    identity = identify(request, context)
    if identity.session_id is not None:
        end_session(context.store, identity.session_id)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request, context.settings.console)
    return response
