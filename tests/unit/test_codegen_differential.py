"""Generated mapping code against the closures it replaces: same payloads, same errors.

For random records full of hostile values (nulls, wrong types, control characters, lone
surrogates, markup, huge and non-finite numbers, nested junk), every shipped entity mapping and
a mapping using every rule kind give, on both paths, the same payload (key order included) or
the same exception: class, message, field and character positions alike.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.canonical import model_for
from mappings.fields import CanonicalField, FieldKind, canonical_fields
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import EntityMapping, MappingSet
from mappings.values import noting_stripped_text
from tests.unit.compile_paths import compiled_as

RICH = """\
version: 2
system: warehouse
text: {illegal_characters: reject}
entities:
  order_line:
    object: SalesLine
    key: lineId
    external_id: meta.externalId
    fields:
      orderRef: {path: order_id, ref: order, required: true}
      itemRef: {path: product_id, ref: product}
      lineNo: {path: line_number, type: integer, default: 1}
      qty: {path: quantity, type: decimal}
      rate: {path: unit_price, type: decimal, format: {decimal: ",", thousands: "."}}
      amount: {path: total, type: money, currency: source.system}
      startDate: {path: start_date, type: date, format: "%d/%m/%Y"}
      endDate: {path: end_date, type: date}
      modifiedAt: {path: source_modified_at, type: datetime}
      modifiedDay: {path: source_modified_at, type: date}
      origin: {path: source.system, map: {EUR: EU, USD: US, JPY: JP, "1": ONE, "true": YES}}
      originOrDefault: {path: source.object, map: {a: A}, unmapped: default, default: OTHER}
      originKept: {path: source.object, map: {a: A}, unmapped: passthrough}
      sourceId: {path: source.id, required: true, illegal_characters: strip}
      text: {path: source.object, type: string}
      description: {template: "Line {line_number} of 'order' {order_id}\\n\\"{source.id}\\""}
      joined: {join: [order_id, product_id, source.id], separator: " / "}
      compound: {join: {first: order_id, second: product_id}}
      guarded: {path: quantity, when: "quantity != None"}
      computed: {expr: "line_number * 2"}
      "odd'] = 1; import os #": {const: "x'\\ny"}
      currency: {const: EUR}
      taxable: {const: true, type: boolean}
      department.internalId: {const: "7"}
"""

Draw = Callable[[st.SearchStrategy[Any]], Any]
NASTY_TEXT = [
    "2026-02-01",
    "01/02/2026",
    "2026-01-05T10:00:00.000+0000",
    "2026-01-05T10:00:00",
    "12.50",
    " 7 ",
    "1.234,56",
    "1e999",
    "NaN",
    "9" * 60,
    "USD",
    "salesforce",
    "erp",
    "a",
    "true",
    "no",
    "missing-ref",
    "Bad\x00Nul\x1bEsc",
    "lone \ud800 surrogate",
    "\ufffe",
    "<script>alert(1)</script>",
    "{source.id}",
    "",
    "   ",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(NASTY_TEXT)
    | st.text(max_size=8)
)
VALUES = (
    SCALARS
    | st.lists(SCALARS, max_size=2)
    | st.dictionaries(st.sampled_from(["records", "Id", "system", "id"]), SCALARS, max_size=2)
)


class Refs:
    """Resolves every id but ``missing-ref``; answers whatever type it is asked about."""

    def canonical_id(self, entity: str, system: str, system_id: Any) -> str | None:
        return None if system_id == "missing-ref" else f"c-{entity}-{system_id!r}"

    def system_id(self, entity: str, system: str, canonical_id: Any) -> str | None:
        return None if canonical_id == "missing-ref" else f"s-{entity}-{canonical_id!r}"


def outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What mapping one record came to, comparable across paths (repr keeps key order, NaN)."""
    with noting_stripped_text() as notes:
        try:
            return ("mapped", repr(call()), tuple(notes))
        except Exception as error:  # every kind must match, not only MappingError
            return ("failed", type(error), str(error), getattr(error, "field", None))


def both_paths(paths: list[Path]) -> tuple[MappingSet, MappingSet]:
    generated = load_mapping_set(paths)
    with compiled_as("closures"):
        return generated, load_mapping_set(paths)


def entity_pairs(generated: MappingSet, closures: MappingSet) -> list[tuple[str, str]]:
    return [
        (system, entity)
        for system, mapping in generated.systems.items()
        for entity in mapping.entities
        if entity in closures.system(system).entities
    ]


def _nest(record: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        inner = record.get(part)
        if not isinstance(inner, dict):
            inner = record[part] = {}
        record = inner
    record[last] = value


# A raw field's likely value, guessed from its name, so most fields of a record are sound.
RAW_GUESSES: list[tuple[str, st.SearchStrategy[Any]]] = [
    ("modstamp", st.just("2026-01-05T10:00:00.000+0000")),
    ("lastmodified", st.just("2026-01-05T10:00:00.000+0000")),
    ("date", st.sampled_from(["2026-02-01", None])),
    ("currency", st.sampled_from(["USD", "EUR", {"internalId": "1"}])),
    ("status", st.sampled_from(["Draft", "Activated", "Paid", "Open", "_paid"])),
    ("amount", st.decimals(0, 10**5, places=2)),
    ("price", st.decimals(0, 10**5, places=2)),
    ("total", st.decimals(0, 10**5, places=2)),
    ("quantity", st.integers(1, 9)),
]
RAW_OTHER = st.sampled_from(["001A", "Acme <b>& Co</b>", "7", "true", None]) | st.integers(0, 99)


def _raw_value(draw: Draw, name: str, hostile: bool) -> Any:
    if hostile:
        return draw(VALUES)
    lowered = name.lower()
    guess = next((values for part, values in RAW_GUESSES if part in lowered), RAW_OTHER)
    return draw(guess)


@st.composite
def raw_records(draw: st.DrawFn, mapping: EntityMapping) -> dict[str, Any]:
    """A system's record with the fields the mapping reads, children included."""
    poisoned = draw(st.sets(st.sampled_from(mapping.read_fields), max_size=2))
    record: dict[str, Any] = {}
    for name in mapping.read_fields:
        _nest(record, name, _raw_value(draw, name, name in poisoned))
    if mapping.key_field not in poisoned:
        record[mapping.key_field] = draw(st.text("0123456789AB", min_size=1, max_size=4))
    for child in mapping.children:
        rows = []
        for _ in range(draw(st.integers(0, 2))):
            bad = draw(st.sets(st.sampled_from(child.fields), max_size=1))
            rows.append({name: _raw_value(draw, name, name in bad) for name in child.fields})
            rows[-1]["Id"] = rows[-1].get("Id") or "802A"
        record[child.relationship] = {"records": rows} if draw(st.booleans()) else rows
    return record


PLAUSIBLE: dict[FieldKind, st.SearchStrategy[Any]] = {
    FieldKind.STRING: st.sampled_from(["EUR", "USD", "JPY", "salesforce", "ord-1", "<b>&</b>"]),
    FieldKind.DECIMAL: st.decimals(-(10**6), 10**6, places=2).map(str),
    FieldKind.INTEGER: st.integers(-5, 40),
    FieldKind.BOOLEAN: st.booleans(),
    FieldKind.DATE: st.dates().map(str),
    FieldKind.DATETIME: st.sampled_from(["2026-01-05T10:00:00+00:00", "2026-01-05T10:00:00"]),
}


def _canonical_value(draw: Draw, field: CanonicalField, depth: int, hostile: bool) -> Any:
    item = field.item_model
    if not hostile and field.enum is not None:
        return draw(st.sampled_from([member.value for member in field.enum]))
    if not hostile and field.kind in PLAUSIBLE:
        return draw(PLAUSIBLE[field.kind])
    if item is not None and depth < 2 and (not hostile or draw(st.booleans())):
        if field.kind is FieldKind.MODEL:
            return canonical_record(draw, item, depth + 1)
        return [canonical_record(draw, item, depth + 1) for _ in range(draw(st.integers(0, 2)))]
    return draw(VALUES)


def canonical_record(draw: Draw, model: Any, depth: int = 0) -> dict[str, Any]:
    """A canonical record as model_dump(mode="json") would give it, with hostile values."""
    fields = {name: field for name, field in canonical_fields(model).items() if "." not in name}
    # Mostly sound records with a few poisoned fields, so failures come from deep in a mapping
    # as well as from its first rule.
    poisoned = draw(st.sets(st.sampled_from(sorted(fields)), max_size=3))
    record: dict[str, Any] = {"id": draw(st.sampled_from(["ord-1", "missing-ref", "\x1b"]))}
    for name, field in fields.items():
        hostile = name in poisoned
        record[name] = _canonical_value(draw, field, depth, hostile)
    return record


def assert_same(generated: EntityMapping, closures: EntityMapping, record: dict[str, Any]) -> None:
    if generated.system_of_record:
        ours = outcome(lambda: generated.to_canonical(record, Refs()))
        assert ours == outcome(lambda: closures.to_canonical(record, Refs())), record
        keys = outcome(lambda: generated.ref_keys(record))
        assert keys == outcome(lambda: closures.ref_keys(record)), record
    else:
        ours = outcome(lambda: generated.from_canonical(record, Refs()))
        assert ours == outcome(lambda: closures.from_canonical(record, Refs())), record


# The default mappings and the Stripe profile's own billing and ERP files.
PROFILES = {profile: both_paths(shipped_mapping_files(profile)) for profile in ("json", "stripe")}
CASES = [
    (profile, system, entity)
    for profile, (generated, closures) in PROFILES.items()
    for system, entity in entity_pairs(generated, closures)
]


@pytest.mark.parametrize(("profile", "system", "entity"), CASES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shipped_mappings_give_the_same_payloads_and_errors_on_both_paths(
    profile: str, system: str, entity: str, data: st.DataObject
) -> None:
    generated, closures = (paths.system(system).entities[entity] for paths in PROFILES[profile])
    if generated.system_of_record:
        record = data.draw(raw_records(generated))
    else:
        record = canonical_record(data.draw, model_for(entity))
    assert_same(generated, closures, record)


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> tuple[EntityMapping, EntityMapping]:
    path = tmp_path_factory.mktemp("rich") / "warehouse.yaml"
    path.write_text(RICH, encoding="utf-8")
    generated, closures = both_paths([path])
    return (
        generated.system("warehouse").entities["order_line"],
        closures.system("warehouse").entities["order_line"],
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_rule_kind_gives_the_same_payloads_and_errors_on_both_paths(
    rich: tuple[EntityMapping, EntityMapping], data: st.DataObject
) -> None:
    record = canonical_record(data.draw, model_for("order_line"))
    assert_same(*rich, record)


def test_a_clean_line_maps_identically_with_every_rule_kind(
    rich: tuple[EntityMapping, EntityMapping],
) -> None:
    line = {
        "id": "ord-1",
        "order_id": "ord-9",
        "product_id": "p-1",
        "line_number": 3,
        "quantity": "2",
        "unit_price": "1234.5",
        "total": "2469.00",
        "start_date": "2026-02-01",
        "end_date": None,
        "source_modified_at": "2026-01-05T10:00:00+00:00",
        "source": {"system": "EUR", "object": "a", "id": "L-1"},
    }
    generated, closures = rich

    payload = generated.from_canonical(line, Refs())

    assert payload == closures.from_canonical(line, Refs())
    assert payload["odd'] = 1; import os #"] == "x'\ny"
    assert payload["rate"] == "1.234,5"
    assert payload["amount"] == "2469.00"
    assert payload["meta"] == {"externalId": "ord-1"}
    assert payload["description"] == "Line 3 of 'order' ord-9\n\"L-1\""
    assert Decimal(payload["qty"]) == 2
