"""Hostile CPQ lifecycle values stop their record alone, with the field named; good ones map."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.loader import load_mapping_set
from sync.engine.capture import CapturedRecord, CaptureFailure, capture_record
from sync.tools.fixtures import StandInRefResolver

ACCOUNT, PRODUCT, ORIGINAL = "0015g0000000007AAA", "01t5g0000000002AAA", "a125g0000000010AAA"
XREF = {
    "account": {"acc-7": {"salesforce": ACCOUNT}},
    "product": {"prod-2": {"salesforce": PRODUCT}},
    "subscription": {"sub-10": {"salesforce": ORIGINAL}},
}
MAPPING = load_mapping_set().system("salesforce").entities["subscription"]


def _raw(**changes: Any) -> dict[str, Any]:
    raw = {
        "Id": "a125g0000000011AAA", "SystemModstamp": "2026-03-01T09:00:00.000+0000",
        "SBQQ__Account__c": ACCOUNT, "SBQQ__Contract__c": None, "SBQQ__Product__c": PRODUCT,
        "SBQQ__Quantity__c": -3.0, "SBQQ__NetPrice__c": 40.0, "CurrencyIsoCode": "USD",
        "SBQQ__SubscriptionStartDate__c": "2026-05-01", "SBQQ__SubscriptionEndDate__c": None,
        "SBQQ__ChargeType__c": "Recurring", "SBQQ__BillingFrequency__c": "Monthly",
        "SBQQ__BillingType__c": "Advance", "SBQQ__SubscriptionType__c": "Renewable",
        "SBQQ__ProrateMultiplier__c": 0.6667, "SBQQ__RevisedSubscription__c": ORIGINAL,
        "SBQQ__RenewedDate__c": None, "SBQQ__TerminatedDate__c": None,
    }  # fmt: skip
    raw.update(changes)
    return raw


def _capture(raw: dict[str, Any]) -> CapturedRecord | CaptureFailure:
    return capture_record(MAPPING, raw, StandInRefResolver(XREF))


def test_a_downgrade_record_maps_with_its_terms_and_link() -> None:
    outcome = _capture(_raw())
    assert isinstance(outcome, CapturedRecord)
    record = outcome.record.model_dump(mode="json")
    assert (record["quantity"], record["revised_subscription_id"], record["billing_type"]) == (
        "-3.0", "sub-10", "advance"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"SBQQ__ChargeType__c": "<script>alert(1)</script>"}, "charge_type"),
        ({"SBQQ__ChargeType__c": "Recurring\x00"}, "charge_type"),
        ({"SBQQ__BillingFrequency__c": "Fortnightly"}, "billing_frequency"),
        ({"SBQQ__ProrateMultiplier__c": -0.5}, "proration_multiplier"),
        ({"SBQQ__ProrateMultiplier__c": "lots"}, "proration_multiplier"),
        ({"SBQQ__Quantity__c": 1e308 * 10}, "quantity"),
        ({"SBQQ__Quantity__c": 0.0}, "quantity is 0"),
        ({"SBQQ__TerminatedDate__c": "31/07/2026"}, "terminated_on"),
        ({"SBQQ__RevisedSubscription__c": None}, "revises nothing"),
        ({"SBQQ__RevisedSubscription__c": "a125g0000000099AAA"}, "not synced yet"),
    ],
)
def test_hostile_lifecycle_values_fail_the_record_with_the_field_named(
    changes: dict[str, Any], named: str
) -> None:
    outcome = _capture(_raw(**changes))
    assert isinstance(outcome, CaptureFailure)
    assert named in outcome.message
    assert "\x00" not in outcome.message
