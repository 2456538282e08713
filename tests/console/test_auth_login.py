"""Signing in and out of the console through its form, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from sync.console.auth import SESSION_COOKIE
from tests.console.conftest import PASSWORD, ConsoleClient, ConsoleUsers


def _form_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, page
    return match.group(1)


def _sign_in(
    client: TestClient, name: str, password: str = PASSWORD, next_path: str = "/"
) -> tuple[int, str | None]:
    form = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": name,
            "password": password,
            "next": next_path,
            "csrf_token": _form_token(form.text),
        },
    )
    return answer.status_code, answer.headers.get("location")


def test_a_user_signs_in_with_the_form_and_lands_where_they_were_going(
    console_users: ConsoleUsers, anonymous_client: ConsoleClient
) -> None:
    console_users.add("ana", "viewer")

    status, location = _sign_in(anonymous_client, "ana", next_path="/runs?page=2")

    assert (status, location) == (303, "/runs?page=2")
    assert anonymous_client.get("/login").status_code == 303  # signed in: straight on


def test_the_session_cookie_is_httponly_and_samesite_lax(
    console_users: ConsoleUsers, anonymous_client: ConsoleClient
) -> None:
    console_users.add("ana", "viewer")
    form = anonymous_client.get("/login")
    answer = anonymous_client.post(
        "/login",
        data={"username": "ana", "password": PASSWORD, "csrf_token": _form_token(form.text)},
    )

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http from a client that is no trusted proxy


def test_a_wrong_password_or_unknown_user_is_refused_alike(
    console_users: ConsoleUsers, anonymous_client: ConsoleClient
) -> None:
    console_users.add("ana", "viewer")

    wrong = _sign_in(anonymous_client, "ana", "not the password")
    unknown = _sign_in(anonymous_client, "nobody", PASSWORD)

    assert wrong == unknown == (401, None)


def test_the_next_address_never_leads_off_the_site(console_users: ConsoleUsers) -> None:
    console_users.add("ana", "viewer")
    for hostile in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"):
        with ConsoleClient(console_users.app, follow_redirects=False) as client:
            assert _sign_in(client, "ana", next_path=hostile) == (303, "/")


def test_a_body_over_a_megabyte_is_refused_before_anyone_reads_it(
    anonymous_client: ConsoleClient,
) -> None:
    form = anonymous_client.get("/login")

    answer = anonymous_client.post(
        "/login",
        data={"username": "a" * (2 << 20), "password": "x", "csrf_token": _form_token(form.text)},
    )

    assert answer.status_code == 413
