"""Mapping fixtures: unit tests for mappings, written in YAML by the admins who own them.

A fixture file holds one or more YAML documents (``---`` between them), each one case::

    name: an activated order with one line
    system: salesforce          # the system of record the input comes from
    entity: order               # the canonical entity its mapping captures
    input: {Id: 8015g..., Status: Activated, OrderItems: [...]}   # raw record, as read
    xref:                       # stand-ins for the store's xref: entity -> canonical id ->
      account:                  #   that record's id in each system
        acc-1: {salesforce: 0015g..., billing: cus_1, erp: "1001"}
    expect:
      canonical: {...}          # the whole canonical record (omit to skip the check)
      payloads:                 # the payload per target system (omit a system to skip it)
        billing: {...}
      error: status             # instead: the record must fail, the message naming this text

Numbers compare by value and dates as ISO text (:mod:`sync.tools.payload_values`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from mappings.errors import MappingError
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.capture import CapturedRecord, capture_record
from sync.tools.payload_values import plain, unified_diff

XrefStandIns = dict[str, dict[str, dict[str, str]]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expectation(_Strict):
    """What a fixture's input must map to, or the error it must fail with."""

    canonical: dict[str, Any] | None = None
    payloads: dict[str, dict[str, Any]] = Field(default_factory=dict)
    error: str | None = Field(None, min_length=1)


class Fixture(_Strict):
    """One mapping test case."""

    name: str | None = None
    system: str
    entity: str
    input: dict[str, Any]
    xref: XrefStandIns = Field(default_factory=dict)
    expect: Expectation


@dataclass
class FixtureResult:
    """The outcome of one fixture: passed, or what differed."""

    name: str
    source: str
    failures: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return not self.failures


class StandInRefResolver:
    """Answers ref lookups from a fixture's ``xref`` section instead of the store."""

    def __init__(self, xref: XrefStandIns) -> None:
        self._outbound = {
            (entity, system, canonical_id): system_id
            for entity, records in xref.items()
            for canonical_id, ids in records.items()
            for system, system_id in ids.items()
        }
        self._inbound = {(e, s, sid): cid for (e, s, cid), sid in self._outbound.items()}

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """The stand-in canonical id of that system's record, if the fixture names one."""
        return self._inbound.get((entity, system, system_id))

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """The stand-in id in ``system`` of that canonical record, if the fixture names one."""
        return self._outbound.get((entity, system, canonical_id))


class FixtureFileError(Exception):
    """A fixture file can't be read or doesn't follow the format; the message says where."""


def fixture_files(paths: Sequence[Path]) -> list[Path]:
    """The YAML files named, folders expanded to their ``*.yaml`` / ``*.yml`` files."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            found.append(path)
    return found


def load_fixtures(path: Path) -> Iterator[tuple[str, Fixture]]:
    """Each case of a fixture file with its ``file#n`` label; FixtureFileError when invalid."""
    try:
        documents = list(YAML(typ="safe", pure=True).load_all(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, YAMLError) as error:
        raise FixtureFileError(f"{path}: cannot read the fixture file: {error}") from None
    for number, document in enumerate((d for d in documents if d is not None), start=1):
        try:
            fixture = Fixture.model_validate(document)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(p) for p in d['loc']) or '(document)'}: {d['msg']}"
                for d in error.errors(include_url=False)
            )
            raise FixtureFileError(f"{path} (case {number}): {details}") from None
        yield f"{path}#{number}", fixture


def _source_mapping(mappings: MappingSet, fixture: Fixture) -> EntityMapping:
    try:
        mapping = mappings.system(fixture.system).entities.get(fixture.entity)
    except KeyError as error:
        raise FixtureFileError(str(error.args[0])) from None
    if mapping is None or not mapping.system_of_record:
        raise FixtureFileError(f"{fixture.system} is not the system of record for {fixture.entity}")
    return mapping


def run_fixture(mappings: MappingSet, label: str, fixture: Fixture) -> FixtureResult:
    """Map the fixture's input and compare with its expectations."""
    result = FixtureResult(fixture.name or label, label)
    try:
        mapping = _source_mapping(mappings, fixture)
    except FixtureFileError as error:
        result.failures.append(str(error))
        return result
    refs = StandInRefResolver(fixture.xref)
    outcome = capture_record(mapping, fixture.input, refs)
    expect = fixture.expect
    if expect.error is not None:
        _check_error(result, expect.error, outcome)
        return result
    if not isinstance(outcome, CapturedRecord):
        result.failures.append(f"{fixture.entity} did not map: {outcome.message}")
        return result
    if expect.canonical is not None:
        _compare(result, expect.canonical, outcome.record.model_dump(), "canonical")
    targets = {t.system: t for t in mappings.targets_for(fixture.entity, fixture.system)}
    for system, expected in expect.payloads.items():
        if system not in targets:
            result.failures.append(
                f"{system} does not receive {fixture.entity}; have {sorted(targets)}"
            )
            continue
        try:
            actual = targets[system].from_canonical(outcome.canonical_json, refs)
        except MappingError as error:
            result.failures.append(f"{system} payload did not map: {error}")
            continue
        _compare(result, expected, actual, f"{system} payload")
    return result


def _check_error(result: FixtureResult, expected: str, outcome: Any) -> None:
    result.checked.append("error")
    if isinstance(outcome, CapturedRecord):
        result.failures.append(f"expected an error mentioning {expected!r}, but the record mapped")
    elif expected.lower() not in outcome.message.lower():
        result.failures.append(f"expected an error mentioning {expected!r}, got: {outcome.message}")


def _compare(result: FixtureResult, expected: Any, actual: Any, label: str) -> None:
    result.checked.append(label)
    if plain(expected) != plain(actual):
        result.failures.append(unified_diff(expected, actual, label))
