"""Console fixtures: a store on SQLite and PostgreSQL, the app, a client signed in as each role,
and a live uvicorn server on a free loopback port for browser tests.

Clients signed in by these fixtures hold a session opened in the store (as a login would) and
send its CSRF token on every request, so a test states the behaviour it is about and nothing
else. Tests of login itself go through the form.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import Settings
from sync.console.app import create_console_app
from sync.console.auth import CSRF_HEADER, SESSION_COOKIE
from sync.console.context import ConsoleContext, utc_now
from sync.console.passwords import hash_password
from sync.service.http_server import HttpServer
from sync.store import Store
from sync.store.user_sessions import open_session
from sync.store.users import Role, add_user

PASSWORD = "correct horse battery staple"
# Values a page must never show: the console says which systems are configured, not how.
SECRET_VALUES = ("sf-password-Zq81", "sk_test_console_secret_77", "erp-token-secret-XK2")


def console_settings_document(database_url: str, **console: Any) -> dict[str, Any]:
    """A configuration (as YAML would hold it) whose systems are configured, not reachable."""
    return {
        "database_url": database_url,
        "salesforce": {
            "login_url": "https://login.invalid",
            "username": "integration@example.com",
            "password": SECRET_VALUES[0],
            "security_token": "sf-token-Zq81",
        },
        "billing": {"base_url": "https://billing.invalid", "api_key": SECRET_VALUES[1]},
        "erp": {
            "wsdl_url": "https://erp.invalid/wsdl",
            "account": "1234567",
            "consumer_key": "ck",
            "consumer_secret": "erp-consumer-secret-XK2",
            "token_id": "tid",
            "token_secret": SECRET_VALUES[2],
        },
        "console": console,
    }


def console_settings(database_url: str, **console: Any) -> Settings:
    """Settings for a console over ``database_url``."""
    return Settings.model_validate(console_settings_document(database_url, **console))


@pytest.fixture
def console_context(store: Store) -> ConsoleContext:
    """The console's context over the test's store (SQLite or PostgreSQL)."""
    return ConsoleContext(store=store, settings=console_settings(store.url))


@pytest.fixture
def console_app(console_context: ConsoleContext) -> FastAPI:
    """The console app, as `revbridge console` serves it."""
    return create_console_app(console_context)


class ConsoleClient(TestClient):
    """A test client; when signed in, it knows its user and sends its CSRF token."""

    user_name: str | None = None
    csrf_token: str | None = None


@dataclass(frozen=True)
class ConsoleUsers:
    """Adds users to the store and hands out clients signed in as them."""

    app: FastAPI
    store: Store

    def add(self, name: str, role: Role, password: str = PASSWORD) -> str:
        """Add an active user; its name."""
        add_user(self.store, name, role, hash_password(password), utc_now())
        return name

    def client_for(self, name: str) -> ConsoleClient:
        """A client holding a new session of ``name`` and sending its CSRF token."""
        opened = open_session(self.store, name, utc_now(), timedelta(hours=1))
        client = ConsoleClient(self.app, follow_redirects=False)
        client.cookies.set(SESSION_COOKIE, opened.session_id)
        client.headers[CSRF_HEADER] = opened.csrf_token
        client.user_name, client.csrf_token = name, opened.csrf_token
        return client

    def signed_in(self, role: Role) -> ConsoleClient:
        """A client signed in as a new user named after ``role``."""
        return self.client_for(self.add(f"{role}-user", role))


@pytest.fixture
def console_users(console_app: FastAPI, store: Store) -> ConsoleUsers:
    """Users of the console under test."""
    return ConsoleUsers(console_app, store)


@pytest.fixture
def anonymous_client(console_app: FastAPI) -> Iterator[ConsoleClient]:
    """A client nobody signed in with."""
    with ConsoleClient(console_app, follow_redirects=False) as client:
        yield client


def _signed_in(users: ConsoleUsers, role: Role) -> Iterator[ConsoleClient]:
    with users.signed_in(role) as client:
        yield client


@pytest.fixture
def viewer_client(console_users: ConsoleUsers) -> Iterator[ConsoleClient]:
    """A client signed in as a viewer."""
    yield from _signed_in(console_users, "viewer")


@pytest.fixture
def support_client(console_users: ConsoleUsers) -> Iterator[ConsoleClient]:
    """A client signed in as support staff."""
    yield from _signed_in(console_users, "support")


@pytest.fixture
def admin_client(console_users: ConsoleUsers) -> Iterator[ConsoleClient]:
    """A client signed in as an admin."""
    yield from _signed_in(console_users, "admin")


@dataclass(frozen=True)
class LiveConsole:
    """A console served by uvicorn on a loopback port, and users to sign in with."""

    url: str
    users: ConsoleUsers
    password: str = PASSWORD


@pytest.fixture
def live_console(console_app: FastAPI, console_users: ConsoleUsers) -> Iterator[LiveConsole]:
    """The console under uvicorn on a free loopback port (for a browser)."""
    server = HttpServer(console_app, "127.0.0.1", 0).start()
    try:
        yield LiveConsole(f"http://127.0.0.1:{server.port}", console_users)
    finally:
        server.stop()
