"""Golden files: a realistic Salesforce Order with OrderItems, through canonical, to targets.

The fixtures under ``fixtures/mappings/`` are the reviewed expected output; a change in any
of them is a change in what revbridge puts on a wire.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mappings.canonical import Order
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from tests.unit.compile_paths import COMPILE_PATHS, compiled_as

FIXTURES = Path(__file__).parent / "fixtures" / "mappings"
SALESFORCE_IDS = {
    "account": ["001Hs00000Xy7zQIAR"],
    "product": ["01tHs00000P1a2bIAB", "01tHs00000P1a2cIAB"],
    "quote": ["a0zHs000002AbCdIAK"],
}


class FakeXref:
    """An in-memory xref: the Salesforce parents are synced and written to billing."""

    def __init__(self) -> None:
        self.inbound = {
            (entity, "salesforce", source_id): canonical_id(entity, "salesforce", source_id)
            for entity, source_ids in SALESFORCE_IDS.items()
            for source_id in source_ids
        }
        products = [canonical_id("product", "salesforce", i) for i in SALESFORCE_IDS["product"]]
        self.outbound = {
            ("account", "billing", canonical_id("account", "salesforce", "001Hs00000Xy7zQIAR")): (
                "cus_R8b2LqPz"
            ),
            ("product", "billing", products[0]): "prod_7Hk2Mn",
            ("product", "billing", products[1]): "prod_9Qw4Er",
        }

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return self.inbound.get((entity, system, system_id))

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return self.outbound.get((entity, system, canonical_id))


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=COMPILE_PATHS)
def mapping_set(request: pytest.FixtureRequest) -> MappingSet:
    """The shipped mappings, compiled to code and as closures: both must give the golden files."""
    with compiled_as(request.param):
        return load_mapping_set()


@pytest.fixture(scope="module")
def canonical_order(mapping_set: MappingSet) -> dict[str, Any]:
    raw = fixture("salesforce_order.json")
    mapped = mapping_set.system("salesforce").entities["order"].to_canonical(raw, FakeXref())
    return Order.model_validate(mapped).model_dump(mode="json")


def test_salesforce_order_maps_to_the_golden_canonical_order(
    canonical_order: dict[str, Any],
) -> None:
    assert canonical_order == fixture("canonical_order.json")


@pytest.mark.parametrize("system", ["billing", "erp"])
def test_canonical_order_maps_to_the_golden_target_payload(
    mapping_set: MappingSet, canonical_order: dict[str, Any], system: str
) -> None:
    payload = (
        mapping_set.system(system).entities["order"].from_canonical(canonical_order, FakeXref())
    )

    assert payload == fixture(f"{system}_order.json")
