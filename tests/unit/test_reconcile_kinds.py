"""The pure parts of reconcile's kinds, on the shipped mappings: which target fields carry a
payment status or a natural key (learnt from the mapping), and the payment gap's money."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.loader import load_mapping_set
from mappings.mapping_set import MappingSet
from sync.assurance.derived_fields import target_fields_of, value_at, with_value
from sync.assurance.natural_keys import NaturalKeyMatcher
from sync.assurance.payments import PaymentCheck

INVOICE: dict[str, Any] = {
    "id": "inv-1",
    "account_id": "acc-1",
    "order_id": "ord-1",
    "status": "paid",
    "invoice_date": "2026-02-01",
    "due_date": "2026-03-03",
    "currency": "USD",
    "subtotal": "1190.00",
    "total": "1190.00",
    "amount_due": "0.00",
    "lines": [],
}
ACCOUNT: dict[str, Any] = {
    "id": "acc-1",
    "name": "Acme Corp",
    "currency": "USD",
    "status": "active",
    "billing_address": {"country": "DE", "city": "Berlin"},
}


@pytest.fixture(scope="module")
def shipped() -> MappingSet:
    return load_mapping_set()


def test_payment_fields_are_learnt_from_each_targets_mapping(shipped: MappingSet) -> None:
    salesforce = PaymentCheck(shipped.systems["salesforce"].entities["invoice"])
    billing = PaymentCheck(shipped.systems["billing"].entities["invoice"])
    assert salesforce.fields(INVOICE) == ("Revbridge_Balance__c", "blng__InvoiceStatus__c")
    assert billing.fields(INVOICE) == ("amount_due", "status")


def test_a_target_invoice_agreeing_with_the_erp_has_no_gap(shipped: MappingSet) -> None:
    check = PaymentCheck(shipped.systems["salesforce"].entities["invoice"])
    shown = {"blng__InvoiceStatus__c": "Posted", "Revbridge_Balance__c": 0.0}
    assert check.gap(INVOICE, shown) is None


def test_an_unpaid_balance_puts_the_balance_gap_at_risk(shipped: MappingSet) -> None:
    check = PaymentCheck(shipped.systems["salesforce"].entities["invoice"])
    # The ERP says paid (0.00 due); Salesforce still shows 400.00 of 1,190.00 due: 40,000 cents.
    gap = check.gap(INVOICE, {"blng__InvoiceStatus__c": "Posted", "Revbridge_Balance__c": "400"})
    assert gap is not None
    assert gap.expected == {"Revbridge_Balance__c": "0.00"}
    assert gap.actual == {"Revbridge_Balance__c": "400"}
    assert gap.at_risk_minor == 40_000


def test_a_status_only_gap_puts_the_whole_invoice_at_risk(shipped: MappingSet) -> None:
    check = PaymentCheck(shipped.systems["billing"].entities["invoice"])
    void = {**INVOICE, "status": "void", "amount_due": "0.00"}
    gap = check.gap(void, {"status": "open", "amount_due": "0"})
    assert gap is not None
    assert gap.expected == {"status": "void"}
    assert gap.at_risk_minor == 119_000


@pytest.mark.parametrize(
    "hostile", [{"nested": ["x"]}, "[red]1[/red]\x1b[2J", "9" * 400, None, True]
)
def test_a_balance_of_the_wrong_type_is_a_gap_on_the_whole_invoice(
    shipped: MappingSet, hostile: Any
) -> None:
    check = PaymentCheck(shipped.systems["billing"].entities["invoice"])
    gap = check.gap(INVOICE, {"status": "paid", "amount_due": hostile})
    assert gap is not None
    assert gap.actual == {"amount_due": hostile}
    # No amount revbridge can count (a number past 64 bits of cents is none either).
    assert gap.at_risk_minor == 119_000


def test_an_invoice_the_mapping_cannot_map_teaches_nothing(shipped: MappingSet) -> None:
    check = PaymentCheck(shipped.systems["billing"].entities["invoice"])
    broken = {k: v for k, v in INVOICE.items() if k != "total"}
    assert check.gap(broken, {"status": "open"}) is None
    assert check.fields(INVOICE) == ("amount_due", "status")


def test_natural_key_fields_follow_the_mapping(shipped: MappingSet) -> None:
    billing = shipped.systems["billing"].entities["account"]
    assert target_fields_of(billing, ACCOUNT, {"name": "x"}) == ("name",)
    assert target_fields_of(billing, ACCOUNT, {"billing_address.country": "FR"}) == (
        "address.country",
    )
    erp = shipped.systems["erp"].entities["account"]
    assert target_fields_of(erp, ACCOUNT, {"billing_address.country": "FR"}) == ()


def test_a_lookalike_matches_case_and_spacing_aside_and_country_counts(
    shipped: MappingSet,
) -> None:
    billing = shipped.systems["billing"].entities["account"]
    loads: list[int] = []

    def load() -> list[tuple[str, dict[str, Any]]]:
        loads.append(1)
        return [("acc-1", ACCOUNT), ("acc-2", {**ACCOUNT, "id": "acc-2", "name": "Other"})]

    matcher = NaturalKeyMatcher(billing, load)
    found = matcher.match({"name": " ACME   corp", "address": {"country": "DE"}})
    assert found == ("acc-1", {"name": " ACME   corp", "address.country": "DE"})
    assert matcher.match({"name": "Acme Corp", "address": {"country": "FR"}}) is None
    assert matcher.match({"name": None, "address": None}) is None
    assert matcher.key_field() == "name+address.country"
    assert loads == [1]  # the store is read once per reconcile


def test_the_erp_matches_accounts_on_name_alone(shipped: MappingSet) -> None:
    erp = shipped.systems["erp"].entities["account"]
    matcher = NaturalKeyMatcher(erp, lambda: [("acc-1", ACCOUNT)])
    assert matcher.match({"companyName": "acme corp"}) == ("acc-1", {"companyName": "acme corp"})


def test_dotted_paths_read_and_write_nested_values() -> None:
    record = {"address": {"country": "DE"}, "a.b": 1}
    assert value_at(record, "address.country") == "DE"
    assert value_at(record, "a.b") == 1
    assert value_at(record, "address.city.zip") is None
    changed = with_value(record, "address.country", "FR")
    assert (changed["address"]["country"], record["address"]["country"]) == ("FR", "DE")
