"""The sandbox org seeds subscription lifecycles as CPQ writes them, only when asked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from mappings.canonical import Subscription
from mappings.identity import canonical_id
from mappings.loader import load_mapping_set
from mappings.subscription_state import changes_by_subscription, state_on
from sandboxes.salesforce.org import SandboxOrg
from sync.tools.fixtures import StandInRefResolver


def _org(lifecycles: bool) -> SandboxOrg:
    return SandboxOrg(
        page_size=200, daily_api_limit=10_000, lifecycles=lifecycles, accounts=3, orders=4,
        products=3, invalid_records=True,
    )  # fmt: skip


def test_lifecycles_are_off_by_default_and_add_records_only_when_asked() -> None:
    plain, with_lifecycles = _org(False), _org(True)
    assert plain.lifecycle_ids == {}
    for object_name, records in plain.records.items():
        # The seeded records stay as they were: same ids, same values.
        assert with_lifecycles.records[object_name].keys() >= records.keys()
    added = {
        name: len(with_lifecycles.records[name]) - len(plain.records[name])
        for name in ("Order", "OrderItem", "SBQQ__Quote__c", "SBQQ__Subscription__c", "Contract")
    }
    assert added == {
        "Order": 8, "OrderItem": 8, "SBQQ__Quote__c": 8, "SBQQ__Subscription__c": 8,
        "Contract": 3,
    }  # fmt: skip


def test_add_ons_revise_nothing_and_co_terminate_with_the_contract() -> None:
    org = _org(True)
    subscriptions = org.records["SBQQ__Subscription__c"]
    items = org.records["OrderItem"]
    for event, start, multiplier in (
        ("add_on", "2026-04-01", 0.75),  # from a month's first day: 9 of 12 months
        ("coterminated_add_on", "2026-09-16", 0.2932),  # mid-month: 107 of 365 days
    ):
        subscription = subscriptions[org.lifecycle_ids[event]]
        item = items[subscription["SBQQ__OrderProduct__c"]]
        order = org.records["Order"][item["OrderId"]]
        assert order["Type"] == "Amendment"
        assert (item["SBQQ__ContractAction__c"], item["SBQQ__RevisedOrderProduct__c"]) == (
            "New", None
        )  # fmt: skip
        assert subscription["SBQQ__RevisedSubscription__c"] is None
        assert (subscription["SBQQ__SubscriptionStartDate__c"],
                subscription["SBQQ__SubscriptionEndDate__c"]) == (start, "2026-12-31")  # fmt: skip
        assert item["SBQQ__ProrateMultiplier__c"] == multiplier
        # The contract names the order it came from, the one an amendment changes.
        contract = org.records["Contract"][subscription["SBQQ__Contract__c"]]
        bought = items[subscriptions[org.lifecycle_ids["new"]]["SBQQ__OrderProduct__c"]]
        assert contract["SBQQ__Order__c"] == bought["OrderId"]


def test_each_event_is_written_the_way_cpq_writes_it() -> None:
    org = _org(True)
    subscriptions = org.records["SBQQ__Subscription__c"]
    events = {name: subscriptions[i] for name, i in org.lifecycle_ids.items()}
    original = events["new"]["Id"]
    assert [events[e]["SBQQ__Quantity__c"] for e in ("new", "upsell", "downgrade")] == [10, 5, -3]
    assert events["upsell"]["SBQQ__RevisedSubscription__c"] == original
    assert events["downgrade"]["SBQQ__RevisedSubscription__c"] == original
    assert events["renewal"]["SBQQ__RevisedSubscription__c"] is None
    assert events["cancellation"]["SBQQ__Quantity__c"] == -4
    assert events["cancelled"]["SBQQ__TerminatedDate__c"] == "2026-07-01"
    # The downgrade's order holds only the delta, on an Amendment order, naming what it revises.
    item = org.records["OrderItem"][events["downgrade"]["SBQQ__OrderProduct__c"]]
    order = org.records["Order"][item["OrderId"]]
    assert (order["Type"], item["Quantity"], item["SBQQ__ContractAction__c"]) == (
        "Amendment", -3, "Quantity Decrease"
    )  # fmt: skip
    assert item["SBQQ__UpgradedSubscription__c"] == original
    assert item["SBQQ__RevisedOrderProduct__c"] == events["new"]["SBQQ__OrderProduct__c"]
    # An amendment quote shows the quantity after the change beside the prior one.
    line = org.records["SBQQ__QuoteLine__c"][item["SBQQ__QuoteLine__c"]]
    assert (line["SBQQ__Quantity__c"], line["SBQQ__PriorQuantity__c"]) == (12, 15)
    # CPQ stamps the original when it terminates it: it changes after its amendment.
    assert events["cancelled"]["SystemModstamp"] > events["cancellation"]["SystemModstamp"]


def test_the_seeded_records_map_to_subscriptions_whose_state_follows_the_events() -> None:
    org = _org(True)
    mapping = load_mapping_set().system("salesforce").entities["subscription"]
    raw = org.records["SBQQ__Subscription__c"]
    xref: dict[str, dict[str, dict[str, str]]] = {"account": {}, "contract": {}, "product": {},
                                                  "subscription": {}}  # fmt: skip
    for record in raw.values():
        for entity, field in (("account", "SBQQ__Account__c"), ("contract", "SBQQ__Contract__c"),
                              ("product", "SBQQ__Product__c")):  # fmt: skip
            xref[entity][canonical_id(entity, "salesforce", record[field])] = {
                "salesforce": record[field]
            }
        xref["subscription"][canonical_id("subscription", "salesforce", record["Id"])] = {
            "salesforce": record["Id"]
        }
    refs = StandInRefResolver(xref)
    captured = [
        Subscription.model_validate(mapping.to_canonical(raw[i], refs))
        for i in org.lifecycle_ids.values()
    ]
    grouped = changes_by_subscription(captured)
    original = canonical_id("subscription", "salesforce", org.lifecycle_ids["new"])
    cancelled = canonical_id("subscription", "salesforce", org.lifecycle_ids["cancelled"])
    on = {day: state_on(grouped[original], date(2026, *day)).quantity for day in
          ((1, 1), (3, 1), (5, 1))}  # fmt: skip
    assert on == {(1, 1): 10, (3, 1): 15, (5, 1): 12}
    assert state_on(grouped[cancelled], date(2026, 6, 30)).quantity == Decimal(4)
    assert state_on(grouped[cancelled], date(2026, 7, 1)).quantity == 0
