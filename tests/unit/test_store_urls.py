"""Store URLs: postgres:// accepted, connection failures one line that says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.store import Store
from sync.store.database import StoreError, StoreMissing, sqlite_file, store_url, unreachable


@pytest.mark.parametrize(
    "url",
    ["postgres://u@db/rev", "postgresql://u@db/rev", "postgresql+psycopg://u@db/rev"],
)
def test_postgres_urls_run_on_psycopg_3(url: str) -> None:
    assert store_url(url).drivername == "postgresql+psycopg"


def test_a_url_that_is_not_one_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        store_url("revbridge.db")


def test_sqlite_file_names_the_file_and_nothing_else() -> None:
    assert sqlite_file("sqlite:////srv/rb.db") == Path("/srv/rb.db")
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://u@db/rev") is None


def test_a_database_that_does_not_exist_says_how_to_create_it() -> None:
    orig = Exception('connection failed: FATAL:  database "revbridge" does not exist')
    error = sa.exc.OperationalError("connect", {}, orig)

    message = str(unreachable("postgresql+psycopg://u@db/revbridge", error))

    assert "createdb revbridge" in message
    assert "\n" not in message


def test_a_refused_connection_is_one_line() -> None:
    orig = Exception(
        'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
        "refused\n\tIs the server running on that host and accepting TCP/IP connections?"
    )
    error = sa.exc.OperationalError("connect", {}, orig)

    message = str(unreachable("postgresql+psycopg://u@127.0.0.1:1/rev", error))

    assert message.endswith("check database_url and that the database server is running")
    assert "\n" not in message
    assert "  " not in message


def test_a_read_only_open_creates_no_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "revbridge.db"

    with pytest.raises(StoreMissing, match=r"no state store at .* yet"):
        Store(f"sqlite:///{database}", must_exist=True)

    assert not database.exists()
