"""The JSON API's request and response models: the OpenAPI document is generated from these.

Built from the store's dataclasses with ``from_attributes``; values a record carries (payloads,
conflict values) stay as JSON, shown as data and never interpreted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ID = 2**31 - 1  # the store's integer ids; larger ones name nothing
EntryId = Annotated[int, Field(ge=1, le=MAX_ID)]
Note = Annotated[str, Field(max_length=2000)]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(_Out):
    """An error-queue entry."""

    id: int
    run_id: int | None
    flow: str
    entity: str
    source_system: str
    source_object: str
    source_id: str
    canonical_id: str | None
    target_system: str
    stage: str
    error_class: str
    code: str
    message: str
    attempts: int
    status: str
    created_at: datetime
    updated_at: datetime
    closed_by: str | None
    previous_id: int | None
    source_url: str | None = None


class ErrorPageOut(BaseModel):
    """One page of the queue and the cursors to its neighbours (null at either end)."""

    items: list[ErrorOut]
    next_cursor: str | None
    previous_cursor: str | None


class AttemptOut(_Out):
    """One failed attempt."""

    at: datetime
    run_id: int | None
    error_class: str
    code: str
    message: str


class RecordRefOut(_Out):
    """A record an audited action touched."""

    entity: str | None
    canonical_id: str | None
    source_system: str | None
    source_id: str | None
    error_id: int | None
    conflict_id: int | None
    run_id: int | None


class AuditOut(_Out):
    """An action a person took."""

    id: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    note: str | None
    records: list[RecordRefOut]


class AuditPageOut(BaseModel):
    """Audit entries, newest first."""

    items: list[AuditOut]


class ErrorDetailOut(BaseModel):
    """An entry in full: its payload as sent, its attempts and the actions taken on it."""

    entry: ErrorOut
    payload: Any
    attempts: list[AttemptOut]
    actions: list[AuditOut]


class ErrorActionIn(BaseModel):
    """Retry, resolve or ignore entries; resolve and ignore need a note."""

    model_config = ConfigDict(extra="forbid")

    ids: Annotated[list[EntryId], Field(min_length=1, max_length=500)]
    note: Note | None = None


class ActionOut(BaseModel):
    """What an action did, one line per fact; ``problem`` when something went wrong."""

    lines: list[str]
    problem: bool


class SystemRecordOut(_Out):
    """The record's id in one system and what revbridge last sent there."""

    system: str
    object_name: str
    external_id: str
    last_written_at: datetime | None
    run_id: int | None
    last_written_payload: Any


class CanonicalOut(_Out):
    """The canonical record as last captured."""

    payload: Any
    source_modified_at: datetime
    captured_at: datetime
    run_id: int | None
    is_deleted: bool


class EventOut(_Out):
    """One event of a record's history."""

    at: datetime
    kind: str
    system: str
    run_id: int | None
    summary: str
    error_id: int | None
    conflict_id: int | None
    audit_id: int | None


class ConflictOut(_Out):
    """One logged conflicting field."""

    id: int
    run_id: int | None
    created_at: datetime
    entity: str
    canonical_id: str
    target_system: str
    field: str
    base_value: Any
    source_value: Any
    target_value: Any
    policy: str | None
    decision: str
    status: str
    resolution: str | None


class JourneyOut(_Out):
    """Everything the store knows of one record."""

    entity: str
    source_system: str
    source_id: str
    canonical_id: str | None
    canonical: CanonicalOut | None
    systems: list[SystemRecordOut]
    errors: list[ErrorOut]
    conflicts: list[ConflictOut]
    actions: list[AuditOut]
    events: list[EventOut]


class JourneysOut(BaseModel):
    """The records known by the id searched for (usually one)."""

    items: list[JourneyOut]


class FieldConflictOut(_Out):
    """One field of a held record."""

    conflict_id: int
    field: str
    source_value: Any
    target_value: Any
    last_sent_value: Any
    chosen: str | None


class HeldRecordOut(_Out):
    """A record held for a person in one target."""

    entity: str
    canonical_id: str
    target_system: str
    source_system: str | None
    source_id: str | None
    run_id: int | None
    held_at: datetime
    fields: list[FieldConflictOut]


class HeldRecordsOut(BaseModel):
    """Records waiting for a person, most recently held first."""

    items: list[HeldRecordOut]


class ConflictResolveIn(BaseModel):
    """A side per open conflict row of one record; the record is written once all are chosen."""

    model_config = ConfigDict(extra="forbid")

    choices: Annotated[dict[str, Literal["source", "target"]], Field(min_length=1, max_length=500)]
    note: Note | None = None


class RunOut(_Out):
    """A run."""

    id: int
    flow: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None


class RunPageOut(BaseModel):
    """Runs, newest first; ``next_before_id`` continues below (null on the last page)."""

    items: list[RunOut]
    next_before_id: int | None


class RunDetailOut(BaseModel):
    """One run in detail."""

    run: RunOut
    duration_seconds: float | None
    counts: dict[str, dict[str, dict[str, int]]]
    api_calls: dict[str, int]
    errors: ErrorPageOut
    conflicts: list[ConflictOut]


class FlowOut(BaseModel):
    """A flow's state."""

    flow: str
    last_run: RunOut | None
    last_success_at: datetime | None
    lag_seconds: float | None
    next_run_at: datetime | None
    open_errors: int


class RunVolumeOut(_Out):
    """What one run wrote and rejected."""

    run_id: int
    flow: str
    status: str
    written: int
    rejected: int


class QueueDayOut(_Out):
    """Entries open at the end of one UTC day."""

    day: date
    open: int


class OverviewOut(BaseModel):
    """The overview page's data."""

    flows: list[FlowOut]
    open_by_entity: dict[str, int]
    open_by_system: dict[str, int]
    open_by_class: dict[str, int]
    conflicts_waiting: int
    recent_runs: list[RunVolumeOut]
    queue_by_day: list[QueueDayOut]
    systems_configured: list[str]
