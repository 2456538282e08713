"""Subscription lifecycles as Salesforce CPQ writes them: new, upsell, downgrade, add-ons
(co-terminated with the contract), renewal and a mid-term cancellation, seeded only when the
sandbox is asked for them.

CPQ never edits what was sold. An amendment is a new quote (``SBQQ__Type__c`` Amendment) whose
lines show the quantity after the change beside ``SBQQ__PriorQuantity__c``; its order
(``Type`` Amendment) holds only the change, one order product per changed line, negative for
a decrease, naming the original order product (``SBQQ__RevisedOrderProduct__c``) and the
subscription (``SBQQ__UpgradedSubscription__c``); contracting it adds a subscription record
with the same delta and ``SBQQ__RevisedSubscription__c`` pointing at the original. A
cancellation is an amendment to zero that stamps ``SBQQ__TerminatedDate__c``; a renewal is a
new quote, order, contract and subscription for the next term, and the renewed subscriptions
get ``SBQQ__RenewedDate__c``. An add-on is an amendment line for a product the contract did not
have: a positive order product and a new subscription that revise nothing. CPQ co-terminates
every amendment line with the contract (it ends on the contract's end date, whatever its own
term), and prorates its price by the share of the term it covers (``SBQQ__ProrateMultiplier__c``:
whole months over the term's months when the change starts on a month's first day, otherwise
the days it covers over the term's days, as with the org's daily proration precision).
The contract remembers the order it was created from (``SBQQ__Order__c``).

Chains on the first valid account: product A bought at 10 on 2026-01-01, raised to 15 on
03-01, lowered to 12 on 05-01 and renewed at 12 for 2027; product B bought at 4 and cancelled
on 07-01; product C (the third product, or the last one) added at 2 on 04-01 and at 3 more on
09-16 (a co-terminated add-on starting mid-month). Every record is stamped after the ones before
it, as CPQ would create them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sandboxes.salesforce.cpq_objects import OBJECTS
from sandboxes.salesforce.cpq_seed import (
    IdFactory,
    LogicalClock,
    money,
    new_record,
    recompute_order_totals,
)

Records = dict[str, dict[str, dict[str, Any]]]
YEAR_START, YEAR_END = date(2026, 1, 1), date(2026, 12, 31)
_MONTHLY_TERMS = {
    "SBQQ__ChargeType__c": "Recurring",
    "SBQQ__BillingFrequency__c": "Monthly",
    "SBQQ__BillingType__c": "Advance",
    "SBQQ__SubscriptionType__c": "Renewable",
}
# Order numbers of the lifecycle orders start here, well past the seeded ones.
_FIRST_ORDER_NUMBER = 90_000_001


@dataclass
class _Sale:
    """What one event sold or changed: its order product and subscription record."""

    item: dict[str, Any]
    subscription: dict[str, Any]


def _prorate(start: date, end: date) -> float:
    """CPQ's proration multiplier on a 12-month term: the months the change covers over 12
    from a month's first day, otherwise the days it covers over the term's days."""
    if start.day != 1:
        term_start = date(end.year - 1, end.month, end.day) + timedelta(days=1)
        return round(((end - start).days + 1) / ((end - term_start).days + 1), 4)
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    return round(months / 12, 4)


class _LifecycleSeeder:
    def __init__(self, records: Records, clock: LogicalClock, ids: IdFactory,
                 account: dict[str, Any]) -> None:  # fmt: skip
        self.records, self._clock, self._ids, self.account = records, clock, ids, account
        self._orders = 0

    def add(self, object_name: str, **values: Any) -> dict[str, Any]:
        prefix = OBJECTS[object_name].key_prefix
        record = new_record(object_name, self._ids.new_id(prefix), self._clock.tick())
        record.update(values, CurrencyIsoCode=self.account["CurrencyIsoCode"])
        self.records[object_name][record["Id"]] = record
        return record

    def contract(self, start: date, end: date) -> dict[str, Any]:
        return self.add(
            "Contract", AccountId=self.account["Id"], Status="Activated",
            ContractNumber=f"L{len(self.records['Contract']) + 1:07d}",
            StartDate=start.isoformat(), EndDate=end.isoformat(), ContractTerm=12,
            SBQQ__RenewalTerm__c=12.0,
        )  # fmt: skip

    def sale(self, kind: str, product: dict[str, Any], entry: dict[str, Any],
             change: tuple[float, float | None], term: tuple[date, date], contract: dict[str, Any],
             original: _Sale | None = None, **extra: Any) -> _Sale:  # fmt: skip
        """One CPQ event: quote with its line, order with its order product, subscription."""
        delta, prior = change
        start, end = term
        price = entry["UnitPrice"]
        terms = {**_MONTHLY_TERMS, "SBQQ__ProrateMultiplier__c": _prorate(start, end)}
        links = {} if original is None else {
            "SBQQ__UpgradedSubscription__c": original.subscription["Id"]}  # fmt: skip
        shown = delta + (prior or 0)  # an amendment quote shows the quantity after the change
        quote = self.add(
            "SBQQ__Quote__c", SBQQ__Account__c=self.account["Id"], SBQQ__Status__c="Accepted",
            SBQQ__Type__c={"New": "Quote"}.get(kind, kind), SBQQ__Primary__c=True,
            SBQQ__Ordered__c=True, SBQQ__StartDate__c=start.isoformat(),
            SBQQ__EndDate__c=end.isoformat(), SBQQ__SubscriptionTerm__c=12.0,
            SBQQ__NetAmount__c=money(Decimal(str(shown)) * Decimal(str(price))),
            SBQQ__BillingFrequency__c="Monthly",
        )  # fmt: skip
        line = self.add(
            "SBQQ__QuoteLine__c", SBQQ__Quote__c=quote["Id"], SBQQ__Product__c=product["Id"],
            SBQQ__Number__c=1.0, SBQQ__Quantity__c=shown, SBQQ__PriorQuantity__c=prior,
            SBQQ__ListPrice__c=price, SBQQ__NetPrice__c=price, SBQQ__Discount__c=0.0,
            SBQQ__NetTotal__c=money(Decimal(str(shown)) * Decimal(str(price))),
            SBQQ__StartDate__c=start.isoformat(), SBQQ__EndDate__c=end.isoformat(),
            SBQQ__SubscriptionTerm__c=12.0, SBQQ__ProductCode__c=product["ProductCode"],
            **terms, **(extra.get("quote_line") or links),
        )  # fmt: skip
        self._orders += 1
        order = self.add(
            "Order", AccountId=self.account["Id"], Status="Activated", Type=kind,
            OrderNumber=f"{_FIRST_ORDER_NUMBER + self._orders - 1:08d}",
            EffectiveDate=start.isoformat(), EndDate=end.isoformat(),
            SBQQ__Quote__c=quote["Id"], ContractId=contract["Id"], SBQQ__Contracted__c=True,
        )  # fmt: skip
        item = self.add(
            "OrderItem", OrderId=order["Id"], Product2Id=product["Id"],
            PricebookEntryId=entry["Id"], Quantity=delta, UnitPrice=price,
            OrderItemNumber=f"{len(self.records['OrderItem']) + 1:010d}",
            ServiceDate=start.isoformat(), EndDate=end.isoformat(),
            SBQQ__QuoteLine__c=line["Id"], SBQQ__SubscriptionTerm__c=12.0,
            SBQQ__ContractAction__c=extra.get("action", "New"),
            SBQQ__TerminatedDate__c=extra.get("terminated"),
            SBQQ__RevisedOrderProduct__c=original.item["Id"] if original else None,
            **terms, **links,
        )  # fmt: skip
        if contract.get("SBQQ__Order__c") is None:
            contract["SBQQ__Order__c"] = order["Id"]  # CPQ: the order the contract came from
        # The order product was created with its order: one transaction, one stamp.
        item["SystemModstamp"] = order["SystemModstamp"]
        recompute_order_totals({"OrderItem": {item["Id"]: item}}, order)
        subscription = self.add(
            "SBQQ__Subscription__c", SBQQ__Account__c=self.account["Id"],
            SBQQ__Contract__c=contract["Id"], SBQQ__Product__c=product["Id"],
            SBQQ__QuoteLine__c=line["Id"], SBQQ__OrderProduct__c=item["Id"],
            SBQQ__Quantity__c=delta, SBQQ__RenewalQuantity__c=shown,
            SBQQ__ListPrice__c=price, SBQQ__NetPrice__c=price,
            SBQQ__SubscriptionStartDate__c=start.isoformat(),
            SBQQ__SubscriptionEndDate__c=end.isoformat(), SBQQ__StartDate__c=start.isoformat(),
            SBQQ__EndDate__c=end.isoformat(), SBQQ__ProductName__c=product["Name"],
            SBQQ__RevisedSubscription__c=original.subscription["Id"] if original else None,
            SBQQ__TerminatedDate__c=extra.get("terminated"), **terms,
        )  # fmt: skip
        return _Sale(item, subscription)

    def stamp(self, subscriptions: list[dict[str, Any]], **changes: Any) -> None:
        """CPQ's later edit of earlier subscription records (renewed or terminated date)."""
        for subscription in subscriptions:
            subscription.update(changes, SystemModstamp=self._clock.tick())
            subscription["LastModifiedDate"] = subscription["SystemModstamp"]


def seed_lifecycles(records: Records, clock: LogicalClock, ids: IdFactory,
                    invalid_ids: Collection[str] = ()) -> dict[str, str]:  # fmt: skip
    """Seed the two chains; returns each event's subscription record id by event name."""
    account = next(a for a in records["Account"].values() if a["Id"] not in invalid_ids)
    products = list(records["Product2"].values())[:3]
    entries = {
        p["Product2Id"]: p
        for p in records["PricebookEntry"].values()
        if p["CurrencyIsoCode"] == account["CurrencyIsoCode"]
    }
    seeder = _LifecycleSeeder(records, clock, ids, account)
    product_a, product_b, product_c = products[0], products[:2][-1], products[-1]
    a, b, c = (entries[p["Id"]] for p in (product_a, product_b, product_c))
    contract = seeder.contract(YEAR_START, YEAR_END)
    year = (YEAR_START, YEAR_END)
    new = seeder.sale("New", product_a, a, (10.0, None), year, contract)
    upsell = seeder.sale("Amendment", product_a, a, (5.0, 10.0), (date(2026, 3, 1), YEAR_END),
                         contract, new, action="Quantity Increase")  # fmt: skip
    downgrade = seeder.sale("Amendment", product_a, a, (-3.0, 15.0),
                            (date(2026, 5, 1), YEAR_END), contract, new,
                            action="Quantity Decrease")  # fmt: skip
    renewal_contract = seeder.contract(date(2027, 1, 1), date(2027, 12, 31))
    renewal = seeder.sale(
        "Renewal", product_a, a, (12.0, None), (date(2027, 1, 1), date(2027, 12, 31)),
        renewal_contract, action="Renew",
        quote_line={"SBQQ__RenewedSubscription__c": new.subscription["Id"]},
    )  # fmt: skip
    seeder.stamp([new.subscription, upsell.subscription, downgrade.subscription],
                 SBQQ__RenewedDate__c="2027-01-01")  # fmt: skip
    # Each sale contracts into a contract of its own (CPQ contracts an order by itself).
    contract_b = seeder.contract(YEAR_START, YEAR_END)
    bought = seeder.sale("New", product_b, b, (4.0, None), year, contract_b)
    cancelled_on = "2026-07-01"
    cancellation = seeder.sale("Amendment", product_b, b, (-4.0, 4.0),
                               (date(2026, 7, 1), YEAR_END), contract_b, bought, action="Cancel",
                               terminated=cancelled_on)  # fmt: skip
    seeder.stamp([bought.subscription], SBQQ__TerminatedDate__c=cancelled_on)
    add_on = seeder.sale("Amendment", product_c, c, (2.0, None), (date(2026, 4, 1), YEAR_END),
                         contract)  # fmt: skip
    late_add_on = seeder.sale("Amendment", product_c, c, (3.0, None),
                              (date(2026, 9, 16), YEAR_END), contract)  # fmt: skip
    return {
        "add_on": add_on.subscription["Id"],
        "coterminated_add_on": late_add_on.subscription["Id"],
        "new": new.subscription["Id"], "upsell": upsell.subscription["Id"],
        "downgrade": downgrade.subscription["Id"], "renewal": renewal.subscription["Id"],
        "cancelled": bought.subscription["Id"], "cancellation": cancellation.subscription["Id"],
    }  # fmt: skip
