"""Which canonical entity the shipped mappings capture where, and where they write it.

The table below is the documented coverage (mappings/README.md, "Coverage"); a mapping change
that adds or drops an entity anywhere must change it too.
"""

from __future__ import annotations

from mappings.canonical import ENTITIES
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet

# entity -> (captured from, written to) with the default mappings.
DEFAULT_COVERAGE = {
    "account": ("salesforce", {"billing", "erp"}),
    "contact": ("salesforce", {"billing", "erp"}),
    "product": ("salesforce", {"billing", "erp"}),
    "price_book_entry": ("salesforce", {"billing", "erp"}),
    "quote": ("salesforce", {"billing", "erp"}),
    "quote_line": ("salesforce", {"billing", "erp"}),
    "contract": ("salesforce", {"billing", "erp"}),
    "subscription": ("salesforce", {"billing", "erp"}),
    "order": ("salesforce", {"billing", "erp"}),
    "order_line": ("salesforce", {"billing", "erp"}),
    "invoice": ("erp", {"billing", "salesforce"}),
    "invoice_line": ("erp", {"billing", "salesforce"}),
    "payment": ("erp", {"billing", "salesforce"}),
    "payment_application": ("erp", {"billing", "salesforce"}),
    "credit_memo": ("erp", {"billing", "salesforce"}),
}
# Every canonical entity is mapped now; an entity added to the model starts here.
UNMAPPED: set[str] = set()
# Parent -> the lines that travel inside its payload (to Salesforce, a payment's applications
# travel as Billing's allocations, written with it).
LINES = {
    "order": "order_line",
    "quote": "quote_line",
    "invoice": "invoice_line",
    "payment": "payment_application",
}
# Entities the Stripe profile writes as no record of their own: a Stripe payment pays the one
# invoice it names.
CARRIED = {"payment_application"}


def _coverage(mapping_set: MappingSet) -> dict[str, tuple[str, set[str]]]:
    captured: dict[str, str] = {}
    written: dict[str, set[str]] = {}
    for system in mapping_set.systems.values():
        for mapping in system.entities.values():
            if mapping.system_of_record:
                assert mapping.entity not in captured, f"{mapping.entity} has two owners"
                captured[mapping.entity] = system.name
            else:
                written.setdefault(mapping.entity, set()).add(system.name)
    # Lines travel inside their parent's payload: outbound `each` rules write them too.
    for parent, child in LINES.items():
        if parent in written:
            written.setdefault(child, set()).update(written[parent])
    return {entity: (owner, written.get(entity, set())) for entity, owner in captured.items()}


def test_default_mappings_capture_each_entity_from_one_system_and_write_it_where_documented() -> (
    None
):
    coverage = _coverage(load_mapping_set())

    assert coverage == DEFAULT_COVERAGE


def test_every_canonical_entity_is_mapped_or_listed_as_not_yet_mapped() -> None:
    assert set(DEFAULT_COVERAGE) | UNMAPPED == set(ENTITIES)
    assert not set(DEFAULT_COVERAGE) & UNMAPPED


def _written_to(mapping_set: MappingSet, system: str) -> set[str]:
    """Entities ``system`` receives, lines sent inside their parent's payload included."""
    written = {
        m.entity for m in mapping_set.system(system).entities.values() if not m.system_of_record
    }
    return written | {child for parent, child in LINES.items() if parent in written}


def test_default_billing_mapping_writes_every_canonical_entity() -> None:
    assert _written_to(load_mapping_set(), "billing") == set(ENTITIES)


# entity -> (captured from, written to) with the Stripe profile's billing.yaml and erp.yaml.
STRIPE_COVERAGE = {
    **DEFAULT_COVERAGE,
    # Stripe has no contacts, quotes, contracts or standalone subscriptions to write them to.
    **{
        entity: ("salesforce", {"erp"})
        for entity in ("contact", "quote", "quote_line", "contract", "subscription")
    },
    "price_book_entry": ("salesforce", {"billing", "erp"}),
    "invoice": ("billing", {"erp", "salesforce"}),
    "invoice_line": ("billing", {"erp", "salesforce"}),
    "payment": ("billing", {"erp", "salesforce"}),
    "credit_memo": ("billing", {"salesforce"}),
}
# A Stripe charge pays one invoice (its invoice_id): the profile captures no applications.
del STRIPE_COVERAGE["payment_application"]


def _stripe_mapping_set() -> MappingSet:
    return load_mapping_set(shipped_mapping_files("stripe"))


def test_stripe_profile_captures_receivables_from_billing_and_writes_them_to_the_erp() -> None:
    coverage = _coverage(_stripe_mapping_set())

    assert coverage == STRIPE_COVERAGE
    assert set(STRIPE_COVERAGE) | CARRIED == set(ENTITIES)


# Salesforce is the system of record for the first ten entities; Salesforce Billing receives the
# rest, whichever system owns them.
SALESFORCE_BILLING_OBJECTS = {
    "invoice": "blng__Invoice__c",
    "invoice_line": "blng__InvoiceLine__c",
    "payment": "blng__Payment__c",
    # A payment's applications, written with it as Billing's allocations.
    "payment_application": "blng__PaymentAllocationInvoice__c",
    "credit_memo": "blng__CreditNote__c",
}


def test_salesforce_mapping_covers_every_canonical_entity() -> None:
    salesforce = load_mapping_set().system("salesforce").entities

    assert set(salesforce) == set(ENTITIES)
    written = {name: m.object_name for name, m in salesforce.items() if not m.system_of_record}
    assert written == SALESFORCE_BILLING_OBJECTS
    assert {salesforce[name].external_id_field for name in written} == {"Revbridge_Id__c"}
