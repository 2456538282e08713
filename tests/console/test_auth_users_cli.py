"""``revbridge users ...`` against a real store (SQLite and PostgreSQL), and what it changes in
the console: roles, disabled users, reset passwords, API tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli.app import app
from sync.console.passwords import password_matches
from sync.store import Store
from sync.store.users import find_user
from tests.console.conftest import PASSWORD, ConsoleClient, ConsoleUsers

runner = CliRunner()


def _users(database_url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["users", *args, "--database-url", database_url], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_add_then_list_shows_each_user_with_role_and_status(store: Store) -> None:
    added = _users(store.url, "add", "ana", "--role", "support", stdin=f"{PASSWORD}\n")
    _users(store.url, "add", "ben", stdin=f"{PASSWORD}\n")
    _users(store.url, "disable", "ben")

    code, out, _ = _users(store.url, "list", "--json")

    assert added[0] == code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [
        ("ana", "support", "active"),
        ("ben", "viewer", "disabled"),
    ]
    stored = find_user(store, "ana")
    assert stored is not None
    assert stored.password_hash is not None
    assert PASSWORD not in stored.password_hash  # argon2, never the password
    assert password_matches(stored.password_hash, PASSWORD)


def test_a_generated_password_is_printed_once_and_works(store: Store) -> None:
    code, out, _ = _users(store.url, "add", "ana", "--generate-password")

    password = out.split("password (shown once): ")[1].strip()
    stored = find_user(store, "ana")
    assert code == 0
    assert stored is not None
    assert password_matches(stored.password_hash, password)


@pytest.mark.parametrize(
    ("args", "stdin", "code", "says"),
    [
        (["add", "ana", "--role", "root"], f"{PASSWORD}\n", 2, "not one of viewer, support"),
        (["add", "ana"], "short\n", 2, "at least 12 characters"),
        (["add", "[red]ana[/red]"], f"{PASSWORD}\n", 2, "[red]ana[/red]"),
        (["add", "ana\u0000x"], f"{PASSWORD}\n", 2, "is not valid"),
        (["disable", "nobody"], None, 1, "no user nobody"),
        (["reset-password", "nobody"], f"{PASSWORD}\n", 1, "no user nobody"),
        (["token", "nobody"], None, 1, "no user nobody"),
        (["revoke-token", "0123456789abcdef"], None, 1, "no live API token"),
    ],
)
def test_operator_mistakes_get_one_line_and_an_exit_code(
    store: Store, args: list[str], stdin: str | None, code: int, says: str
) -> None:
    answer = _users(store.url, *args, stdin=stdin)

    assert answer[0] == code
    assert says in answer[2]
    assert "Traceback" not in answer[1] + answer[2]


def test_a_taken_name_is_refused(store: Store) -> None:
    _users(store.url, "add", "ana", stdin=f"{PASSWORD}\n")

    code, _, err = _users(store.url, "add", "ana", stdin=f"{PASSWORD}\n")

    assert (code, err.strip()) == (1, "error: user ana exists already")


def test_a_store_that_cannot_be_opened_is_one_line_and_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'revbridge.db'}"

    code, out, err = _users(url, "list")

    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in out + err


def test_a_token_is_printed_alone_works_with_the_role_and_stops_when_revoked(
    console_users: ConsoleUsers, store: Store
) -> None:
    _users(store.url, "add", "script", "--role", "support", stdin=f"{PASSWORD}\n")
    code, out, err = _users(store.url, "token", "script")
    token, token_id = out.strip(), err.split()[1]
    client = ConsoleClient(console_users.app, follow_redirects=False)
    bearer = {"authorization": f"Bearer {token}"}

    assert code == 0
    assert token.startswith("rbt_")
    assert "\n" not in token
    assert client.get("/api/overview", headers=bearer).status_code == 200
    assert _users(store.url, "revoke-token", token_id)[0] == 0
    assert client.get("/api/overview", headers=bearer).status_code == 401


def test_disable_and_reset_password_end_sessions_at_once(
    console_users: ConsoleUsers, store: Store
) -> None:
    viewer = console_users.signed_in("viewer")
    support = console_users.signed_in("support")

    _users(store.url, "disable", "viewer-user")
    _users(store.url, "reset-password", "support-user", stdin="another long password\n")

    assert viewer.get("/api/overview").status_code == 401
    assert support.get("/api/overview").status_code == 401
