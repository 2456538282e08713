"""A connector that reads through to the real system and records writes instead of sending them.

The dry run hands these to the real engine, so a plan is what a run would do, step for step:
reads, retries of queued records and conflict checks go to the system; every upsert and
delete is kept here and answered as a success. Records written earlier in the plan get a
stand-in target id, so their children resolve as they would after the real write.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import (
    Connector,
    Cursor,
    DeleteOutcome,
    DeleteResult,
    Page,
    RawRecord,
    ReadSpec,
    WriteOutcome,
    WriteResult,
    WriteSpec,
)

PLANNED_ID_PREFIX = "planned:"


@dataclass(frozen=True)
class RecordedWrite:
    """One upsert a run would send."""

    system: str
    object_name: str
    external_id: str
    payload: Mapping[str, Any]
    known_target_id: str | None  # set when revbridge wrote the record before: an update


@dataclass(frozen=True)
class RecordedDelete:
    """One delete a run would send."""

    system: str
    object_name: str
    target_id: str
    external_id: str | None


class RecordingConnector:
    """Wraps a connector: reads pass through, writes and deletes are recorded, never sent."""

    def __init__(self, inner: Connector) -> None:
        self._inner = inner
        self.system = inner.system
        # How the conflict guard fetches this target's records, as the real connector says.
        self.fetch_key: str | None = getattr(inner, "fetch_key", "target_id")
        self.writes: list[RecordedWrite] = []
        self.deletes: list[RecordedDelete] = []

    @property
    def api_calls(self) -> int | None:
        """The real connector's call count, where it keeps one."""
        calls = getattr(self._inner, "api_calls", None)
        return calls if isinstance(calls, int) else None

    def check(self) -> None:
        """Check the real system."""
        self._inner.check()

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Read from the real system."""
        return self._inner.read(spec, since)

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """Fetch from the real system."""
        return self._inner.fetch(spec, record_ids)

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Record each upsert and answer it as landed."""
        results = []
        for payload in payloads:
            external_id = str(payload.get(spec.external_id_field, ""))
            known = spec.known_target_ids.get(external_id)
            self.writes.append(
                RecordedWrite(self.system, spec.object_name, external_id, payload, known)
            )
            target_id = known or f"{PLANNED_ID_PREFIX}{external_id}"
            results.append(WriteResult(external_id, WriteOutcome.UPSERTED, target_id))
        return results

    def delete(self, spec: WriteSpec, target_ids: Sequence[str]) -> list[DeleteResult]:
        """Record each delete and answer it as done."""
        external_ids = {target: external for external, target in spec.known_target_ids.items()}
        for target_id in target_ids:
            self.deletes.append(
                RecordedDelete(
                    self.system, spec.object_name, target_id, external_ids.get(target_id)
                )
            )
        return [DeleteResult(target_id, DeleteOutcome.DELETED) for target_id in target_ids]

    def close(self) -> None:
        """Close the real connector."""
        self._inner.close()
