"""Preview one live record: fetch it, map it to canonical and to every target; write nothing.

Refs resolve through the store's xref when the record's parents were synced. A ref that
doesn't resolve gets a visible stand-in (``<unresolved 0015g...>``) so the rest of the record
can still be shown, and is listed so the admin knows which values are not real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector
from mappings.errors import MappingError
from mappings.mapping_set import EntityMapping, MappingSet, RefResolver
from sync.engine.capture import CapturedRecord, capture_record
from sync.engine.specs import read_spec

_ID_LIMIT = 64  # canonical ids are at most 64 characters


@dataclass(frozen=True)
class UnresolvedRef:
    """A ref the xref could not answer: which entity, in which system, for which id."""

    entity: str
    system: str
    key: str
    direction: str  # "inbound" (system id -> canonical) or "outbound" (canonical -> system id)

    def __str__(self) -> str:
        if self.direction == "inbound":
            return f"{self.entity} {self.key} ({self.system}) was never captured into the store"
        return f"{self.entity} {self.key} has no {self.system} id yet (not written there)"


class RecordingRefResolver:
    """Looks refs up in ``inner`` (or nowhere) and stands in for the misses, noting each."""

    def __init__(self, inner: RefResolver | None) -> None:
        self._inner = inner
        self.unresolved: list[UnresolvedRef] = []

    def _miss(self, ref: UnresolvedRef) -> str:
        if ref not in self.unresolved:
            self.unresolved.append(ref)
        return f"<unresolved {ref.key}>"[:_ID_LIMIT]

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """The canonical id from the store, or a stand-in."""
        found = self._inner.canonical_id(entity, system, system_id) if self._inner else None
        return found or self._miss(UnresolvedRef(entity, system, system_id, "inbound"))

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """That system's id from the store, or a stand-in."""
        if canonical_id.startswith("<unresolved "):
            return canonical_id  # already listed as an inbound miss
        found = self._inner.system_id(entity, system, canonical_id) if self._inner else None
        return found or self._miss(UnresolvedRef(entity, system, canonical_id, "outbound"))


@dataclass
class Preview:
    """One record as fetched, as canonical, and as each target would receive it."""

    system: str
    entity: str
    object_name: str
    record_id: str
    raw: dict[str, Any]
    canonical: dict[str, Any] | None = None
    error: str | None = None
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    payload_errors: dict[str, str] = field(default_factory=dict)
    unresolved: list[UnresolvedRef] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The preview as a JSON-able dict (``--json``)."""
        return {
            "system": self.system,
            "entity": self.entity,
            "object": self.object_name,
            "id": self.record_id,
            "raw": self.raw,
            "canonical": self.canonical,
            "error": self.error,
            "payloads": self.payloads,
            "payload_errors": self.payload_errors,
            "unresolved_refs": [
                {"entity": r.entity, "system": r.system, "key": r.key, "direction": r.direction}
                for r in self.unresolved
            ],
        }


class PreviewError(Exception):
    """The record can't be previewed (unknown object, not found); the message says why."""


def source_mapping_for(mappings: MappingSet, system: str, object_name: str) -> EntityMapping:
    """The mapping that captures ``object_name`` records from ``system`` on their own."""
    try:
        entities = mappings.system(system).entities.values()
    except KeyError as error:
        raise PreviewError(str(error.args[0])) from None
    captured = [m for m in entities if m.system_of_record]
    for mapping in captured:
        if mapping.object_name.lower() == object_name.lower():
            if mapping.cursor_field is None:
                raise PreviewError(
                    f"{system} {mapping.object_name} ({mapping.entity}) is read with its parent; "
                    "preview the parent record instead"
                )
            return mapping
    known = sorted(m.object_name for m in captured if m.cursor_field is not None)
    raise PreviewError(f"no {system} mapping captures {object_name!r}; mapped objects: {known}")


def preview_record(
    mappings: MappingSet,
    mapping: EntityMapping,
    connector: Connector,
    record_id: str,
    refs: RefResolver | None,
) -> Preview:
    """Fetch one record and map it everywhere, without writing anything."""
    found = connector.fetch(read_spec(mapping), [record_id])
    if not found:
        raise PreviewError(f"{mapping.system} has no {mapping.object_name} with id {record_id!r}")
    raw = found[0]
    recording = RecordingRefResolver(refs)
    preview = Preview(mapping.system, mapping.entity, mapping.object_name, record_id, raw)
    outcome = capture_record(mapping, raw, recording)
    if not isinstance(outcome, CapturedRecord):
        preview.error = f"{outcome.stage.value}: {outcome.message}"
    else:
        preview.canonical = outcome.canonical_json
        for target in mappings.targets_for(mapping.entity, mapping.system):
            try:
                preview.payloads[target.system] = target.from_canonical(
                    outcome.canonical_json, recording
                )
            except MappingError as error:
                preview.payload_errors[target.system] = str(error)
    preview.unresolved = recording.unresolved
    return preview
