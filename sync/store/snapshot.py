"""A private copy of a store, for a dry run to run the real engine against and then discard.

The copy is a SQLite file in a temporary folder, whatever the source database is. It holds
everything a run reads (canonical records, xrefs, cursors, mapping fingerprints, the error
queue, the conflict log and the run history, so ids continue where the store's do); job
leases stay behind. The source store is only read: a store that does not exist yet, or was
never migrated, is not created or migrated, and the copy starts empty, as a first run would.
A store at an older migration is copied column by column into the current schema.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from sync.store.database import Store, StoreError, create_store_engine
from sync.store.schema import job_leases, metadata

COPY_BATCH = 1000  # rows per insert: memory stays flat on a large store


def store_exists(url: str) -> bool:
    """False for a SQLite file that is not there (opening it would create it)."""
    parsed = sa.make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return True
    database = parsed.database or ""
    return database in ("", ":memory:") or Path(database).exists()


def copy_store(source_url: str, target: Store) -> int:
    """Copy every table but the leases from ``source_url`` into ``target``; rows copied."""
    if not store_exists(source_url):
        return 0
    source = create_store_engine(source_url)
    copied = 0
    try:
        with source.connect() as reader, target.transaction() as writer:
            present = set(sa.inspect(reader).get_table_names())
            for table in metadata.sorted_tables:
                if table is job_leases or table.name not in present:
                    continue
                copied += _copy_table(reader, writer, table)
    except sa.exc.OperationalError as error:
        raise StoreError(
            f"cannot open {source.url.render_as_string(hide_password=True)}: {error.orig}"
        ) from None
    finally:
        source.dispose()
    return copied


def _copy_table(reader: sa.Connection, writer: sa.Connection, table: sa.Table) -> int:
    known = {column["name"] for column in sa.inspect(reader).get_columns(table.name)}
    columns = [column for column in table.columns if column.name in known]
    rows = reader.execution_options(stream_results=True, yield_per=COPY_BATCH).execute(
        sa.select(*columns)
    )
    copied = 0
    for batch in rows.partitions(COPY_BATCH):
        writer.execute(sa.insert(table), [dict(row._mapping) for row in batch])
        copied += len(batch)
    return copied


@contextmanager
def scratch_copy(source_url: str) -> Iterator[Store]:
    """A migrated SQLite copy of the store at ``source_url``, deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="revbridge-dry-run-") as folder:
        scratch = Store(f"sqlite:///{Path(folder) / 'plan.db'}")
        try:
            copy_store(source_url, scratch)
            yield scratch
        finally:
            scratch.close()
