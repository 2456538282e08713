"""The small protocol every connector implements, and the plain data it exchanges.

Connectors move raw records (plain dicts in the system's own field names); they know nothing
of canonical records or mappings. The engine tells them what to read (:class:`ReadSpec`) and
where to write (:class:`WriteSpec`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

RawRecord = dict[str, Any]


@dataclass(frozen=True)
class Cursor:
    """An incremental-read high-water mark: the last record's modified stamp and its id.

    The id breaks ties, so records that share a timestamp across a page boundary are neither
    skipped nor read twice: the next read starts strictly after ``(modified, record_id)``.
    """

    modified: str
    record_id: str

    def to_json(self) -> dict[str, str]:
        """Serialise for the cursor table."""
        return {"modified": self.modified, "record_id": self.record_id}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> Cursor:
        """Rebuild from :meth:`to_json` output."""
        return cls(modified=str(stored["modified"]), record_id=str(stored["record_id"]))


@dataclass(frozen=True)
class ChildSpec:
    """A child collection read together with its parent (SOQL child subquery)."""

    relationship: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ReadSpec:
    """What to read from one object: the fields a mapping needs, never ``*``."""

    object_name: str
    fields: tuple[str, ...]
    key_field: str = "Id"
    cursor_field: str = "SystemModstamp"
    children: tuple[ChildSpec, ...] = ()
    # Records per page; None: the page size configured for the source system's connector.
    page_size: int | None = None
    # Inclusive upper bound on the cursor field (backfills of a closed window); None: now.
    until: str | None = None
    # A condition in the system's own query language, from the mapping's `filter` (admin-owned
    # configuration, never record data).
    filter: str | None = None


@dataclass(frozen=True)
class Page:
    """One page of raw records and the cursor to resume from once it is committed.

    ``deleted`` holds records the source reports deleted within the same window (at least
    their key field); ``total`` is how many records the whole read will return, where the
    source says so up front (Salesforce's ``totalSize``), for progress bars.
    """

    records: list[RawRecord]
    cursor: Cursor | None
    api_calls: int = 1
    deleted: list[RawRecord] = field(default_factory=list)
    total: int | None = None


@dataclass(frozen=True)
class WriteSpec:
    """Where to upsert: the target object and the field that carries revbridge's external id.

    ``known_target_ids`` maps a payload's external id to the record's id in the target, where
    revbridge knows it from an earlier write: systems without upsert by external id (Stripe)
    update that record instead of searching for it.
    """

    object_name: str
    external_id_field: str
    known_target_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PackedWrite:
    """One record of a call that may mix objects: where it goes and what to write."""

    spec: WriteSpec
    payload: Mapping[str, Any]


class WriteOutcome(StrEnum):
    """What happened to one record of an upsert batch."""

    CREATED = "created"
    UPDATED = "updated"
    # The system upserted but does not say which (NetSuite upsertList): the engine decides
    # created vs updated from its own write history.
    UPSERTED = "upserted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class WriteResult:
    """The target's answer for one record, in the order the records were given."""

    external_id: str
    outcome: WriteOutcome
    target_id: str | None = None
    error_code: str = ""
    error_message: str = ""
    error_fields: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the record landed."""
        return self.outcome is not WriteOutcome.REJECTED


class DeleteOutcome(StrEnum):
    """What happened to one record of a delete batch."""

    DELETED = "deleted"
    # The target no longer had it (deleted by someone else, or by an earlier attempt whose
    # answer was lost): the goal is reached, so the engine counts it as a success.
    ALREADY_DELETED = "already_deleted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class DeleteResult:
    """The target's answer for one record of a delete batch, in the order the ids were given."""

    target_id: str
    outcome: DeleteOutcome
    error_code: str = ""
    error_message: str = ""

    @property
    def ok(self) -> bool:
        """True when the record is gone from the target."""
        return self.outcome is not DeleteOutcome.REJECTED


@runtime_checkable
class Connector(Protocol):
    """I/O with one system. Raises only :mod:`connectors.errors` classes."""

    system: str

    def check(self) -> None:
        """Authenticate and make one cheap call; raise AuthError/ConfigError/TransientError."""

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since``, oldest first."""
        ...

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """The current state of the given records (missing ones are left out)."""
        ...

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert payloads by external id; one result per payload, same order."""
        ...

    def delete(self, spec: WriteSpec, target_ids: Sequence[str]) -> list[DeleteResult]:
        """Delete records by their ids in the target; one result per id, same order.

        ``spec.known_target_ids`` maps revbridge's external ids to these target ids, for APIs
        that address records by external id.
        """
        ...

    def close(self) -> None:
        """Release sessions and sockets."""


@dataclass(frozen=True)
class CallLimits:
    """How a packing target takes calls: records per call, and calls it allows in flight."""

    batch_size: int
    in_flight: int


@runtime_checkable
class PackingConnector(Protocol):
    """A target whose batch calls take records of several objects at once (NetSuite).

    Such a target is written in full calls across pages and entities: the engine packs the
    records of several pages into calls, keeps ``call_limits.in_flight`` of them going, and
    sends a call once the calls holding the records it refers to (``references``) answered.
    """

    @property
    def call_limits(self) -> CallLimits:
        """Records per call and calls in flight the target allows."""
        ...

    def references(self, payload: Mapping[str, Any]) -> set[str]:
        """The external ids of the records ``payload`` refers to (its own left out)."""
        ...

    def write_packed(
        self, writes: Sequence[PackedWrite], *, hold_partial: bool
    ) -> list[WriteResult | None]:
        """Upsert records of several objects, a full batch a call; one result per write.

        A record never shares a call with a record it refers to, and goes only once that
        call answered. With ``hold_partial``, the records of a last call that would not be
        full are not sent: their results are None, and the caller gives them again later.
        """
        ...
