"""Table definitions of the state store (the Alembic migrations create exactly these)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on both backends (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, which would be ambiguous."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return aware UTC datetimes whatever the backend gave back."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JsonColumn = sa.JSON().with_variant(JSONB(), "postgresql")


def json_default(value: Any) -> str:
    """What JSON has no type for, as payloads carry it: money as decimal text, dates ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


# One encoder for every column value: json.dumps(value, default=...) would build a new one each
# call, a cost paid for every payload of every page. Same settings, so the same text.
_ENCODER = json.JSONEncoder(default=json_default)


class JsonText(str):
    """A JSON column value serialized already (see :func:`plain_json_text`): stored as is."""

    __slots__ = ()


def dump_json(value: Any) -> str:
    """The text of a JSON column (the store engine's serializer): raw payloads go in as read."""
    if type(value) is JsonText:
        return str.__str__(value)
    return _ENCODER.encode(value)


def plain_json_text(value: Any) -> JsonText:
    """The JSON text of a value made of JSON's own types only (``model_dump(mode="json")``).

    Such a value needs none of :func:`json_default`'s conversions, so pydantic-core's encoder
    (about three times as fast as the json module's on a canonical record) writes the same
    JSON, only more compactly; whatever it refuses goes through :func:`dump_json` instead.
    """
    try:
        return JsonText(to_json(value, inf_nan_mode="constants").decode())
    except (TypeError, ValueError, PydanticSerializationError):
        return JsonText(dump_json(value))


class RunStatus(StrEnum):
    """Lifecycle of one sync run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # finished, with records in the error queue
    STOPPED = "stopped"  # stopped on request (SIGTERM) after committing a page; resumes next run
    FAILED = "failed"


class ErrorStatus(StrEnum):
    """Lifecycle of an error-queue entry."""

    OPEN = "open"
    RETRYING = "retrying"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class ErrorStage(StrEnum):
    """Where in the pipeline a record failed."""

    READ = "read"
    MAP = "map"
    VALIDATE = "validate"
    RESOLVE = "resolve"
    WRITE = "write"


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


metadata = sa.MetaData()

canonical_records = sa.Table(
    "canonical_records",
    metadata,
    sa.Column("canonical_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(40), nullable=False, index=True),
    sa.Column("payload", JsonColumn, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("source_system", sa.String(40), nullable=False),
    sa.Column("source_object", sa.String(80), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("source_modified_at", UtcDateTime(), nullable=False),
    sa.Column("is_deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=True),
    # The record as the source system sent it, so a mapping change can be previewed and
    # re-applied without reading the source again.
    sa.Column("source_payload", JsonColumn, nullable=True),
)

# One row per (system, canonical record): the record's id in that system and, for targets,
# the hash of what revbridge last wrote there (change detection) and when.
xref = sa.Table(
    "xref",
    metadata,
    sa.Column("system", sa.String(40), primary_key=True),
    sa.Column("canonical_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("object_name", sa.String(80), nullable=False),
    sa.Column("external_id", sa.String(255), nullable=False),
    sa.Column("last_written_hash", sa.String(64), nullable=True),
    sa.Column("last_written_at", UtcDateTime(), nullable=True),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.UniqueConstraint("system", "entity", "external_id", name="uq_xref_system_entity_external"),
    # The payload revbridge last wrote (the base of three-way conflict merges) and, where a
    # conflict kept target values, the source's payload it was built from.
    sa.Column("last_written_payload", JsonColumn, nullable=True),
    sa.Column("last_source_payload", JsonColumn, nullable=True),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("flow", sa.String(80), primary_key=True),
    sa.Column("system", sa.String(40), primary_key=True),
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("position", JsonColumn, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("flow", sa.String(80), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("stats", JsonColumn, nullable=False),
    sa.Column("message", sa.Text(), nullable=True),
)

error_queue = sa.Table(
    "error_queue",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("flow", sa.String(80), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("source_system", sa.String(40), nullable=False),
    sa.Column("source_object", sa.String(80), nullable=False),
    sa.Column("source_id", sa.String(255), nullable=False),
    sa.Column("canonical_id", sa.String(64), nullable=True),
    # Empty when the failure happened before any target was involved (read/map/validate).
    sa.Column("target_system", sa.String(40), nullable=False, server_default=""),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("error_class", sa.String(60), nullable=False),
    sa.Column("code", sa.String(80), nullable=False, server_default=""),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("payload", JsonColumn, nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # "Decisions stick": what failed (a hash of the payload) under which mapping version, so a
    # closed entry is matched when the same unchanged record fails again; who closed it (None
    # when the record landed by itself); and the closed entry a new one follows on from.
    sa.Column("payload_fingerprint", sa.String(64), nullable=True),
    sa.Column("mapping_version", sa.String(64), nullable=True),
    sa.Column("closed_by", sa.String(200), nullable=True),
    sa.Column("previous_id", sa.Integer(), nullable=True),
    sa.Index(
        "ix_error_queue_record", "entity", "source_system", "source_id", "target_system", "status"
    ),
)

# The fingerprint of each mapping a flow last ran with: a changed one means records must be
# re-captured (source mapping) or re-delivered (target mapping).
mapping_fingerprints = sa.Table(
    "mapping_fingerprints",
    metadata,
    sa.Column("flow", sa.String(80), primary_key=True),
    sa.Column("system", sa.String(40), primary_key=True),
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

conflict_log = sa.Table(
    "conflict_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("canonical_id", sa.String(64), nullable=False, index=True),
    sa.Column("target_system", sa.String(40), nullable=False),
    sa.Column("field", sa.String(120), nullable=False),
    sa.Column("base_value", JsonColumn, nullable=True),
    sa.Column("source_value", JsonColumn, nullable=True),
    sa.Column("target_value", JsonColumn, nullable=True),
    sa.Column("decision", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("source_system", sa.String(40), nullable=True),
    sa.Column("source_id", sa.String(255), nullable=True),
    sa.Column("policy", sa.String(20), nullable=True),
    # decided (a policy chose), open (held for a person), resolved, superseded.
    sa.Column("status", sa.String(20), nullable=False, server_default="decided", index=True),
    sa.Column("resolution", sa.String(20), nullable=True),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    # For held records: the payload to write once resolved, and the source payload behind it.
    sa.Column("held_payload", JsonColumn, nullable=True),
)

# One row per flow: which `revbridge serve` replica may run it now. A holder renews
# `expires_at` while its run goes on; a row whose `expires_at` passed belongs to nobody.
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("flow", sa.String(80), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("acquired_at", UtcDateTime(), nullable=True),
    sa.Column("heartbeat_at", UtcDateTime(), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
)

# One row per failed attempt of an error-queue entry: when, in which run, and why, so a person
# sees how a record kept failing (the entry itself holds only the latest reason).
error_attempts = sa.Table(
    "error_attempts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("error_id", sa.Integer(), nullable=False, index=True),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("error_class", sa.String(60), nullable=False),
    sa.Column("code", sa.String(80), nullable=False, server_default=""),
    sa.Column("message", sa.Text(), nullable=False),
)

# Every action a person took (console user, API token or the CLI's operating-system user): who,
# when, what and the note, written in the same transaction as the action itself.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime(), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("actor_kind", sa.String(20), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("note", sa.Text(), nullable=True),
)

# The records one audited action touched, one row each, indexed so a record's journey finds them.
audit_records = sa.Table(
    "audit_records",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("audit_id", sa.Integer(), sa.ForeignKey("audit_log.id"), nullable=False, index=True),
    sa.Column("error_id", sa.Integer(), nullable=True, index=True),
    sa.Column("conflict_id", sa.Integer(), nullable=True),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("entity", sa.String(40), nullable=True),
    sa.Column("canonical_id", sa.String(64), nullable=True, index=True),
    sa.Column("source_system", sa.String(40), nullable=True),
    sa.Column("source_id", sa.String(255), nullable=True, index=True),
)
