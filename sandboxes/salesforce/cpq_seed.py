"""The sandbox org's data set: ids, a logical clock, seeded accounts, products and orders.

Object metadata lives in :mod:`sandboxes.salesforce.cpq_objects`; the CPQ records (quotes, quote
lines, contracts, subscriptions, contacts) are seeded by :mod:`sandboxes.salesforce.cpq_records`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandboxes.salesforce.cpq_objects import (
    CURRENCY_RATES,
    OBJECTS,
    ChildRelationship,
    FieldDef,
    ObjectDef,
)

__all__ = ["OBJECTS", "ChildRelationship", "FieldDef", "ObjectDef"]

SYSTEM_MODSTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.000+0000"
CLOCK_BASE = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
STANDARD_PRICEBOOK_ID = "01s5g00000RbSTDAAQ"
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character id: key prefix, a sequence number, and the real case-safe suffix."""
    base = f"{prefix}5g{number:010d}"
    suffix = ""
    for start in (0, 5, 10):
        chunk = base[start : start + 5]
        if chunk == chunk.lower():  # no capitals (always so for the digits): the first letter
            suffix += _CHECKSUM_ALPHABET[0]
            continue
        bits = sum(1 << i for i, char in enumerate(chunk) if char.isupper())
        suffix += _CHECKSUM_ALPHABET[bits]
    return base + suffix


class IdFactory:
    """Hands out increasing ids per key prefix, so ids sort in creation order."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def new_id(self, prefix: str) -> str:
        """The next id for ``prefix``."""
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return salesforce_id(prefix, self._counters[prefix])

    def reserve(self, prefix: str, number: int) -> str:
        """The id with sequence ``number``; later ``new_id`` calls for ``prefix`` go past it."""
        self._counters[prefix] = max(self._counters.get(prefix, 0), number)
        return salesforce_id(prefix, number)

    def counters(self) -> dict[str, int]:
        """The last sequence number handed out per prefix (to resume from, see :meth:`resume`)."""
        return dict(self._counters)

    def resume(self, counters: dict[str, int]) -> None:
        """Hand out ids as if ``counters`` were the last ones (regenerating seeded records)."""
        self._counters = dict(counters)


class LogicalClock:
    """Deterministic time for SystemModstamp: starts at a fixed base, one second per tick."""

    def __init__(self, start: datetime = CLOCK_BASE) -> None:
        self._now = start

    def now(self) -> str:
        """The current stamp, in Salesforce's format."""
        return self._now.strftime(SYSTEM_MODSTAMP_FORMAT)

    def moment(self) -> datetime:
        """The current time (to resume from, see :meth:`resume`)."""
        return self._now

    def resume(self, moment: datetime) -> None:
        """Go back (or on) to ``moment``: regenerating seeded records replays their stamps."""
        self._now = moment

    def epoch_millis(self) -> int:
        """The current time as epoch milliseconds (OAuth's ``issued_at``)."""
        return int(self._now.timestamp() * 1000)

    def tick(self) -> str:
        """Advance one second and return the new stamp."""
        self._now += timedelta(seconds=1)
        return self.now()


def money(value: Decimal) -> float:
    """A currency amount as Salesforce's JSON number, rounded to cents."""
    return float(value.quantize(Decimal("0.01")))


@dataclass
class SeedData:
    """Seeded records by object name and id, and the ids designed to fail validation."""

    records: dict[str, dict[str, dict[str, Any]]]
    invalid_record_ids: dict[str, str] = field(default_factory=dict)


def new_record(object_name: str, record_id: str, stamp: str) -> dict[str, Any]:
    """A record with every field null except the system fields."""
    # Checkboxes are never null in Salesforce: unset means false.
    record: dict[str, Any] = {
        f.name: False if f.type == "boolean" else None for f in OBJECTS[object_name].fields
    }
    record.update(
        Id=record_id,
        IsDeleted=False,
        CreatedDate=stamp,
        LastModifiedDate=stamp,
        SystemModstamp=stamp,
    )
    return record


class _StampGroups:
    """Shares one stamp among small random groups of records, to create deliberate ties."""

    def __init__(self, clock: LogicalClock, rng: random.Random) -> None:
        self.clock, self.rng, self.left = clock, rng, 0

    def next(self) -> str:
        if self.left == 0:
            self.left = self.rng.choice((1, 1, 2, 3, 4))
            self.clock.tick()
        self.left -= 1
        return self.clock.now()


_COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Oscorp",
    "Aperture",
    "Massive",
)
_COMPANY_KINDS = ("Corp", "Ltd", "GmbH", "Labs", "Systems", "Industries", "Holdings")
_CITIES = {
    "USD": ("San Francisco", "CA", "US"),
    "EUR": ("Berlin", "BE", "DE"),
    "GBP": ("London", "LND", "GB"),
}
_FAMILIES = ("Software", "Services", "Support")
_LIST_PRICES = (49, 99, 250, 500, 1200, 2400, 5000)


class OrderSeeder:
    """Builds the deterministic data set; one method per object, in creation order."""

    def __init__(self, seed: int, clock: LogicalClock, ids: IdFactory) -> None:
        # Deterministic sample data, not secrets: a seeded PRNG is the point.
        self.rng = random.Random(seed)  # noqa: S311
        self.stamps = _StampGroups(clock, self.rng)
        self.ids = ids
        self.item_count = 0  # OrderItems so far: their OrderItemNumber
        self.data = SeedData(records={name: {} for name in OBJECTS})

    def _add(self, object_name: str, stamp: str | None = None, **values: Any) -> dict[str, Any]:
        prefix = OBJECTS[object_name].key_prefix
        record = new_record(object_name, self.ids.new_id(prefix), stamp or self.stamps.next())
        record.update(values)
        self.data.records[object_name][record["Id"]] = record
        return record

    def accounts(self, count: int) -> list[dict[str, Any]]:
        created = []
        for number in range(1, count + 1):
            currency = self.rng.choices(("USD", "EUR", "GBP"), weights=(7, 2, 1))[0]
            city, state, country = _CITIES[currency]
            name = f"{self.rng.choice(_COMPANY_WORDS)} {self.rng.choice(_COMPANY_KINDS)}"
            created.append(
                self._add(
                    "Account",
                    Name=f"{name} {number}",
                    AccountNumber=f"ACC-{number:05d}",
                    CurrencyIsoCode=currency,
                    BillingStreet=f"{number} Market Street",
                    BillingCity=city,
                    BillingState=state,
                    BillingPostalCode=f"{10000 + number}",
                    BillingCountry=country,
                    Phone=f"+1 415 555 {number:04d}",
                    Website=f"https://example-{number}.test",
                    Type="Customer - Direct",
                )
            )
        return created

    def products(self, count: int) -> list[tuple[dict[str, Any], Decimal]]:
        created = []
        for number in range(1, count + 1):
            family = _FAMILIES[number % len(_FAMILIES)]
            product = self._add(
                "Product2",
                Name=f"{family} Plan {number}",
                ProductCode=f"SKU-{number:04d}",
                Description=f"{family} plan, tier {number}",
                Family=family,
                IsActive=True,
            )
            created.append((product, Decimal(self.rng.choice(_LIST_PRICES))))
        return created

    def price_book_entries(
        self, products: list[tuple[dict[str, Any], Decimal]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        entries = {}
        for product, list_price in products:
            for currency, rate in CURRENCY_RATES.items():
                entries[product["Id"], currency] = self._add(
                    "PricebookEntry",
                    Product2Id=product["Id"],
                    Pricebook2Id=STANDARD_PRICEBOOK_ID,
                    UnitPrice=money(list_price * rate),
                    CurrencyIsoCode=currency,
                    IsActive=True,
                )
        return entries

    def order(self, number: int, account: dict[str, Any], status: str) -> dict[str, Any]:
        start = date(2025, 1, 1) + timedelta(days=self.rng.randrange(0, 400))
        end = start.replace(year=start.year + 1) - timedelta(days=1)
        return self._add(
            "Order",
            AccountId=account["Id"],
            OrderNumber=f"{number:08d}",
            Status=status,
            EffectiveDate=start.isoformat(),
            EndDate=end.isoformat(),
            CurrencyIsoCode=account["CurrencyIsoCode"],
            TotalAmount=0.0,
            SBQQ__Quote__c=salesforce_id("a0x", number) if number % 3 else None,
        )

    def order_items(
        self,
        order: dict[str, Any],
        entries: dict[tuple[str, str], dict[str, Any]],
        product_ids: list[str],
        negative_quantity: bool,
    ) -> None:
        chosen = self.rng.sample(product_ids, k=min(len(product_ids), self.rng.randint(1, 5)))
        lines = []
        for position, product_id in enumerate(chosen):
            entry = entries[product_id, order["CurrencyIsoCode"]]
            quantity = Decimal(self.rng.randint(1, 50))
            if negative_quantity and position == 0:
                quantity = -quantity
            # Created with their order in one transaction, so they share its stamp.
            line = self._add(
                "OrderItem",
                order["SystemModstamp"],
                OrderId=order["Id"],
                Product2Id=product_id,
                PricebookEntryId=entry["Id"],
                OrderItemNumber=f"{self.item_count + 1:010d}",
                Quantity=float(quantity),
                UnitPrice=entry["UnitPrice"],
                ServiceDate=order["EffectiveDate"],
                EndDate=order["EndDate"],
            )
            self.item_count += 1
            lines.append(line)
        # Only this order's new lines: scanning every line per order made seeding quadratic.
        recompute_order_totals({"OrderItem": {line["Id"]: line for line in lines}}, order)


def recompute_order_totals(
    records: dict[str, dict[str, dict[str, Any]]], order: dict[str, Any]
) -> None:
    """Set each live OrderItem's TotalPrice and the Order's TotalAmount roll-up."""
    total = Decimal(0)
    for item in records["OrderItem"].values():
        if item["OrderId"] != order["Id"] or item["IsDeleted"]:
            continue
        line_total = Decimal(str(item["Quantity"] or 0)) * Decimal(str(item["UnitPrice"] or 0))
        item["TotalPrice"] = money(line_total)
        total += line_total
    order["TotalAmount"] = money(total)


@dataclass
class OrderPlan:
    """What every seeded order draws from: accounts, price book, the orders made invalid."""

    orders: int
    usable_accounts: list[dict[str, Any]]
    entries: dict[tuple[str, str], dict[str, Any]]
    product_ids: list[str]
    special: list[int]  # order indexes: two with a negative quantity, one Pending


def seed_accounts_and_products(
    *, accounts: int, orders: int, products: int, invalid_records: bool, seed: int,
    clock: LogicalClock, ids: IdFactory,
) -> tuple[OrderSeeder, OrderPlan]:  # fmt: skip
    """Seed accounts, products and price book entries; the seeder then makes the orders."""
    seeder = OrderSeeder(seed, clock, ids)
    account_records = seeder.accounts(max(accounts, 2))
    product_rows = seeder.products(max(products, 1))
    entries = seeder.price_book_entries(product_rows)
    invalid = seeder.data.invalid_record_ids
    if invalid_records:
        bad_account = account_records[-1]
        bad_account["CurrencyIsoCode"] = "XBT"
        invalid[bad_account["Id"]] = "Account CurrencyIsoCode 'XBT' is not an ISO 4217 code"
    usable_accounts = [a for a in account_records if a["Id"] not in invalid]
    special = seeder.rng.sample(range(orders), k=min(orders, 3)) if invalid_records else []
    product_ids = [product["Id"] for product, _ in product_rows]
    return seeder, OrderPlan(orders, usable_accounts, entries, product_ids, special)


def seed_order(seeder: OrderSeeder, plan: OrderPlan, index: int) -> dict[str, Any]:
    """Seed order number ``index + 1`` and its items into ``seeder.data``; returns the order."""
    special, invalid = plan.special, seeder.data.invalid_record_ids
    status = (
        "Pending"
        if special[2:3] == [index]
        else seeder.rng.choice(("Activated", "Activated", "Activated", "Draft", "Cancelled"))
    )
    order = seeder.order(index + 1, seeder.rng.choice(plan.usable_accounts), status)
    negative = index in special[:2]
    seeder.order_items(order, plan.entries, plan.product_ids, negative_quantity=negative)
    if negative:
        invalid[order["Id"]] = "an OrderItem of this Order has a negative Quantity"
    elif status == "Pending":
        invalid[order["Id"]] = "Order Status 'Pending' is not Draft, Activated or Cancelled"
    return order


def seed_org(
    *,
    accounts: int,
    orders: int,
    products: int,
    invalid_records: bool,
    seed: int,
    clock: LogicalClock,
    ids: IdFactory,
) -> SeedData:
    """Build the deterministic CPQ data set; the same arguments always give the same records."""
    seeder, plan = seed_accounts_and_products(
        accounts=accounts, orders=orders, products=products, invalid_records=invalid_records,
        seed=seed, clock=clock, ids=ids,
    )  # fmt: skip
    for index in range(orders):
        seed_order(seeder, plan, index)
    return seeder.data
