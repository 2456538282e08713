"""Shared helpers for the fault suites: seeded timeouts, retry-wait recorders and the invariants.

The invariants are computed from the sandboxes' own stores, never from revbridge's: what the
Salesforce org holds says what must exist downstream, and the billing and ERP sandboxes say
what does. Expected values are derived by hand from the source fields (not through the
mappings), so a mapping or engine bug shows up as a mismatch instead of agreeing with itself.
"""

from __future__ import annotations

import copy
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from mappings.identity import canonical_id
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sandboxes.server import LoopbackServer
from sync.cli.sandboxes import Sandboxes
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.schema import ErrorStage, ErrorStatus

_BILLING_SERVER_FIELDS = ("id", "object", "created", "updated")
_ERP_SERVER_FIELDS = (
    "internalId",
    "createdDate",
    "lastModifiedDate",
    "dateCreated",
    "created",
    "lastModified",
)
_REFERENCED = re.compile(r"referenced \w+ '([^']+)'")
_DELIVERED = ("account", "product", "order")
_ORDER_STATUSES = {"Draft": "draft", "Activated": "active", "Cancelled": "cancelled"}


class SeededDelays:
    """A request gate that holds a seeded share of matching requests, so clients time out.

    The sandboxes' gates are duck-typed (``hold_if_matching`` and ``release``); this one delays
    instead of blocking. A held request is served late, as a slow server would, after its
    client gave up: :meth:`wait_idle` lets a test count stored records only once none is left.
    """

    def __init__(
        self, method: str, path_prefix: str, rate: float, delay: float, seed: int, first: int = 0
    ) -> None:
        """Delay ``rate`` of the matching requests by ``delay`` seconds, and the ``first`` ones."""
        self.method, self.path_prefix = method, path_prefix
        self._first = first
        self._rate, self._delay = rate, delay
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._in_flight = 0
        self.delayed = 0

    def hold_if_matching(self, method: str, path: str) -> bool:
        """Delay this request if it matches and the seeded draw says so; never a let-through."""
        if method != self.method or not path.startswith(self.path_prefix):
            return False
        with self._lock:
            forced = self._first > 0
            self._first -= 1
            if self._random.random() >= self._rate and not forced:
                return False
            self.delayed += 1
            self._in_flight += 1
        try:
            self._stopping.wait(self._delay)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()
        return False

    def release(self) -> None:
        """Serve held requests at once (the server is stopping)."""
        self._stopping.set()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no request is held any more."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._in_flight == 0, timeout), "requests held"


def install_delays(server: LoopbackServer, delays: SeededDelays) -> SeededDelays:
    """Put ``delays`` in front of ``server``'s request handling (replacing any gate)."""
    # LoopbackServer only installs its own RequestGate; its server object reads any duck-typed
    # gate, which is all this needs.
    server.install_gate(delays)
    return delays


@dataclass
class RetryWaits:
    """Stands in for ``time.sleep`` in the connectors' retries: records, never waits."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def for_system(self, system: str) -> Callable[[float], None]:
        """The sleep function to give ``system``'s connector."""
        self.seconds.setdefault(system, [])

        def record(wait: float) -> None:
            with self._lock:
                self.seconds[system].append(wait)

        return record

    def count(self, system: str) -> int:
        """How many retries ``system``'s connector waited for."""
        with self._lock:
            return len(self.seconds.get(system, []))


@dataclass(frozen=True)
class Expectations:
    """What the Salesforce org says must be downstream, and what must be in the error queue."""

    accounts: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    orders: dict[str, dict[str, Any]]
    lines: dict[str, list[dict[str, Any]]]
    invalid: dict[str, str]
    erp_rejected: frozenset[str] = frozenset()

    @property
    def source_records(self) -> int:
        """Records read from Salesforce: accounts, products, orders and order lines."""
        valid_and_invalid = len(self.accounts) + len(self.products) + len(self.orders)
        return valid_and_invalid + sum(len(lines) for lines in self.lines.values())


def expectations_from(
    salesforce: SalesforceSandbox, erp_rejected: Iterable[str] = ()
) -> Expectations:
    """Every live record of the org, keyed by canonical id, with the ids meant to fail."""
    invalid = salesforce.invalid_record_ids
    lines: dict[str, list[dict[str, Any]]] = {}
    for item in salesforce.records("OrderItem"):
        if not item["IsDeleted"]:
            lines.setdefault(item["OrderId"], []).append(item)

    def keyed(object_name: str, entity: str) -> dict[str, dict[str, Any]]:
        live = (r for r in salesforce.records(object_name) if not r["IsDeleted"])
        return {canonical_id(entity, "salesforce", r["Id"]): r for r in live}

    return Expectations(
        accounts=keyed("Account", "account"),
        products=keyed("Product2", "product"),
        orders=keyed("Order", "order"),
        lines=lines,
        invalid=invalid,
        erp_rejected=frozenset(erp_rejected),
    )


def _valid(records: dict[str, dict[str, Any]], invalid: Iterable[str]) -> dict[str, dict[str, Any]]:
    bad = set(invalid)
    return {key: record for key, record in records.items() if record["Id"] not in bad}


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _expected_billing_order(
    order: dict[str, Any], lines: list[dict[str, Any]], billing_ids: dict[str, str]
) -> dict[str, Any]:
    account = canonical_id("account", "salesforce", order["AccountId"])
    return {
        "customer": billing_ids[account],
        "number": order["OrderNumber"],
        "status": _ORDER_STATUSES[order["Status"]],
        "currency": order["CurrencyIsoCode"],
        "total": _money(order["TotalAmount"]),
        "lines": sorted(
            (billing_ids[canonical_id("product", "salesforce", line["Product2Id"])],
             _money(line["Quantity"]), _money(line["TotalPrice"]))
            for line in lines
        ),
    }  # fmt: skip


def _actual_billing_order(order: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": order["customer"],
        "number": order["number"],
        "status": order["status"],
        "currency": order["currency"],
        "total": _money(order["total"]),
        "lines": sorted(
            (line["product"], _money(line["quantity"]), _money(line["amount"]))
            for line in order["lines"]
        ),
    }


def check_billing(sandboxes: Sandboxes, expected: Expectations) -> int:
    """Every valid record is in billing once, with its source's values; returns how many."""
    billing = sandboxes.billing
    stored = {
        collection: {row["external_id"]: row for row in billing.resources(collection)}
        for collection in ("customers", "products", "orders")
    }
    for collection, rows in stored.items():
        # Upserts by external id: a record created twice would show as a second creation.
        assert billing.writes[(collection, "created")] == len(rows), collection
    accounts = _valid(expected.accounts, expected.invalid)
    assert stored["customers"].keys() == accounts.keys()
    for key, account in accounts.items():
        customer = stored["customers"][key]
        source = (account["Name"], account["CurrencyIsoCode"], account["Phone"])
        assert (customer["name"], customer["currency"], customer.get("phone")) == source, key
    assert stored["products"].keys() == expected.products.keys()
    for key, product in expected.products.items():
        assert (stored["products"][key]["name"], stored["products"][key]["sku"]) == (
            product["Name"], product["ProductCode"]
        ), key  # fmt: skip
    billing_ids = {k: r["id"] for rows in stored.values() for k, r in rows.items()}
    orders = _valid(expected.orders, expected.invalid)
    missing, extra = (
        orders.keys() - stored["orders"].keys(),
        stored["orders"].keys() - orders.keys(),
    )
    assert not missing, f"{len(missing)} valid orders missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} orders that should not be there, e.g. {sorted(extra)[:3]}"
    for key, order in orders.items():
        wanted = _expected_billing_order(order, expected.lines[order["Id"]], billing_ids)
        actual = _actual_billing_order(stored["orders"][key])
        assert actual == wanted, f"billing order {key}: {actual} != {wanted}"
    lines = sum(len(order["lines"]) for order in stored["orders"].values())
    return lines + sum(len(rows) for rows in stored.values())


def check_erp(sandboxes: Sandboxes, expected: Expectations) -> None:
    """Every valid record not rejected by the ERP is there once, with its source's values."""
    records = dict(sandboxes.erp.records)
    internal_ids = Counter(record["internalId"] for record in records.values())
    assert all(count == 1 for count in internal_ids.values()), "an ERP record was saved twice"
    by_type: dict[str, dict[str, dict[str, Any]]] = {}
    for (record_type, external_id), record in records.items():
        by_type.setdefault(record_type, {})[external_id] = record
    accounts = _valid(expected.accounts, expected.invalid)
    customers = by_type.get("Customer", {})
    assert customers.keys() == accounts.keys()
    assert all(customers[k]["companyName"] == a["Name"] for k, a in accounts.items())
    items = by_type.get("ServiceSaleItem", {})
    assert items.keys() == expected.products.keys()
    assert all(items[k]["itemId"] == p["ProductCode"] for k, p in expected.products.items())
    orders = {
        key: order
        for key, order in _valid(expected.orders, expected.invalid).items()
        if key not in expected.erp_rejected
    }
    sales_orders = by_type.get("SalesOrder", {})
    assert sales_orders.keys() == orders.keys()
    for key, order in orders.items():
        sales_order = sales_orders[key]
        account = canonical_id("account", "salesforce", order["AccountId"])
        quantities = sorted(_money(i["quantity"]) for i in sales_order["itemList"]["item"])
        wanted = sorted(_money(line["Quantity"]) for line in expected.lines[order["Id"]])
        assert (sales_order["tranId"], sales_order["entity"]["externalId"], quantities) == (
            order["OrderNumber"], account, wanted
        ), key  # fmt: skip


# Words each kind of bad record's error-queue message must contain (its reason).
_REASONS = {
    "Account CurrencyIsoCode": "XBT",
    "negative Quantity": "quantity",
    "Order Status 'Pending'": "Pending",
}


def _assert_reason(entry: ErrorRow, reason: str, open_by_source: dict[str, ErrorRow]) -> None:
    """The entry names the record's reason, or defers it behind a parent queued for it."""
    word = next(word for prefix, word in _REASONS.items() if prefix in reason)
    if entry.stage == ErrorStage.RESOLVE.value:
        # A CPQ order's quote carries the same bad line, and refs resolve before validation.
        parent = _REFERENCED.search(entry.message)
        assert parent is not None, entry.message
        entry = open_by_source[parent.group(1)]
    assert word in entry.message, (entry.source_id, reason, entry.stage, entry.message)


def check_error_queue(engine: sa.Engine, expected: Expectations) -> list[ErrorRow]:
    """Each bad record is queued (open) with its reason, and nothing else is queued open."""
    with engine.connect() as connection:
        queued = list_errors(connection, limit=None)
    # CPQ-only entities (quotes, contacts, ...) go nowhere and the org lists none of their bad
    # records, so the queue is checked for what is delivered downstream.
    active = [e for e in queued if e.status is ErrorStatus.OPEN and e.entity in _DELIVERED]
    by_record = {(e.source_id, e.target_system): e for e in active}
    assert len(by_record) == len(active), "a record has two open entries for one target"
    rejected_orders = {expected.orders[key]["Id"] for key in expected.erp_rejected}
    wanted = {(source_id, "") for source_id in expected.invalid} | {
        (source_id, "erp") for source_id in rejected_orders
    }
    unexpected = sorted(set(by_record) - wanted)
    details = [(key, by_record[key].stage, by_record[key].message[:120]) for key in unexpected]
    assert not unexpected, f"queued though not meant to fail: {details[:5]}"
    assert not wanted - by_record.keys(), f"not queued: {sorted(wanted - by_record.keys())}"
    open_by_source = {e.source_id: e for e in queued if e.status is ErrorStatus.OPEN}
    for source_id, reason in expected.invalid.items():
        _assert_reason(by_record[source_id, ""], reason, open_by_source)
    for source_id in rejected_orders:
        assert "Invalid value" in by_record[source_id, "erp"].message
    return active


def downstream_snapshot(sandboxes: Sandboxes) -> dict[str, dict[str, Any]]:
    """Billing and ERP contents without server-assigned ids and times, comparable across runs."""
    billing = sandboxes.billing
    rows = {c: billing.resources(c) for c in ("customers", "products", "orders")}
    external = {row["id"]: row["external_id"] for collection in rows.values() for row in collection}
    snapshot: dict[str, dict[str, Any]] = {}
    for collection, resources in rows.items():
        for row in resources:
            # resources() copies shallowly: nested lines are the sandbox's own objects.
            content = copy.deepcopy(
                {k: v for k, v in row.items() if k not in _BILLING_SERVER_FIELDS}
            )
            if "customer" in content:
                content["customer"] = external[content["customer"]]
            for line in content.get("lines", ()):
                line["product"] = external[line["product"]]
            snapshot.setdefault(f"billing:{collection}", {})[row["external_id"]] = content
    for (record_type, external_id), record in dict(sandboxes.erp.records).items():
        content = {k: v for k, v in record.items() if k not in _ERP_SERVER_FIELDS}
        snapshot.setdefault(f"erp:{record_type}", {})[external_id] = content
    return snapshot
