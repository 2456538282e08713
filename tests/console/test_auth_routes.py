"""Every route of the console, walked: who gets in, who is turned away, and how.

The routes are read from the app itself, so a page or API route added later is covered the
day it appears. For each route and method:

- nobody signed in: a page redirects to ``/login?next=...`` (303), ``/api/...`` answers 401;
- a state-changing request without the session's CSRF token, or with a wrong one, is 403,
  even for an admin; an admin with the right token or an admin's API token is not refused;
- a viewer gets 403 on every state-changing route (with a good token, by session or API);
- a viewer reads every page and API route without a refusal.

Offenders are collected and reported together, one line per route.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sync.console.auth import CSRF_HEADER, SAFE_METHODS
from sync.store.api_tokens import issue_token
from tests.console.conftest import SECRET_VALUES, ConsoleClient, ConsoleUsers

# The login form is the way in, and logout works for anyone (it only ends a session).
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
REFUSED = (401, 403)


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI keeps an included router as one entry holding the original router.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _walk(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, a concrete path) for every console route; path parameters get dummy values."""
    for route in _api_routes(app.routes):
        path = route.path_format
        for name in route.param_convertors:
            path = path.replace(f"{{{name}}}", "1")
        for method in sorted(route.methods or ()):
            if (method, route.path_format) not in PUBLIC:
                yield method, path


def _call(client: ConsoleClient, method: str, path: str, **headers: str) -> tuple[int, str]:
    answer = client.request(method, path, headers=headers)
    return answer.status_code, answer.headers.get("location", "")


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def test_the_walk_finds_the_console_routes(console_app: FastAPI) -> None:
    walked = set(_walk(console_app))
    assert ("GET", "/api/openapi.json") in walked
    # The pages and the API come from sync.console.views; a walk over nothing would pass.
    assert len(walked) > 5, walked


def test_nobody_signed_in_is_sent_to_login_from_pages_and_gets_401_from_the_api(
    console_app: FastAPI, anonymous_client: ConsoleClient
) -> None:
    offenders = []
    for method, path in _walk(console_app):
        status, location = _call(anonymous_client, method, path)
        if _is_api(path):
            expected = status == 401
        else:
            expected = status == 303 and location.startswith("/login?next=")
        if not expected:
            offenders.append(f"{method} {path}: {status} {location}")
    assert offenders == []


def test_a_state_change_without_the_right_csrf_token_is_403_even_for_an_admin(
    console_app: FastAPI, console_users: ConsoleUsers
) -> None:
    admin = console_users.signed_in("admin")
    token = admin.headers.pop(CSRF_HEADER)
    offenders = []
    for method, path in _walk(console_app):
        if method in SAFE_METHODS:
            continue
        missing, _ = _call(admin, method, path)
        wrong, _ = _call(admin, method, path, **{CSRF_HEADER: token[:-2] + "xx"})
        if (missing, wrong) != (403, 403):
            offenders.append(f"{method} {path}: no token {missing}, wrong token {wrong}")
    assert offenders == []


def test_an_admin_with_the_right_token_or_an_api_token_is_not_refused(
    console_app: FastAPI, console_users: ConsoleUsers
) -> None:
    admin = console_users.signed_in("admin")
    api_token = issue_token(console_users.store, "admin-user", datetime.now(UTC)).token
    scripted = ConsoleClient(console_app, follow_redirects=False)
    offenders = []
    for method, path in _walk(console_app):
        by_session, _ = _call(admin, method, path)
        by_token, _ = _call(scripted, method, path, authorization=f"Bearer {api_token}")
        if by_session in REFUSED or by_token in REFUSED:
            offenders.append(f"{method} {path}: session {by_session}, API token {by_token}")
    assert offenders == []


def test_a_viewer_reads_everything_and_changes_nothing(
    console_app: FastAPI, console_users: ConsoleUsers
) -> None:
    viewer = console_users.signed_in("viewer")
    api_token = issue_token(console_users.store, "viewer-user", datetime.now(UTC)).token
    scripted = ConsoleClient(console_app, follow_redirects=False)
    offenders = []
    for method, path in _walk(console_app):
        by_session, location = _call(viewer, method, path)
        by_token, _ = _call(scripted, method, path, authorization=f"Bearer {api_token}")
        if method in SAFE_METHODS:
            refused = by_session in REFUSED or by_token in REFUSED or "/login" in location
            if refused:
                offenders.append(f"{method} {path}: viewer refused ({by_session}, {by_token})")
        elif (by_session, by_token) != (403, 403):
            offenders.append(f"{method} {path}: viewer got {by_session} and {by_token}")
    assert offenders == []


def test_no_page_or_api_answer_shows_a_configured_secret(
    console_app: FastAPI, console_users: ConsoleUsers
) -> None:
    admin = console_users.signed_in("admin")
    shown = []
    for method, path in [*_walk(console_app), ("GET", "/login")]:
        if method not in SAFE_METHODS:
            continue
        body = admin.request(method, path).text
        shown += [f"{path}: {secret}" for secret in SECRET_VALUES if secret in body]
    assert shown == []
