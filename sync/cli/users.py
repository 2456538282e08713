"""``revbridge users ...``: the console's users and their API tokens.

A password is read from the terminal (asked twice), from one line of standard input when that
is no terminal (``--password-stdin`` says so explicitly), or made up with
``--generate-password`` and printed once. It is never an option: options land in shell
history and in ``ps``.

Exit codes: 0 done; 1 no such user or token, or the name is taken; 2 the command line, the
configuration or the password is invalid, or the store can't be opened.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from sync.cli.common import ConfigOption, DatabaseOption, JsonOption, console, database_url, fail
from sync.cli.common import open_store as open_state_store
from sync.cli.output import plain
from sync.console.passwords import hash_password, password_problem
from sync.store import Store
from sync.store.api_tokens import issue_token, live_token_counts, revoke_token
from sync.store.users import (
    ROLES,
    Role,
    UserError,
    add_user,
    disable_user,
    list_users,
    set_password_hash,
    valid_user_name,
)

users_app = typer.Typer(help="Console users, their roles and API tokens.", no_args_is_help=True)

RoleOption = Annotated[
    str, typer.Option("--role", help=f"What the user may do: {', '.join(ROLES)}.")
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
]
GeneratePassword = Annotated[
    bool, typer.Option("--generate-password", help="Make up a password and print it once.")
]


def _now() -> datetime:
    return datetime.now(UTC)


def _store(config: ConfigOption, database: DatabaseOption) -> Store:
    return open_state_store(database_url(database, config))


@contextmanager
def _changing_users(config: ConfigOption, database: DatabaseOption) -> Iterator[Store]:
    """The store, closed after; a refused change (no such user, name taken) exits 1."""
    store = _store(config, database)
    try:
        yield store
    except UserError as error:
        raise fail(str(error), code=1) from None
    finally:
        store.close()


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _password(from_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new password, and whether to print it (made up here)."""
    if generate:
        return secrets.token_urlsafe(18), True
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password)
    if problem is not None:
        raise fail(problem)
    return password, False


def _role(value: str) -> Role:
    for role in ROLES:
        if value == role:
            return role
    raise fail(f"--role {value!r} is not one of {', '.join(ROLES)}")


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    role: RoleOption = "viewer",
    password_stdin: PasswordStdin = False,
    generate_password: GeneratePassword = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Add a console user with a role."""
    chosen = _role(role)
    if not valid_user_name(name):
        raise fail(f"user name {name!r} is not valid: use letters, digits and . _ @ -")
    password, show = _password(password_stdin, generate_password)
    with _changing_users(config, database) as store:
        add_user(store, name, chosen, hash_password(password), _now())
    _say(f"added {name} ({chosen})")
    if show:
        _say(f"password (shown once): {password}")


@users_app.command("list")
def list_command(
    config: ConfigOption = None, database: DatabaseOption = None, as_json: JsonOption = False
) -> None:
    """List the console users, their roles, and whether they may sign in."""
    # Listing reads: no store there yet is an error, not a new empty one.
    store = open_state_store(database_url(database, config), read_only=True)
    try:
        users, tokens = list_users(store), live_token_counts(store)
    finally:
        store.close()
    rows = [
        {
            "name": user.name,
            "role": user.role,
            "status": "active" if user.active else "disabled",
            "api_tokens": tokens.get(user.name, 0),
            "created_at": user.created_at.isoformat(),
        }
        for user in users
    ]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table(title="console users", title_justify="left")
    for column in ("name", "role", "status", "api tokens", "created"):
        table.add_column(column)
    for row in rows:
        table.add_row(*plain(*row.values()))
    console.print(table)


@users_app.command("disable")
def disable(name: str, config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Stop a user signing in; their sessions and API tokens stop working at once."""
    with _changing_users(config, database) as store:
        disable_user(store, name, _now())
    _say(f"disabled {name}")


@users_app.command("reset-password")
def reset_password(
    name: str,
    password_stdin: PasswordStdin = False,
    generate_password: GeneratePassword = False,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Set a user's password; their sessions end at once."""
    password, show = _password(password_stdin, generate_password)
    with _changing_users(config, database) as store:
        set_password_hash(store, name, hash_password(password))
    _say(f"password of {name} changed")
    if show:
        _say(f"password (shown once): {password}")


@users_app.command("token")
def token(name: str, config: ConfigOption = None, database: DatabaseOption = None) -> None:
    """Issue an API token acting with NAME's role; it is printed once, on stdout alone."""
    with _changing_users(config, database) as store:
        issued = issue_token(store, name, _now())
    # The id goes to stderr, the token alone to stdout: `TOKEN=$(revbridge users token ana)`.
    typer.echo(f"token {issued.token_id} for {name} (revoke: users revoke-token)", err=True)
    typer.echo(issued.token)


@users_app.command("revoke-token")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (printed when issued).")],
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Revoke an API token; requests with it are refused at once."""
    with _changing_users(config, database) as store:
        revoke_token(store, token_id, _now())
    _say(f"revoked token {token_id}")
