"""The mapping file format, version 2, as pydantic models; JSON Schema is exported from them.

A file maps one system. Each entity entry either captures records from the system
(``system_of_record: true``: keys are canonical fields, sources read the system's fields) or
writes them to it (keys are the system's fields, sources read canonical fields). Field rules
and their kinds live in :mod:`mappings.rule_kinds`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mappings.rule_kinds import (
    KINDS,
    FieldRule,
    IllegalCharacterPolicy,
    NumberFormat,
    RuleBase,
    Spec,
    SplitText,
)

VERSION = 2


class EntitySpec(Spec):
    """One canonical entity in this system: its object, keys, filter and field rules."""

    object_name: str = Field(alias="object", min_length=1, description="the system's object")
    key: str = Field("Id", min_length=1, description="the system's id field")
    key_scope: Literal["system", "parent"] = Field(
        "system",
        description="parent: the key is unique only within the parent record (NetSuite line "
        "numbers), so the id joins the parent's id and the key",
    )
    cursor: str | None = Field(None, description="incremental-read field; none: read via parent")
    modified: str | None = Field(None, description="last-modified field; defaults to cursor")
    filter: str | None = Field(
        None, min_length=1, description="condition the connector adds to its query"
    )
    system_of_record: bool = Field(False, description="records are captured from this system")
    external_id: str | None = Field(None, description="field holding revbridge's id on writes")
    fields: dict[str, FieldRule] = Field(description="field -> rule")


class TextRules(Spec):
    """How every rule of the file treats text, unless the rule says otherwise."""

    illegal_characters: IllegalCharacterPolicy = Field(
        "reject",
        description="text with characters XML 1.0 can't hold (control characters, lone "
        "surrogates, U+FFFE/U+FFFF): reject the record, or strip them with a warning",
    )


class MappingFile(Spec):
    """A whole mapping file: one system's entities."""

    version: Literal[2] = Field(description="format version")
    system: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="system name, e.g. salesforce")
    text: TextRules = Field(
        default_factory=TextRules, description="defaults for text values of every rule"
    )
    entities: dict[str, EntitySpec] = Field(description="canonical entity -> mapping")


_MODELS: tuple[type[Spec], ...] = (
    *KINDS.values(),
    RuleBase,
    EntitySpec,
    MappingFile,
    NumberFormat,
    SplitText,
    TextRules,
)
ALL_KEYS: frozenset[str] = frozenset(
    info.alias or name for model in _MODELS for name, info in model.model_fields.items()
)


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema of a mapping file, for editors (yaml-language-server ``$schema``)."""
    schema = MappingFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"revbridge mapping file, version {VERSION}"
    return schema
