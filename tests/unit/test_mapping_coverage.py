"""Which canonical entity the shipped mappings capture where, and where they write it.

The table below is the documented coverage (mappings/README.md, "Coverage"); a mapping change
that adds or drops an entity anywhere must change it too.
"""

from __future__ import annotations

from pathlib import Path

from mappings.canonical import ENTITIES
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet

STRIPE_PROFILE = Path(__file__).resolve().parents[2] / "mappings/profiles/stripe"

# entity -> (captured from, written to) with the default mappings.
DEFAULT_COVERAGE = {
    "account": ("salesforce", {"billing", "erp"}),
    "contact": ("salesforce", {"erp"}),
    "product": ("salesforce", {"billing", "erp"}),
    "price_book_entry": ("salesforce", {"erp"}),
    "quote": ("salesforce", {"erp"}),
    "quote_line": ("salesforce", {"erp"}),
    "contract": ("salesforce", {"erp"}),
    "subscription": ("salesforce", {"erp"}),
    "order": ("salesforce", {"billing", "erp"}),
    "order_line": ("salesforce", {"billing", "erp"}),
    "invoice": ("erp", set()),
    "payment": ("erp", set()),
    "invoice_line": ("erp", set()),
    "credit_memo": ("erp", set()),
}
# Every canonical entity is mapped now; an entity added to the model starts here.
UNMAPPED: set[str] = set()


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
    for parent, child in (
        ("order", "order_line"),
        ("quote", "quote_line"),
        ("invoice", "invoice_line"),
    ):
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


# entity -> (captured from, written to) with the Stripe profile's billing.yaml and erp.yaml.
STRIPE_COVERAGE = {
    **DEFAULT_COVERAGE,
    "price_book_entry": ("salesforce", {"billing", "erp"}),
    "invoice": ("billing", {"erp"}),
    "invoice_line": ("billing", {"erp"}),
    "payment": ("billing", {"erp"}),
    "credit_memo": ("billing", set()),
}


def _stripe_mapping_set() -> MappingSet:
    profile = sorted(STRIPE_PROFILE.glob("*.yaml"))
    names = {path.name for path in profile}
    files = [path for path in shipped_mapping_files() if path.name not in names]
    return load_mapping_set([*files, *profile])


def test_stripe_profile_captures_receivables_from_billing_and_writes_them_to_the_erp() -> None:
    coverage = _coverage(_stripe_mapping_set())

    assert coverage == STRIPE_COVERAGE
    assert set(STRIPE_COVERAGE) == set(ENTITIES)
