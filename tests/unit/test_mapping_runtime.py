"""Compiled mappings at run time: values, lookups, refs, specs and decimal exactness."""

from __future__ import annotations

import copy
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.base import ChildSpec, WriteSpec
from mappings.canonical import Account, Order
from mappings.errors import MappingError, UnresolvedReference
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from sync.engine.specs import read_spec, write_spec
from tests.unit.compile_paths import COMPILE_PATHS, compiled_as

MAPPINGS = load_mapping_set()
SALESFORCE = MAPPINGS.system("salesforce").entities
with compiled_as("closures"):
    _BY_CLOSURES = load_mapping_set()


@pytest.fixture(autouse=True, params=COMPILE_PATHS)
def compile_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs on generated code and on closures alike."""
    if request.param == "closures":
        monkeypatch.setattr(sys.modules[__name__], "MAPPINGS", _BY_CLOSURES)
        monkeypatch.setattr(
            sys.modules[__name__], "SALESFORCE", _BY_CLOSURES.system("salesforce").entities
        )


RAW_ORDER: dict[str, Any] = {
    "Id": "801000000000001AAA",
    "SystemModstamp": "2026-01-05T10:00:00.000+0000",
    "AccountId": "001000000000001AAA",
    "OrderNumber": "00000100",
    "Status": "Draft",
    "EffectiveDate": "2026-02-01",
    "EndDate": None,
    "CurrencyIsoCode": "USD",
    "TotalAmount": 1200.0,
    "OrderItems": [
        {
            "Id": "802000000000001AAA",
            "SystemModstamp": "2026-01-05T10:00:00.000+0000",
            "Product2Id": "01t000000000001AAA",
            "OrderItemNumber": "1",
            "Quantity": 1.0,
            "UnitPrice": 1200.0,
            "TotalPrice": 1200.0,
            "ServiceDate": None,
            "EndDate": None,
        }
    ],
}


class RecordingXref:
    """Resolves every id (or none), remembering each question asked."""

    def __init__(self, *, known: bool = True) -> None:
        self.known = known
        self.calls: list[tuple[str, str, str]] = []

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        self.calls.append((entity, system, system_id))
        return canonical_id(entity, system, system_id) if self.known else None

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        self.calls.append((entity, system, canonical_id))
        return f"{system}-{canonical_id[:8]}" if self.known else None


def raw_order(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(RAW_ORDER), **changes}


def canonical_order(raw: dict[str, Any]) -> dict[str, Any]:
    mapped = SALESFORCE["order"].to_canonical(raw, RecordingXref())
    return Order.model_validate(mapped).model_dump(mode="json")


def test_unknown_salesforce_order_status_is_a_mapping_error_on_status() -> None:
    with pytest.raises(MappingError) as raised:
        SALESFORCE["order"].to_canonical(raw_order(Status="Pending"), RecordingXref())

    assert raised.value.field == "status"
    assert not isinstance(raised.value, UnresolvedReference)


def test_unmapped_account_type_falls_back_to_the_default_status() -> None:
    raw = {"Id": "001A", "SystemModstamp": "2026-01-05T10:00:00.000+0000", "Name": "Acme"}
    raw |= {"CurrencyIsoCode": "USD", "Type": "Prospect"}

    mapped = SALESFORCE["account"].to_canonical(raw, RecordingXref())

    assert Account.model_validate(mapped).status == "active"
    assert mapped["billing_address"] == dict.fromkeys(
        ["street", "city", "state", "postal_code", "country"]
    )


def test_parent_not_synced_yet_raises_unresolved_reference_with_its_source_id() -> None:
    with pytest.raises(UnresolvedReference) as raised:
        SALESFORCE["order"].to_canonical(raw_order(), RecordingXref(known=False))

    error = raised.value
    assert (error.field, error.entity, error.system, error.key) == (
        "account_id",
        "account",
        "salesforce",
        "001000000000001AAA",
    )


def test_null_reference_maps_to_none_without_asking_the_resolver() -> None:
    xref = RecordingXref()

    mapped = SALESFORCE["order"].to_canonical(raw_order(AccountId=None, OrderItems=[]), xref)

    assert mapped["account_id"] is None
    assert xref.calls == []


def test_bad_date_is_a_mapping_error_naming_the_canonical_field() -> None:
    with pytest.raises(MappingError) as raised:
        SALESFORCE["order"].to_canonical(raw_order(EffectiveDate="01/02/2026"), RecordingXref())

    assert raised.value.field == "effective_date"


def test_children_get_their_own_identity_and_the_parent_id() -> None:
    mapped = SALESFORCE["order"].to_canonical(raw_order(), RecordingXref())

    (line,) = mapped["lines"]
    assert line["id"] == canonical_id("order_line", "salesforce", "802000000000001AAA")
    assert line["source"] == {
        "system": "salesforce",
        "object": "OrderItem",
        "id": "802000000000001AAA",
    }
    assert line["order_id"] == mapped["id"]


def test_billing_line_for_a_product_not_in_billing_yet_is_unresolved() -> None:
    record = canonical_order(raw_order())
    product_id = record["lines"][0]["product_id"]

    class AccountsOnly(RecordingXref):
        def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
            return "cus_1" if entity == "account" else None

    with pytest.raises(UnresolvedReference) as raised:
        MAPPINGS.system("billing").entities["order"].from_canonical(record, AccountsOnly())

    assert (raised.value.entity, raised.value.system, raised.value.key) == (
        "product",
        "billing",
        product_id,
    )


def test_erp_payload_refers_by_canonical_id_without_the_resolver() -> None:
    record = canonical_order(raw_order())
    xref = RecordingXref(known=False)

    payload = MAPPINGS.system("erp").entities["order"].from_canonical(record, xref)

    assert payload["entity"] == {"externalId": record["account_id"]}
    assert payload["orderStatus"] == "_pendingApproval"
    assert xref.calls == []


def test_currency_without_an_erp_internal_id_is_a_mapping_error() -> None:
    record = canonical_order(raw_order(CurrencyIsoCode="CHF"))

    with pytest.raises(MappingError) as raised:
        MAPPINGS.system("erp").entities["order"].from_canonical(record, RecordingXref())

    assert raised.value.field == "currency.internalId"


def test_source_entities_come_parents_first() -> None:
    order = [m.entity for m in MAPPINGS.source_entities("salesforce")]
    assert set(order) == {"account", "product", "contact", "price_book_entry", "quote",
                          "contract", "subscription", "order"}  # fmt: skip
    for child, parents in {
        "order": ("account", "product", "quote", "contract"),
        "subscription": ("account", "product", "contract"),
        "quote": ("account", "product"),
        "contact": ("account",),
    }.items():
        assert all(order.index(parent) < order.index(child) for parent in parents), child
    assert MAPPINGS.source_entities("billing") == []


def test_targets_of_an_order_are_billing_and_erp() -> None:
    targets = MAPPINGS.targets_for("order", "salesforce")

    assert [(m.system, write_spec(m)) for m in targets] == [
        ("billing", WriteSpec("orders", "external_id")),
        ("erp", WriteSpec("SalesOrder", "externalId")),
    ]


def test_order_read_spec_asks_for_the_mapped_fields_and_order_items() -> None:
    spec = read_spec(SALESFORCE["order"], page_size=500)

    assert spec.object_name == "Order"
    assert spec.cursor_field == "SystemModstamp"
    assert spec.page_size == 500
    assert {"Id", "AccountId", "Status", "TotalAmount"} <= set(spec.fields)
    assert spec.children == (
        ChildSpec(
            "OrderItems",
            (
                "Id",
                "SystemModstamp",
                "Product2Id",
                "OrderItemNumber",
                "Quantity",
                "UnitPrice",
                "TotalPrice",
                "ServiceDate",
                "EndDate",
                # The subscription lifecycle: charge terms and the subscription amended.
                "SBQQ__ChargeType__c",
                "SBQQ__BillingFrequency__c",
                "SBQQ__BillingType__c",
                "SBQQ__SubscriptionTerm__c",
                "SBQQ__ProrateMultiplier__c",
                "SBQQ__SubscriptionType__c",
                "SBQQ__UpgradedSubscription__c",
                # ... the order product it revises, and the quantity after the change.
                "SBQQ__RevisedOrderProduct__r.OrderItemNumber",
                "SBQQ__QuoteLine__r.SBQQ__Quantity__c",
            ),
        ),
    )
    assert SALESFORCE["order"].referenced_entities() == {
        "account", "product", "quote", "contract", "subscription", "order"
    }  # fmt: skip


def test_order_lines_are_not_read_on_their_own() -> None:
    with pytest.raises(ValueError, match="read with its parent"):
        read_spec(SALESFORCE["order_line"])


def test_a_source_mapping_does_not_build_payloads() -> None:
    with pytest.raises(TypeError):
        SALESFORCE["order"].from_canonical({}, RecordingXref())


amounts = st.decimals(
    min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False
)


@given(total=amounts, unit_price=amounts.map(abs), as_text=st.booleans())
def test_decimals_travel_exactly_from_salesforce_to_every_target(
    total: Decimal, unit_price: Decimal, as_text: bool
) -> None:
    # Salesforce JSON numbers arrive as floats; a connector may also hand over text.
    def wire(amount: Decimal) -> float | str:
        return str(amount) if as_text else float(amount)

    raw = raw_order(TotalAmount=wire(total))
    raw["OrderItems"][0]["UnitPrice"] = wire(unit_price)
    record = canonical_order(raw)

    billing = MAPPINGS.system("billing").entities["order"].from_canonical(record, RecordingXref())
    erp = MAPPINGS.system("erp").entities["order"].from_canonical(record, RecordingXref())

    assert Decimal(billing["total"]) == total
    assert Decimal(billing["lines"][0]["unit_amount"]) == unit_price
    assert Decimal(erp["itemList"]["item"][0]["rate"]) == unit_price
    if as_text:
        assert billing["total"] == str(total)
