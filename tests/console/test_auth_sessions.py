"""Sessions, API tokens, throttling and proxies of the console, on SQLite and PostgreSQL.

Each test states one promise: logout and disabling end a session on its next request, a
session id from before login opens nothing after it, tokens stop when revoked, failed logins
are throttled per user and per address, and proxy headers count only from trusted proxies.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from sync.console.app import create_console_app
from sync.console.auth import SESSION_COOKIE
from sync.console.context import ConsoleContext
from sync.store import Store
from sync.store.api_tokens import issue_token, revoke_token
from sync.store.user_sessions import find_session, open_session
from sync.store.users import disable_user, set_password_hash
from tests.console.conftest import PASSWORD, ConsoleClient, ConsoleUsers, console_settings

PROXY = ("10.1.2.3", 40000)
STRANGER = ("192.0.2.77", 40000)


def _now() -> datetime:
    return datetime.now(UTC)


def _signed_in(client: ConsoleClient) -> bool:
    """Whether ``client`` gets the overview (not sent to login)."""
    return client.get("/api/overview").status_code not in (401, 403) and (
        client.get("/").status_code != 303
    )


def _form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


def _login(client: ConsoleClient, name: str, password: str = PASSWORD, **headers: str) -> Any:
    form = client.get("/login", headers=headers)
    data = {"username": name, "password": password, "csrf_token": _form_token(form.text)}
    return client.post("/login", data=data, headers=headers)


def _app(store: Store, **console: Any) -> FastAPI:
    return create_console_app(ConsoleContext(store, console_settings(store.url, **console)))


def test_logout_ends_the_session_at_once(console_users: ConsoleUsers) -> None:
    client = console_users.signed_in("support")
    session_id = client.cookies[SESSION_COOKIE]
    assert _signed_in(client)

    assert client.post("/logout").status_code == 303

    replayed = ConsoleClient(console_users.app, follow_redirects=False)
    replayed.cookies.set(SESSION_COOKIE, session_id)
    assert not _signed_in(replayed)


def test_a_disabled_users_session_dies_on_its_next_request(
    console_users: ConsoleUsers, store: Store
) -> None:
    client = console_users.signed_in("support")
    assert _signed_in(client)

    disable_user(store, "support-user", _now())

    assert client.get("/api/overview").status_code == 401
    assert client.get("/errors").headers["location"] == "/login?next=%2Ferrors"


def test_a_new_password_ends_the_old_sessions(console_users: ConsoleUsers, store: Store) -> None:
    client = console_users.signed_in("viewer")

    set_password_hash(store, "viewer-user", "$argon2id$v=19$m=65536,t=3,p=4$bm90$bm90")

    assert not _signed_in(client)


def test_a_session_id_from_before_login_opens_nothing_after_it(
    console_users: ConsoleUsers, store: Store, anonymous_client: ConsoleClient
) -> None:
    console_users.add("ana", "support")
    anonymous_client.get("/login")
    before = anonymous_client.cookies[SESSION_COOKIE]

    answer = _login(anonymous_client, "ana")

    after = answer.cookies[SESSION_COOKIE]
    assert after != before
    assert find_session(store, before, _now()) is None
    planted = ConsoleClient(console_users.app, follow_redirects=False)
    planted.cookies.set(SESSION_COOKIE, before)
    assert not _signed_in(planted)


def test_an_expired_session_opens_nothing(console_users: ConsoleUsers, store: Store) -> None:
    console_users.add("ana", "viewer")
    opened = open_session(store, "ana", _now() - timedelta(hours=2), timedelta(hours=1))
    client = ConsoleClient(console_users.app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, opened.session_id)

    assert not _signed_in(client)


@pytest.mark.parametrize(
    "cookie", ["", "x" * 5000, "<script>alert(1)</script>", "\u0000\u202e", "' OR 1=1 --"]
)
def test_a_forged_session_cookie_is_no_session(console_users: ConsoleUsers, cookie: str) -> None:
    client = ConsoleClient(console_users.app, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, cookie.encode("unicode_escape").decode())

    assert client.get("/api/overview").status_code == 401


def test_api_tokens_carry_their_users_role_until_revoked_or_the_user_is_disabled(
    console_users: ConsoleUsers, store: Store
) -> None:
    console_users.add("script", "viewer")
    issued = issue_token(store, "script", _now())
    other = issue_token(store, "script", _now())
    client = ConsoleClient(console_users.app, follow_redirects=False)
    bearer = {"authorization": f"Bearer {issued.token}"}

    assert client.get("/api/overview", headers=bearer).status_code == 200
    assert client.post("/api/errors/retry", headers=bearer, json={}).status_code == 403

    revoke_token(store, issued.token_id, _now())
    assert client.get("/api/overview", headers=bearer).status_code == 401
    disable_user(store, "script", _now())
    disabled = {"authorization": f"Bearer {other.token}"}
    assert client.get("/api/overview", headers=disabled).status_code == 401


@pytest.mark.parametrize("token", ["rbt_nope", "", "x" * 10_000, "rbt_\u00e9\u0000"])
def test_a_wrong_api_token_is_401_even_on_a_page(console_users: ConsoleUsers, token: str) -> None:
    client = ConsoleClient(console_users.app, follow_redirects=False)
    header = f"Bearer {token}".encode("unicode_escape").decode()

    answer = client.get("/errors", headers={"authorization": header})

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_failed_logins_are_throttled_per_user(store: Store) -> None:
    app = _app(store, login_failures_per_user=3, login_failures_per_address=100)
    users = ConsoleUsers(app, store)
    users.add("ana", "viewer")
    users.add("ben", "viewer")
    client = ConsoleClient(app, follow_redirects=False)

    tries = [_login(client, "ana", "wrong password!").status_code for _ in range(3)]
    right_but_late = _login(client, "ana").status_code
    ben = _login(ConsoleClient(app, follow_redirects=False), "ben").status_code

    assert (tries, right_but_late, ben) == ([401, 401, 401], 429, 303)


def test_failed_logins_are_throttled_per_address(store: Store) -> None:
    app = _app(store, login_failures_per_user=100, login_failures_per_address=3)
    ConsoleUsers(app, store).add("ana", "viewer")
    client = ConsoleClient(app, follow_redirects=False)
    elsewhere = ConsoleClient(app, follow_redirects=False, client=STRANGER)

    tries = [_login(client, f"guess{n}", "wrong password!").status_code for n in range(3)]
    blocked = _login(client, "ana").status_code
    other_address = _login(elsewhere, "ana").status_code

    assert (tries, blocked, other_address) == ([401, 401, 401], 429, 303)


def test_a_trusted_proxy_names_the_user_and_forms_still_need_the_csrf_token(
    store: Store,
) -> None:
    app = _app(store, trusted_proxies=["10.1.2.0/24"], proxy_user_header="X-Forwarded-User")
    ConsoleUsers(app, store).add("ana", "support")
    client = ConsoleClient(app, follow_redirects=False, client=PROXY)
    client.headers["X-Forwarded-User"] = "ana"

    page = client.get("/errors")
    assert page.status_code == 200
    assert "ana" in page.text
    assert SESSION_COOKIE in client.cookies  # the session its forms' CSRF token rides on
    assert client.post("/api/errors/ignore", json={}).status_code == 403


@pytest.mark.parametrize("peer", [STRANGER, ("testclient", 50000)])
def test_the_proxy_header_from_anyone_else_signs_nobody_in(
    store: Store, peer: tuple[str, int]
) -> None:
    app = _app(store, trusted_proxies=["10.1.2.0/24"], proxy_user_header="X-Forwarded-User")
    ConsoleUsers(app, store).add("ana", "admin")
    client = ConsoleClient(app, follow_redirects=False, client=peer)

    answer = client.get("/api/overview", headers={"X-Forwarded-User": "ana"})

    assert answer.status_code == 401


def test_a_proxy_naming_an_unknown_user_signs_nobody_in(store: Store) -> None:
    app = _app(store, trusted_proxies=["10.1.2.0/24"], proxy_user_header="X-Forwarded-User")
    client = ConsoleClient(app, follow_redirects=False, client=PROXY)

    answer = client.get("/api/overview", headers={"X-Forwarded-User": "mallory"})

    assert answer.status_code == 401


def test_the_cookie_is_secure_when_a_trusted_proxy_says_https_and_only_then(
    store: Store,
) -> None:
    app = _app(store, trusted_proxies=["10.1.2.0/24"])
    ConsoleUsers(app, store).add("ana", "viewer")
    https = {"X-Forwarded-Proto": "https"}

    behind_proxy = _login(ConsoleClient(app, follow_redirects=False, client=PROXY), "ana", **https)
    claimed = _login(ConsoleClient(app, follow_redirects=False, client=STRANGER), "ana", **https)

    assert "Secure" in behind_proxy.headers["set-cookie"]
    assert "Secure" not in claimed.headers["set-cookie"]


def test_a_login_form_without_its_session_is_refused(console_users: ConsoleUsers) -> None:
    console_users.add("ana", "viewer")
    client = ConsoleClient(console_users.app, follow_redirects=False)

    answer = client.post("/login", data={"username": "ana", "password": PASSWORD})

    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies or answer.cookies[SESSION_COOKIE] != ""


@pytest.mark.parametrize(
    "username",
    ['<script>alert("x")</script>', '"onmouseover="alert(1)', "[link=https://evil]x[/link]",
     "ana\r\nSet-Cookie: x=1", "\u0000\u202e", "a" * 1024],
)  # fmt: skip
def test_a_hostile_user_name_is_refused_and_shown_back_as_text(
    console_users: ConsoleUsers, username: str
) -> None:
    client = ConsoleClient(console_users.app, follow_redirects=False)

    answer = _login(client, username)

    assert answer.status_code == 401
    assert "<script>alert" not in answer.text
    assert 'value=""onmouseover' not in answer.text
    assert "x=1" not in answer.headers.get("set-cookie", "")
