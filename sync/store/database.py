"""The Store: one SQLAlchemy engine, Alembic migrations, and transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sync.store.schema import dump_json

_MIGRATIONS = Path(__file__).parent / "migrations"


class StoreError(Exception):
    """The state store can't be opened or migrated; the message says which database and why."""


class StoreMissing(StoreError):
    """A read-only command found no store: nothing has run against this database yet."""


_POSTGRES_SCHEMES = {"postgres", "postgresql"}
_NO_DATABASE = re.compile(r'database "([^"]+)" does not exist')


def _alembic_config(connection: sa.Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (the CLI, a second process) see committed pages while a run writes;
    # busy_timeout makes a concurrent writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def store_url(url: str) -> sa.URL:
    """``url`` parsed, ``postgres://`` (as Heroku hands it out) and ``postgresql://`` on psycopg 3.

    Raises StoreError for a URL SQLAlchemy can't read.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(
            "database_url is not a database URL; use sqlite:///FILE or "
            "postgresql://USER@HOST/DATABASE"
        ) from None
    if parsed.drivername in _POSTGRES_SCHEMES:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url`` (None for another backend or an in-memory database)."""
    parsed = store_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def unreachable(display_url: str, error: sa.exc.DBAPIError) -> StoreError:
    """One line saying why the database at ``display_url`` can't be opened, and what to do."""
    reason = " ".join(str(error.orig).split()) if error.orig is not None else type(error).__name__
    missing = _NO_DATABASE.search(reason)
    if missing:
        name = missing.group(1)
        return StoreError(
            f"database {name} does not exist at {display_url}: create it with "
            f"`createdb {name}` (or CREATE DATABASE {name}), then run `revbridge db upgrade`"
        )
    reason = reason.split(" Is the server running")[0].rstrip(" .")
    return StoreError(
        f"cannot open the state store {display_url}: {reason}; check database_url "
        "and that the database server is running"
    )


def create_store_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the per-backend settings revbridge relies on."""
    parsed = store_url(url)
    # Payloads go in as read (Decimal, datetime included) and are serialized only once, here.
    engine = sa.create_engine(parsed, pool_pre_ping=True, json_serializer=dump_json)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
    return engine


class Store:
    """revbridge's state: SQLite by default, PostgreSQL in production."""

    def __init__(self, url: str, *, migrate: bool = True, must_exist: bool = False) -> None:
        """Open the store at ``url``; ``migrate`` brings it to the latest schema.

        ``must_exist`` (read-only commands) creates nothing: a missing SQLite file or an empty
        database raises StoreMissing.
        """
        self.url = url
        # Whether page commits write change events to the outbox; the engine factory turns it
        # off when no sink is configured, so an unread outbox never grows.
        self.record_events = True
        file = sqlite_file(url)
        if must_exist and file is not None and not file.is_file():
            raise StoreMissing(f"no state store at {file} yet: run `revbridge run` first")
        self.engine = create_store_engine(url)
        if must_exist and self.current_revision() is None:
            self.close()
            where = self.display_url
            raise StoreMissing(f"no state store at {where} yet: run `revbridge run` first")
        if migrate:
            self.upgrade()

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe to print."""
        return self.engine.url.render_as_string(hide_password=True)

    def head_revision(self) -> str | None:
        """The newest migration shipped with this version of revbridge."""
        return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()

    def current_revision(self) -> str | None:
        """The migration the database is at (None for an empty database)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except sa.exc.DBAPIError as error:
            raise unreachable(self.display_url, error) from None

    def upgrade(self, revision: str = "head") -> None:
        """Apply pending migrations up to ``revision``; cheap when already there."""
        target = self.head_revision() if revision == "head" else revision
        if self.current_revision() == target:
            return
        try:
            with self.engine.begin() as connection:
                command.upgrade(_alembic_config(connection), revision)
        except sa.exc.OperationalError as error:
            raise unreachable(self.display_url, error) from None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction that commits on success and rolls back on error."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()
