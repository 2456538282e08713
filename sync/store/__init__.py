"""revbridge's state store: SQLAlchemy 2.x over SQLite (default) or PostgreSQL, with Alembic."""

from sync.store.database import Store

__all__ = ["Store"]
