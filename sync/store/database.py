"""The Store: one SQLAlchemy engine, Alembic migrations, and transactions."""

from __future__ import annotations

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


def _alembic_config(connection: sa.Connection) -> Config:
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


def create_store_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the per-backend settings revbridge relies on."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Payloads go in as read (Decimal, datetime included) and are serialized only once, here.
    engine = sa.create_engine(parsed, pool_pre_ping=True, json_serializer=dump_json)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _on_sqlite_connect)
    return engine


class Store:
    """revbridge's state: SQLite by default, PostgreSQL in production."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        if migrate:
            self.upgrade()

    @property
    def display_url(self) -> str:
        """The URL with any password masked, safe to print."""
        return self.engine.url.render_as_string(hide_password=True)

    def head_revision(self) -> str | None:
        """The newest migration shipped with this version of revbridge."""
        with self.engine.connect() as connection:
            return ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()

    def current_revision(self) -> str | None:
        """The migration the database is at (None for an empty database)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except sa.exc.OperationalError as error:
            raise StoreError(f"cannot open {self.display_url}: {error.orig}") from None

    def upgrade(self, revision: str = "head") -> None:
        """Apply pending migrations up to ``revision``; cheap when already there."""
        target = self.head_revision() if revision == "head" else revision
        if self.current_revision() == target:
            return
        with self.engine.begin() as connection:
            command.upgrade(_alembic_config(connection), revision)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction that commits on success and rolls back on error."""
        with self.engine.begin() as connection:
            yield connection

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()
