"""`illegal_characters: reject | strip`: text XML 1.0 can't hold, per rule or per mapping file.

Rejecting (the default) fails that record at the map stage, naming the field and each
character; stripping removes them and leaves a note per field for the run's warnings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mappings.errors import IllegalCharacters
from mappings.loader import check_mapping_files, load_mapping_set
from mappings.mapping_set import EntityMapping
from mappings.spec import mapping_json_schema
from mappings.values import noting_stripped_text
from tests.unit.compile_paths import COMPILE_PATHS, compiled_as

MODIFIED = "2026-01-05T10:00:00Z"
BAD = "Bad\x00Nul\x1bEsc"


@pytest.fixture(autouse=True, params=COMPILE_PATHS)
def compile_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test here runs on generated code and on closures alike."""
    with compiled_as(request.param):
        yield


class Xref:
    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return f"c-{system_id}"

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return f"s-{canonical_id}"


def _account(
    tmp_path: Path, name_rule: dict[str, Any], text: dict[str, Any] | None = None
) -> EntityMapping:
    fields = {"name": name_rule, "currency": {"path": "Cur"}, "phone": {"path": "Phone"}}
    entity = {"object": "Account", "cursor": "Modified", "system_of_record": True, "fields": fields}
    doc: dict[str, Any] = {"version": 2, "system": "crm", "entities": {"account": entity}}
    if text is not None:
        doc["text"] = text
    path = tmp_path / "crm.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")  # JSON is YAML
    return load_mapping_set([path]).system("crm").entities["account"]


def _captured(mapping: EntityMapping, **raw: Any) -> dict[str, Any]:
    record = {"Id": "1", "Modified": MODIFIED, "Cur": "USD", **raw}
    return mapping.to_canonical(record, Xref())


def test_by_default_a_record_with_a_control_character_fails_naming_field_and_characters(
    tmp_path: Path,
) -> None:
    mapping = _account(tmp_path, {"path": "Name"})

    with pytest.raises(IllegalCharacters) as raised:
        _captured(mapping, Name=BAD)

    assert str(raised.value).startswith(
        "account.name contains control character U+0000 at position 4, "
        "control character U+001B at position 8; "
    )
    assert "illegal_characters: strip" in str(raised.value)


def test_strip_on_the_rule_removes_the_characters_and_notes_the_field(tmp_path: Path) -> None:
    mapping = _account(tmp_path, {"path": "Name", "illegal_characters": "strip"})

    with noting_stripped_text() as notes:
        captured = _captured(mapping, Name=BAD, Phone="+1 555")

    assert captured["name"] == "BadNulEsc"
    assert notes == [
        "account.name: stripped control character U+0000 at position 4, "
        "control character U+001B at position 8"
    ]


def test_the_other_rules_of_that_file_still_reject(tmp_path: Path) -> None:
    mapping = _account(tmp_path, {"path": "Name", "illegal_characters": "strip"})

    with pytest.raises(IllegalCharacters, match=r"^account\.phone contains control character"):
        _captured(mapping, Name=BAD, Phone="+1\x0b555")


def test_the_file_default_strips_every_rule_but_one_that_says_reject(tmp_path: Path) -> None:
    mapping = _account(
        tmp_path, {"path": "Name", "illegal_characters": "reject"}, {"illegal_characters": "strip"}
    )

    assert _captured(mapping, Name="Acme", Phone="+1\x0b555")["phone"] == "+1555"
    with pytest.raises(IllegalCharacters, match=r"^account\.name "):
        _captured(mapping, Name=BAD)


def test_lone_surrogates_and_noncharacters_are_illegal_astral_characters_are_not(
    tmp_path: Path,
) -> None:
    mapping = _account(tmp_path, {"path": "Name"})

    assert _captured(mapping, Name="Acme \U0001f600\t")["name"] == "Acme \U0001f600\t"
    with pytest.raises(IllegalCharacters, match=r"lone surrogate U\+D800 at position 2"):
        _captured(mapping, Name="A\ud800")
    with pytest.raises(IllegalCharacters, match=r"noncharacter U\+FFFF at position 1"):
        _captured(mapping, Name="\uffffA")


def test_outbound_text_and_compound_values_are_guarded_too(tmp_path: Path) -> None:
    fields = {
        "companyName": {"path": "name"},
        "address": {"join": {"street": "billing_address.street", "city": "billing_address.city"}},
    }
    entity = {"object": "Customer", "external_id": "externalId", "fields": fields}
    doc = {"version": 2, "system": "books", "entities": {"account": entity}}
    path = tmp_path / "books.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    mapping = load_mapping_set([path]).system("books").entities["account"]
    record = {"id": "c1", "name": "Acme", "billing_address": {"street": "1\x07 Main", "city": "X"}}

    with pytest.raises(IllegalCharacters, match=r"^account.address.street contains .*U\+0007"):
        mapping.from_canonical(record, Xref())


def test_typos_in_the_option_are_reported_at_file_line_column(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text(
        "version: 2\n"
        "system: crm\n"
        "text: {ilegal_characters: strip}\n"
        "entities:\n"
        "  account:\n"
        "    object: Account\n"
        "    cursor: Modified\n"
        "    system_of_record: true\n"
        "    fields:\n"
        "      name: {path: Name, illegal_characters: strp}\n"
        "      currency: {path: Cur}\n",
        encoding="utf-8",
    )

    assert [str(problem) for problem in check_mapping_files([path])] == [
        f"{path}:3:8: unknown key 'ilegal_characters'; did you mean 'illegal_characters'?",
        f"{path}:10:46: illegal_characters: Input should be 'reject' or 'strip'",
    ]


def test_the_option_is_refused_on_a_child_list_rule(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text(
        "version: 2\n"
        "system: crm\n"
        "entities:\n"
        "  order:\n"
        "    object: Order\n"
        "    external_id: ext\n"
        "    fields:\n"
        "      lines: {path: lines, each: {sku: {path: product_id}}, illegal_characters: strip}\n",
        encoding="utf-8",
    )

    problems = [str(problem) for problem in check_mapping_files([path])]

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:8:")
    assert "illegal_characters doesn't go with each" in problems[0]


def test_editors_get_the_option_from_the_json_schema() -> None:
    schema = json.dumps(mapping_json_schema())

    assert '"illegal_characters"' in schema
    assert '"enum": ["reject", "strip"]' in schema


def test_changing_the_file_wide_policy_changes_the_entity_fingerprint(tmp_path: Path) -> None:
    plain = _account(tmp_path, {"path": "Name"}).fingerprint
    default = _account(tmp_path, {"path": "Name"}, {"illegal_characters": "reject"}).fingerprint
    stripping = _account(tmp_path, {"path": "Name"}, {"illegal_characters": "strip"}).fingerprint

    assert plain == default
    assert stripping != plain
