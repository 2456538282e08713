"""Canonical ids are the UUID 5 of where a record was captured, whatever its id looks like."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from mappings.identity import _NAMESPACE, canonical_id

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@given(entity=TEXT, system=TEXT, source_id=TEXT)
def test_canonical_id_is_the_uuid5_of_entity_system_and_source_id(
    entity: str, system: str, source_id: str
) -> None:
    expected = uuid.uuid5(_NAMESPACE, f"{entity}\x1f{system}\x1f{source_id}")

    assert canonical_id(entity, system, source_id) == str(expected)


def test_canonical_id_is_stable_across_releases() -> None:
    # Stored records and xrefs are keyed by these ids: a change would duplicate every record.
    assert canonical_id("order", "salesforce", "801A") == "c9915775-8bd3-5c0c-9542-3503a7ce2349"
