"""Connector requests derived from compiled mappings: what to read, where to write."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import ChildSpec, ReadSpec, WriteSpec
from mappings.mapping_set import EntityMapping


def read_spec(mapping: EntityMapping, page_size: int | None = None) -> ReadSpec:
    """The fields the mapping's rules need (+ key + cursor), with its child collections.

    ``page_size`` None leaves it to the source system's own setting (``salesforce.page_size``,
    ``erp.search_page_size``, ``billing.page_size``), read by its connector.
    """
    if mapping.cursor_field is None:
        raise ValueError(
            f"{mapping.system} {mapping.entity} has no cursor; it is read with its parent"
        )
    return ReadSpec(
        object_name=mapping.object_name,
        fields=mapping.read_fields,
        key_field=mapping.key_field,
        cursor_field=mapping.cursor_field,
        children=tuple(
            ChildSpec(relationship=child.relationship, fields=child.fields)
            for child in mapping.children
        ),
        page_size=page_size,
        filter=mapping.filter,
    )


def write_spec(
    mapping: EntityMapping, known_target_ids: Mapping[str, str] | None = None
) -> WriteSpec:
    """Upsert into the mapping's object, keyed by its external id field."""
    if mapping.external_id_field is None:
        raise ValueError(f"{mapping.system} {mapping.entity} names no external_id field")
    return WriteSpec(
        object_name=mapping.object_name,
        external_id_field=mapping.external_id_field,
        known_target_ids=dict(known_target_ids or {}),
    )
