"""A mapping names the refs a raw record will ask for, so a page's lookups can be batched."""

from __future__ import annotations

from typing import Any

from mappings.identity import canonical_id
from mappings.loader import load_mapping_set

SALESFORCE = load_mapping_set().system("salesforce").entities
MODIFIED = "2026-01-05T10:00:00.000+0000"


class AskedXref:
    """Resolves every id, remembering each (entity, id) asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        self.asked.append((entity, system_id))
        return canonical_id(entity, system, system_id)

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        raise AssertionError("inbound mappings never ask for target ids")


def _order(**changes: Any) -> dict[str, Any]:
    line = {"Id": "802A", "SystemModstamp": MODIFIED, "Product2Id": "01tA", "Quantity": 1.0,
            "UnitPrice": 5.0, "TotalPrice": 5.0, "OrderItemNumber": "1"}  # fmt: skip
    order = {"Id": "801A", "SystemModstamp": MODIFIED, "AccountId": "001A", "Status": "Draft",
             "SBQQ__Quote__c": "a0qA", "ContractId": None, "EffectiveDate": "2026-02-01",
             "CurrencyIsoCode": "USD", "OrderNumber": "100"}  # fmt: skip
    lines = {"records": [line, {**line, "Id": "802B", "Product2Id": "01tB"}]}
    return order | {"OrderItems": lines} | changes


def test_order_ref_keys_are_exactly_the_lookups_mapping_it_asks_for() -> None:
    order, xref = _order(), AskedXref()

    SALESFORCE["order"].to_canonical(order, xref)

    assert sorted(SALESFORCE["order"].ref_keys(order)) == sorted(xref.asked)
    assert ("product", "01tB") in xref.asked  # a child's ref is named with its parent's


def test_null_refs_and_absent_children_are_left_out() -> None:
    order = _order(AccountId=None, SBQQ__Quote__c=None, OrderItems=None)

    assert SALESFORCE["order"].ref_keys(order) == []


def test_a_mapping_without_refs_names_none() -> None:
    account = {"Id": "001A", "SystemModstamp": MODIFIED, "Name": "Acme"}

    assert SALESFORCE["account"].ref_keys(account) == []
