"""Property tests: the loader never fails with a stray exception; symmetric mappings round-trip."""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mappings.canonical import Order, OrderStatus
from mappings.errors import MappingConfigError
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from tests.unit.compile_paths import COMPILE_PATHS, compiled_as

FIXTURES = Path(__file__).parent / "fixtures" / "mappings"
RULE_KEYS = ["path", "const", "template", "expr", "join", "map", "type", "format", "each", "when"]
KEYS = st.sampled_from(
    [*RULE_KEYS, "version", "system", "entities", "fields", "object", "cursor", "order", "x"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(["{Name}", "a +* b", "%d/%m/%Y", "date", "order", "2", "{", "__class__"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.one_of(KEYS, st.text(max_size=6)), inner, max_size=5)
    ),
    max_leaves=25,
)


def load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        problems = []
        try:
            load_mapping_set([path])
        except MappingConfigError as error:
            problems = error.problems or [None]
        assert all(problem and problem.line >= 1 and problem.column >= 1 for problem in problems)


def as_yaml(document: Any) -> str:
    with tempfile.TemporaryFile("w+", encoding="utf-8") as stream:
        YAML(typ="safe").dump(document, stream)
        stream.seek(0)
        return stream.read()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_any_yaml_structure_loads_or_raises_only_mapping_config_error(document: Any) -> None:
    load_text(as_yaml(document))


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(RULE_KEYS), SCALARS | st.dictionaries(KEYS, SCALARS), max_size=4
    )
)
def test_any_rule_inside_a_valid_file_loads_or_raises_only_mapping_config_error(
    rule: dict[str, Any],
) -> None:
    document = {
        "version": 2,
        "system": "crm",
        "entities": {
            "account": {
                "object": "Account",
                "cursor": "M",
                "system_of_record": True,
                "fields": {"name": {"path": "Name"}, "currency": {"path": "C"}, "phone": rule},
            }
        },
    }
    load_text(as_yaml(document))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_only_mapping_config_error(text: str) -> None:
    load_text(text)


class EchoXref:
    """Ids map to themselves, so refs survive a round trip unchanged."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return system_id

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return canonical_id


def mirror_mappings() -> MappingSet:
    return load_mapping_set([FIXTURES / "mirror_in.yaml", FIXTURES / "mirror_out.yaml"])


MIRROR = mirror_mappings()
with compiled_as("closures"):
    MIRROR_BY_CLOSURES = mirror_mappings()
TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=8,
)
AMOUNTS = st.decimals(min_value=-(10**9), max_value=10**9, places=2)
MOMENTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
).map(lambda moment: moment.replace(microsecond=0))


@st.composite
def canonical_orders(draw: st.DrawFn) -> dict[str, Any]:
    source_id = draw(st.text("0123456789ABCDEF", min_size=4, max_size=8))
    modified = draw(MOMENTS)
    order_id = canonical_id("order", "mirror", source_id)
    lines = []
    for number in range(draw(st.integers(0, 3))):
        line_source = f"{source_id}-{number}"
        lines.append(
            {
                "id": canonical_id("order_line", "mirror", line_source),
                "source": {"system": "mirror", "object": "MirrorLine", "id": line_source},
                "source_modified_at": modified,
                "order_id": order_id,
                "product_id": draw(TEXT),
                "line_number": number + 1,
                "quantity": draw(st.decimals(min_value=1, max_value=1000, places=3)),
                "unit_price": draw(AMOUNTS.map(abs)),
                "total": draw(AMOUNTS),
            }
        )
    order = {
        "id": order_id,
        "source": {"system": "mirror", "object": "MirrorOrder", "id": source_id},
        "source_modified_at": modified,
        "account_id": draw(TEXT),
        "order_number": draw(st.none() | TEXT),
        "status": draw(st.sampled_from(list(OrderStatus))),
        "effective_date": draw(st.dates(min_value=date(1990, 1, 1))),
        "end_date": draw(st.none() | st.dates(min_value=date(1990, 1, 1))),
        "currency": draw(st.sampled_from(["USD", "EUR", "GBP"])),
        "total": draw(AMOUNTS),
        "lines": lines,
    }
    return Order.model_validate(order).model_dump(mode="json")


@pytest.mark.parametrize("path", COMPILE_PATHS)
@settings(max_examples=200, deadline=None)
@given(record=canonical_orders())
def test_symmetric_mapping_round_trips_a_canonical_order(path: str, record: dict[str, Any]) -> None:
    xref = EchoXref()
    mirror = MIRROR if path == "generated" else MIRROR_BY_CLOSURES

    payload = mirror.system("mirror_out").entities["order"].from_canonical(record, xref)
    mapped = mirror.system("mirror").entities["order"].to_canonical(payload, xref)

    assert Order.model_validate(mapped).model_dump(mode="json") == record
    assert isinstance(Decimal(record["total"]), Decimal)
