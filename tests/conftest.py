"""Shared fixtures: a database URL for each real database, and the shared reference folder.

Every store test takes ``database_url`` and so runs on SQLite and on PostgreSQL. PostgreSQL is
the server on 127.0.0.1:5432 (database ``test``); each test gets a schema of its own. Locally a
missing server skips those tests; with ``CI=true`` it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from sync.store import Store

POSTGRES_URL = os.environ.get(
    "REVBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set, which every `revbridge` the
# tests run in a subprocess would take as a pinned width; the tests pin widths themselves.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

# CI replays the same examples on every run, so a red CI is a reproducible one; locally each
# run draws new ones and keeps hunting. A failure prints its blob either way.
settings.register_profile("ci", derandomize=True, print_blob=True)
if _in_ci():
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference``: real WSDLs, specs and recordings (CI has it beside the clone)."""
    if not REFERENCE_DIR.is_dir():
        if _in_ci():
            pytest.fail(f"reference material missing at {REFERENCE_DIR}")
        pytest.skip(f"reference material not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[sa.Engine]:
    """An engine on the test PostgreSQL server; fails under CI when it is unreachable."""
    engine = sa.create_engine(POSTGRES_URL, pool_pre_ping=True)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        engine.dispose()
        message = f"PostgreSQL unreachable at {POSTGRES_URL}: {error.orig}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    yield engine
    engine.dispose()


def _postgres_schema_url(postgres_engine: sa.Engine) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    base = postgres_engine.url.render_as_string(hide_password=False)
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with postgres_engine.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each real backend: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'revbridge.db'}"
        return
    postgres_engine = request.getfixturevalue("postgres_engine")
    yield from _postgres_schema_url(postgres_engine)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A store on each real backend (migrated on first use), closed after the test."""
    opened = Store(database_url)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def mapping_set() -> MappingSet:
    """The shipped mappings, loaded once per test module."""
    return load_mapping_set()
