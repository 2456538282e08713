"""Who is asking, and may they: the console's FastAPI dependencies for roles and CSRF.

A request is authenticated by exactly one of, in this order:

- an API token (``Authorization: Bearer rbt_...``), for scripts; exempt from CSRF, because a
  browser never adds that header on its own. A wrong token is a 401, never a fall-through;
- a trusted authenticating proxy's user header (``console.proxy_user_header``), believed only
  from ``console.trusted_proxies``. The user must exist here (roles live here); the first
  request opens a session for them so forms carry a CSRF token like anyone else's;
- the session cookie set at login.

Routes say what they need with :data:`ViewerUser`, :data:`SupportUser` or :data:`AdminUser`
(support implies viewer, admin implies support). Nobody signed in: :class:`NotAuthenticated`
(the app answers pages with a 303 to ``/login`` and ``/api/`` with a 401). Too small a role or
a bad CSRF token: :class:`Forbidden` (403). :func:`enforce_csrf` runs before every route.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from sync.console.context import ConsoleContext, Context
from sync.console.proxies import proxy_user
from sync.store.api_tokens import find_token_user
from sync.store.user_sessions import FoundSession, find_session, open_session
from sync.store.users import ConsoleUserRow, Role, find_user, valid_user_name

log = logging.getLogger("revbridge.console")

SESSION_COOKIE = "revbridge_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RANK: dict[Role, int] = {"viewer": 0, "support": 1, "admin": 2}


@dataclass(frozen=True)
class ConsoleUser:
    """A signed-in person (or a script acting as one) and their role."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        """Whether this user's role includes ``role``."""
        return _RANK[self.role] >= _RANK[role]


Via = Literal["token", "proxy", "session", "nobody"]


@dataclass(frozen=True)
class Identity:
    """How a request is authenticated: its user, by what, and its session's CSRF token."""

    user: ConsoleUser | None
    via: Via
    session_id: str | None = None
    csrf_token: str | None = None


class NotAuthenticated(Exception):
    """Nobody is signed in (or the API token is wrong)."""


class Forbidden(Exception):
    """Signed in, but not allowed: the role is too small or the CSRF token is wrong."""


def _user(row: ConsoleUserRow | None) -> ConsoleUser | None:
    return ConsoleUser(row.name, row.role) if row is not None and row.active else None


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _session(request: Request, context: ConsoleContext) -> tuple[str, FoundSession] | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 200:
        return None
    found = find_session(context.store, session_id, context.clock())
    return None if found is None else (session_id, found)


def _by_proxy(request: Request, context: ConsoleContext, name: str) -> Identity:
    session = _session(request, context)
    if session is not None and session[1].user is not None and session[1].user.name == name:
        session_id, found = session
        return Identity(_user(found.user), "proxy", session_id, found.csrf_token)
    user = _user(find_user(context.store, name)) if valid_user_name(name) else None
    if user is None:
        log.warning("the proxy named console user %r, who is unknown or disabled", name[:80])
        return Identity(None, "nobody")
    lifetime = timedelta(hours=context.settings.console.session_hours)
    opened = open_session(context.store, user.name, context.clock(), lifetime)
    request.state.new_session = opened  # the app's middleware sets the cookie on the answer
    return Identity(user, "proxy", opened.session_id, opened.csrf_token)


def _identify(request: Request, context: ConsoleContext) -> Identity:
    token = _bearer(request)
    if token is not None:
        user = _user(find_token_user(context.store, token)) if len(token) <= 200 else None
        if user is None:
            raise NotAuthenticated("the API token is unknown, revoked or its user disabled")
        return Identity(user, "token")
    named = proxy_user(request, context.settings.console)
    if named is not None:
        return _by_proxy(request, context, named)
    session = _session(request, context)
    if session is None:
        return Identity(None, "nobody")
    session_id, found = session
    return Identity(_user(found.user), "session", session_id, found.csrf_token)


def identify(request: Request, context: ConsoleContext) -> Identity:
    """This request's identity, looked up once per request."""
    known: Identity | None = getattr(request.state, "identity", None)
    if known is None:
        known = _identify(request, context)
        request.state.identity = known
    return known


async def _supplied_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        # Starlette keeps the parsed form on the request, so the route reads it again freely.
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def enforce_csrf(request: Request, context: Context) -> None:
    """Refuse a state-changing request whose session's CSRF token is missing or wrong.

    Runs before every console route. A request with no session at all passes here and meets
    the route's own role dependency (401 or a redirect to login).
    """
    if request.method in SAFE_METHODS:
        return
    # The lookup queries the store: off the event loop, which must keep answering /healthz.
    identity = await run_in_threadpool(identify, request, context)
    if identity.via == "token" or identity.csrf_token is None:
        return
    supplied = await _supplied_csrf(request)
    if not hmac.compare_digest(supplied.encode(), identity.csrf_token.encode()):
        raise Forbidden("the CSRF token is missing or wrong: reload the page and try again")


def _requires(role: Role) -> Callable[[Request, ConsoleContext], ConsoleUser]:
    def dependency(request: Request, context: Context) -> ConsoleUser:
        user = identify(request, context).user
        if user is None:
            raise NotAuthenticated("sign in first")
        if not user.may(role):
            raise Forbidden(f"this needs the {role} role; {user.name} is a {user.role}")
        return user

    return dependency


ViewerUser = Annotated[ConsoleUser, Depends(_requires("viewer"))]
SupportUser = Annotated[ConsoleUser, Depends(_requires("support"))]
AdminUser = Annotated[ConsoleUser, Depends(_requires("admin"))]
