"""CPQ records for the sandbox org: contacts, quotes with lines, contracts, subscriptions.

Seeded after the accounts, products and orders of :mod:`sandboxes.salesforce.cpq_seed` with a
random generator of their own, so those records' ids and stamps never move. Each order that
names a quote gets that quote (lines copied from its order items); each activated order with a
quote is contracted, with one subscription per recurring line.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from datetime import date
from decimal import Decimal as _Decimal
from typing import Any

from sandboxes.salesforce.cpq_objects import OBJECTS
from sandboxes.salesforce.cpq_seed import IdFactory, LogicalClock, money, new_record

Records = dict[str, dict[str, dict[str, Any]]]
_NUMBERED = ("SBQQ__QuoteLine__c", "Contract", "SBQQ__Subscription__c")
_FIRST = ("Ada", "Grace", "Alan", "Linus", "Barbara", "Ken", "Margaret", "Dennis")
_LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Liskov", "Thompson", "Hamilton")
_TITLES = ("CFO", "Head of Procurement", "VP Finance", "Billing Manager")


class CpqSeeder:
    """Seeds the CPQ records of one order at a time (contacts first, for every account)."""

    def __init__(self, records: Records, rng: random.Random, clock: LogicalClock,
                 ids: IdFactory) -> None:  # fmt: skip
        self.records, self.rng, self.clock, self.ids = records, rng, clock, ids
        for name in OBJECTS:
            records.setdefault(name, {})
        # Records seeded so far per object, for their names (QL-0000001, ...).
        self.counts = dict.fromkeys(_NUMBERED, 0)
        self.primary: dict[str, str] = {}  # account id -> primary contact id

    def add(self, object_name: str, record_id: str | None = None, **values: Any) -> dict[str, Any]:
        """A new record stamped one tick after the previous one."""
        stamp = self.clock.tick()
        prefix = OBJECTS[object_name].key_prefix
        record = new_record(object_name, record_id or self.ids.new_id(prefix), stamp)
        record.update(values)
        self.records[object_name][record["Id"]] = record
        if object_name in self.counts:
            self.counts[object_name] += 1
        return record

    def contacts(self, invalid: Collection[str]) -> None:
        primary = self.primary
        for account in list(self.records["Account"].values()):
            if account["Id"] in invalid:
                continue
            for position in range(self.rng.randint(1, 2)):
                first, last = self.rng.choice(_FIRST), self.rng.choice(_LAST)
                contact = self.add(
                    "Contact", AccountId=account["Id"], FirstName=first, LastName=last,
                    Email=f"{first}.{last}@{account['Id'][-6:].lower()}.example".lower(),
                    Phone=account["Phone"], Title=self.rng.choice(_TITLES),
                    MailingStreet=account["BillingStreet"], MailingCity=account["BillingCity"],
                    MailingState=account["BillingState"],
                    MailingPostalCode=account["BillingPostalCode"],
                    MailingCountry=account["BillingCountry"],
                    CurrencyIsoCode=account["CurrencyIsoCode"],
                )  # fmt: skip
                if position == 0:
                    primary[account["Id"]] = contact["Id"]

    def quote(self, order: dict[str, Any], contact_id: str | None) -> dict[str, Any]:
        number = int(order["SBQQ__Quote__c"][5:15])
        quote_id = self.ids.reserve(OBJECTS["SBQQ__Quote__c"].key_prefix, number)
        start = date.fromisoformat(order["EffectiveDate"])
        return self.add(
            "SBQQ__Quote__c", quote_id, Name=f"Q-{number:05d}",
            SBQQ__Account__c=order["AccountId"],
            SBQQ__PrimaryContact__c=contact_id,
            SBQQ__Status__c="Accepted", SBQQ__Type__c="Quote",
            SBQQ__StartDate__c=order["EffectiveDate"], SBQQ__EndDate__c=order["EndDate"],
            SBQQ__ExpirationDate__c=start.replace(day=1).isoformat(),
            SBQQ__SubscriptionTerm__c=12.0, SBQQ__Primary__c=True,
            SBQQ__Ordered__c=order["Status"] == "Activated",
            SBQQ__PaymentTerms__c=self.rng.choice(("Net 30", "Net 45", "Due on receipt")),
            SBQQ__BillingFrequency__c="Annual", CurrencyIsoCode=order["CurrencyIsoCode"],
        )  # fmt: skip

    def quote_lines(self, quote: dict[str, Any], items: list[dict[str, Any]]) -> None:
        list_total = net_total = _Decimal(0)
        for number, item in enumerate(items, start=1):
            product = self.records["Product2"][item["Product2Id"]]
            recurring = product["Family"] != "Services"
            discount = _Decimal(self.rng.choice((0, 0, 5, 10)))
            list_price = _Decimal(str(item["UnitPrice"]))
            net_price = list_price * (100 - discount) / 100
            quantity = _Decimal(str(item["Quantity"]))
            line = self.add(
                "SBQQ__QuoteLine__c", Name=f"QL-{self.counts['SBQQ__QuoteLine__c'] + 1:07d}",
                SBQQ__Quote__c=quote["Id"], SBQQ__Product__c=product["Id"],
                SBQQ__Number__c=float(number), SBQQ__Quantity__c=float(quantity),
                SBQQ__ListPrice__c=money(list_price), SBQQ__NetPrice__c=money(net_price),
                SBQQ__Discount__c=float(discount), SBQQ__NetTotal__c=money(net_price * quantity),
                SBQQ__StartDate__c=item["ServiceDate"], SBQQ__EndDate__c=item["EndDate"],
                SBQQ__SubscriptionTerm__c=12.0 if recurring else None,
                SBQQ__ChargeType__c="Recurring" if recurring else "One-Time",
                SBQQ__BillingFrequency__c="Annual" if recurring else None,
                SBQQ__SubscriptionPricing__c="Fixed Price" if recurring else None,
                SBQQ__ProductCode__c=product["ProductCode"],
                CurrencyIsoCode=quote["CurrencyIsoCode"],
            )  # fmt: skip
            item["SBQQ__QuoteLine__c"] = line["Id"]
            item["SBQQ__ChargeType__c"] = line["SBQQ__ChargeType__c"]
            item["SBQQ__BillingFrequency__c"] = line["SBQQ__BillingFrequency__c"]
            list_total += list_price * quantity
            net_total += net_price * quantity
        quote["SBQQ__ListAmount__c"] = money(list_total)
        quote["SBQQ__NetAmount__c"] = money(net_total)

    def contract(self, order: dict[str, Any], items: list[dict[str, Any]]) -> None:
        contract = self.add(
            "Contract", AccountId=order["AccountId"],
            ContractNumber=f"{self.counts['Contract'] + 1:08d}", Status="Activated",
            StartDate=order["EffectiveDate"], ContractTerm=12, EndDate=order["EndDate"],
            CurrencyIsoCode=order["CurrencyIsoCode"], SBQQ__Order__c=order["Id"],
            SBQQ__Quote__c=order["SBQQ__Quote__c"], SBQQ__RenewalTerm__c=12.0,
            SBQQ__RenewalForecast__c=False,
        )  # fmt: skip
        order["ContractId"] = contract["Id"]
        order["SBQQ__Contracted__c"] = True
        for item in items:
            if item["SBQQ__ChargeType__c"] != "Recurring":
                continue
            line = self.records["SBQQ__QuoteLine__c"][item["SBQQ__QuoteLine__c"]]
            product = self.records["Product2"][item["Product2Id"]]
            self.add(
                "SBQQ__Subscription__c",
                Name=f"SUB-{self.counts['SBQQ__Subscription__c'] + 1:07d}",
                SBQQ__Account__c=order["AccountId"], SBQQ__Contract__c=contract["Id"],
                SBQQ__Product__c=product["Id"], SBQQ__QuoteLine__c=line["Id"],
                SBQQ__OrderProduct__c=item["Id"], SBQQ__Quantity__c=item["Quantity"],
                SBQQ__RenewalQuantity__c=item["Quantity"],
                SBQQ__ListPrice__c=line["SBQQ__ListPrice__c"],
                SBQQ__NetPrice__c=line["SBQQ__NetPrice__c"],
                SBQQ__SubscriptionStartDate__c=item["ServiceDate"],
                SBQQ__SubscriptionEndDate__c=item["EndDate"],
                SBQQ__StartDate__c=item["ServiceDate"], SBQQ__EndDate__c=item["EndDate"],
                SBQQ__BillingFrequency__c="Annual", SBQQ__ProductName__c=product["Name"],
                CurrencyIsoCode=order["CurrencyIsoCode"],
            )  # fmt: skip

    def order(self, order: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """One order's quote with its lines and, once activated, its contract."""
        if not order.get("SBQQ__Quote__c"):
            return
        quote = self.quote(order, self.primary.get(order["AccountId"]))
        self.quote_lines(quote, items)
        if order["Status"] == "Activated":
            self.contract(order, items)


def seed_cpq_records(records: Records, rng: random.Random, clock: LogicalClock,
                     ids: IdFactory, invalid_ids: Collection[str] = ()) -> None:  # fmt: skip
    """Add contacts, quotes with lines, contracts and subscriptions for the seeded orders.

    Records designed to fail validation get no CPQ records of their own, so each fails for
    its own stated reason rather than through a related record.
    """
    seeder = CpqSeeder(records, rng, clock, ids)
    invalid = set(invalid_ids)
    for order_id in invalid & set(records["Order"]):
        records["Order"][order_id]["SBQQ__Quote__c"] = None
    seeder.contacts(invalid)
    items_by_order: dict[str, list[dict[str, Any]]] = {}
    for item in records["OrderItem"].values():
        items_by_order.setdefault(item["OrderId"], []).append(item)
    for order in list(records["Order"].values()):
        seeder.order(order, items_by_order.get(order["Id"], []))
