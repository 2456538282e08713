"""The store a ``sync_bench.py`` run writes to: a SQLite file, or a PostgreSQL schema of its own.

With ``--database-url postgresql+psycopg://...`` each size's first sync also runs against
PostgreSQL, on fresh sandboxes of the same seed, so the PostgreSQL / SQLite ratio comes from
one run of the benchmark. The benchmark works in the schema ``revbridge_bench`` (dropped and
created again each time), so no real data is touched.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

BENCH_SCHEMA = "revbridge_bench"


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return sa.make_url(url).get_backend_name() == "postgresql"


def fresh_database(url: str, folder: str, name: str) -> str:
    """An empty store's URL: PostgreSQL's bench schema, emptied, or a new SQLite file."""
    if not is_postgres(url):
        return f"sqlite:///{Path(folder) / f'{name}.db'}"
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
            connection.execute(sa.text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    finally:
        engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{BENCH_SCHEMA}"


def backend_name(url: str) -> str:
    """ "PostgreSQL" or "SQLite", for the table's rows."""
    return "PostgreSQL" if is_postgres(url) else "SQLite"
