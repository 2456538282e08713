"""The mapping file format, version 1, as pydantic models; JSON Schema is exported from them.

A file maps one system. Each entity entry either captures records from the system
(``system_of_record: true``: keys are canonical fields, ``path`` is the system's field) or
writes them to it (keys are the system's fields, ``path`` is a canonical field).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | bool | int | float | None

# Rule keys that pick what a rule produces; exactly one per rule (or a lone `default`).
SOURCE_KEYS = ("path", "value", "each")


class FieldType(StrEnum):
    """How a value is converted on its way through a rule."""

    STRING = "string"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldRule(_Spec):
    """How one field is produced: from a path, a constant, a child list, or a default."""

    path: str | None = Field(None, min_length=1, description="dotted field path to read")
    field_type: FieldType | None = Field(None, alias="type", description="convert the value")
    lookup: dict[str, Scalar] | None = Field(
        None, alias="map", description="lookup table; an unmapped value needs a default"
    )
    default: Scalar = Field(None, description="used when the value is null or unmapped")
    value: Scalar = Field(None, description="a constant")
    ref: str | None = Field(None, description="canonical entity whose id the value is")
    each: str | None = Field(None, min_length=1, description="child list to map item by item")
    entity: str | None = Field(None, description="entity mapping used for each child")
    fields: dict[str, FieldRule] | None = Field(None, description="inline rules for each child")
    parent_key: str | None = Field(None, description="child field set to the parent's id")
    required: bool = Field(False, description="a null result is a mapping error")

    @model_validator(mode="after")
    def _one_source(self) -> FieldRule:
        given = [key for key in SOURCE_KEYS if key in self.model_fields_set]
        if len(given) > 1:
            raise ValueError(f"a rule takes one of path, value, each; this one has {given}")
        if not given and "default" not in self.model_fields_set:
            raise ValueError("a rule needs one of path, value, each or default")
        child_keys = {"entity", "fields", "parent_key"} & self.model_fields_set
        if child_keys and self.each is None:
            raise ValueError(f"{sorted(child_keys)} only go with each")
        if self.each is not None:
            extra = {"field_type", "lookup", "ref", "default"} & self.model_fields_set
            if extra:
                keys = sorted(FieldRule.model_fields[name].alias or name for name in extra)
                raise ValueError(f"{keys} don't go with each")
        return self

    @property
    def has_default(self) -> bool:
        """True when the rule names a default (which may be null)."""
        return "default" in self.model_fields_set

    @property
    def kind(self) -> str:
        """Which rule kind this is: path, value, each or default."""
        for key in SOURCE_KEYS:
            if key in self.model_fields_set:
                return key
        return "default"


class EntitySpec(_Spec):
    """One canonical entity in this system: its object, keys and field rules."""

    object_name: str = Field(alias="object", min_length=1, description="the system's object")
    key: str = Field("Id", min_length=1, description="the system's id field")
    cursor: str | None = Field(None, description="incremental-read field; none: read via parent")
    modified: str | None = Field(None, description="last-modified field; defaults to cursor")
    system_of_record: bool = Field(False, description="records are captured from this system")
    external_id: str | None = Field(None, description="field holding revbridge's id on writes")
    fields: dict[str, FieldRule] = Field(description="field -> rule")


class MappingFile(_Spec):
    """A whole mapping file: one system's entities."""

    version: Literal[1] = Field(description="format version")
    system: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="system name, e.g. salesforce")
    entities: dict[str, EntitySpec] = Field(description="canonical entity -> mapping")


ALL_KEYS: frozenset[str] = frozenset(
    info.alias or name
    for model in (FieldRule, EntitySpec, MappingFile)
    for name, info in model.model_fields.items()
)


def mapping_json_schema() -> dict[str, Any]:
    """JSON Schema of a mapping file, for editors (yaml-language-server ``$schema``)."""
    schema = MappingFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "revbridge mapping file, version 1"
    return schema
