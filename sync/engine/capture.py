"""Capture: raw source records -> validated canonical records, or error-queue entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.base import RawRecord
from mappings.canonical import CanonicalRecord, model_for
from mappings.errors import MappingError, UnresolvedReference
from mappings.mapping_set import EntityMapping, RefResolver
from mappings.values import noting_stripped_text
from sync.engine.change import json_and_hash
from sync.engine.gc_pause import gc_paused
from sync.engine.resolver import page_refs
from sync.engine.storable import error_message, storable_raw, stored_source
from sync.store.schema import ErrorStage, JsonText, plain_json_text

log = logging.getLogger("revbridge.sync")


@dataclass(frozen=True)
class CapturedRecord:
    """A source record that mapped and validated, with its canonical JSON and content hash.

    Give the canonical JSON as a dict (``model_dump(mode="json")``), as its text, or both.
    Capture gives only the text, the store's payload, written with the hash in one
    serialization: the dict that target mappings take is built when first asked for, so a
    record that is unchanged, or stored with no target to deliver to, never pays for it.
    """

    source_id: str
    record: CanonicalRecord
    given_json: dict[str, Any] | None = field(repr=False, compare=False)
    content_hash: str
    # The source's record as the store keeps it (its JSON text once captured).
    raw: RawRecord | JsonText | None = None
    given_text: JsonText | None = field(default=None, repr=False, compare=False)
    # One note per field whose text `illegal_characters: strip` cleaned (``account.name: ...``).
    stripped: tuple[str, ...] = field(default=(), compare=False)

    @property
    def canonical_json(self) -> dict[str, Any]:
        """The record as ``model_dump(mode="json")``: what target mappings take."""
        json = self.given_json
        if json is None:
            json = self.record.model_dump(mode="json")
            object.__setattr__(self, "given_json", json)  # a cache, not a change
        return json

    @property
    def canonical_text(self) -> JsonText:
        """The canonical JSON as the store keeps it."""
        text = self.given_text
        return plain_json_text(self.canonical_json) if text is None else text


@dataclass(frozen=True)
class CaptureFailure:
    """A source record that could not become a canonical record."""

    source_id: str
    stage: ErrorStage
    error_class: str
    message: str
    raw: RawRecord
    canonical_id: str | None = None


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) or value is None else str(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each invalid field and why: ``lines.0.quantity: must be > 0``."""
    problems = []
    for detail in error.errors(include_url=False):
        location = ".".join(str(part) for part in detail["loc"]) or "(record)"
        problems.append(f"{location}: {detail['msg']} (got {_shown(detail.get('input'))})")
    return "; ".join(problems)


def capture_record(
    mapping: EntityMapping, raw: RawRecord, refs: RefResolver
) -> CapturedRecord | CaptureFailure:
    """Map and validate one raw record; a record's bad data never raises, it fails alone."""
    source_id = error_message(str(raw.get(mapping.key_field, "")))
    try:
        with noting_stripped_text() as stripped:
            fields = mapping.to_canonical(raw, refs)
    except UnresolvedReference as error:
        return _failed(source_id, ErrorStage.RESOLVE, error, str(error), raw)
    except MappingError as error:
        return _failed(source_id, ErrorStage.MAP, error, str(error), raw)
    canonical_id = fields.get("id")
    try:
        record = model_for(mapping.entity).model_validate(fields)
    except ValidationError as error:
        message = f"invalid {mapping.entity}: {describe_validation_error(error)}"
        return _failed(source_id, ErrorStage.VALIDATE, error, message, raw, canonical_id)
    text, digest = json_and_hash(record)
    for note in stripped:
        log.warning("%s %s from %s: %s", mapping.entity, source_id, mapping.system, note)
    return CapturedRecord(
        source_id,
        record,
        None,
        digest,
        stored_source(raw),
        JsonText(text),
        stripped=tuple(stripped),
    )


def _failed(
    source_id: str,
    stage: ErrorStage,
    error: Exception,
    message: str,
    raw: RawRecord,
    canonical_id: str | None = None,
) -> CaptureFailure:
    return CaptureFailure(
        source_id,
        stage,
        type(error).__name__,
        error_message(message),
        storable_raw(raw),
        canonical_id,
    )


def capture_page(
    mapping: EntityMapping, raw_records: Sequence[RawRecord], refs: RefResolver
) -> tuple[list[CapturedRecord], list[CaptureFailure]]:
    """Capture every record of a page; failures never stop the others."""
    captured: list[CapturedRecord] = []
    failures: list[CaptureFailure] = []
    with gc_paused(), page_refs(mapping, raw_records, refs):
        for raw in raw_records:
            outcome = capture_record(mapping, raw, refs)
            if isinstance(outcome, CapturedRecord):
                captured.append(outcome)
            else:
                failures.append(outcome)
    return captured, failures
