"""Subscription lifecycles reach the ERP as NetSuite keeps them, over the real wire, on SQLite
and PostgreSQL, in both of erp.yaml's amendment settings.

The Salesforce sandbox seeds product A bought at 10, raised to 15, lowered to 12 and renewed
for 2027; product B bought at 4 and cancelled on 07-01 (its own contract); and product C added
to A's contract at 2 on 04-01 and at 3 more on 09-16 (sandboxes/salesforce/cpq_lifecycle.py).

- ``delta`` (shipped): each amendment is a sales order of its own holding the change, linked
  to the order it changes (``custbody_rb_revises``); the sales orders of a contract sum to
  what the customer has.
- ``update_original``: the original sales order shows what the customer has: lines set to the
  quantity after the last change, the cancelled line closed, add-ons added.

Either way the cancellation raises a credit memo for the unused half of B's term.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from mappings.identity import canonical_id
from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import MappingSet
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.connections import open_connectors
from sync.engine.flows import Flow
from sync.engine.run import SyncEngine
from sync.store import Store
from sync.store.error_queue import ErrorRow, list_errors
from sync.store.schema import ErrorStatus
from tests.integration.cpq_harness import RECEIVABLES, cpq_sandboxes, run_flow, stored_payloads
from tests.unit.test_erp_wsdl_parity import REAL_XSDS

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

SIZE = SandboxSize(accounts=4, orders=6, products=3, page_size=200, lifecycles=True)
PAGE = 200
QUOTE_TO_ERP = Flow(name="quote-to-erp", source="salesforce", targets=("erp",))
SETTINGS = ("delta", "update_original")
AMENDMENTS = ("upsell", "downgrade", "add_on", "coterminated_add_on")  # of A's contract
HALF_TERM = Decimal("0.5")  # CPQ's proration multiplier of B's cancellation: 6 of 12 months


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def real_suitetalk_schema(reference_dir: Path) -> etree.XMLSchema:
    """NetSuite's own XSDs (../shared/reference), for the upsertList bodies."""
    xsd_dir = reference_dir / "netsuite-suitetalk-2023.2" / "xsd"
    imports = "".join(
        f'<xsd:import namespace="{namespace}" schemaLocation="{(xsd_dir / name).as_uri()}"/>'
        for namespace, name in REAL_XSDS.items()
    )
    wrapper = (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'targetNamespace="urn:revbridge:test">{imports}</xsd:schema>'
    )
    return etree.XMLSchema(etree.fromstring(wrapper))


def erp_mapping(setting: str, tmp_path: Path) -> MappingSet:
    """The shipped mappings with erp.yaml set to ``setting``, as an admin would edit it: each
    rule marked ``(delta)`` swapped for the commented one marked ``(update_original)``."""
    if setting == "delta":
        return load_mapping_set()
    return load_mapping_set([
        _switched(path, tmp_path / "erp.yaml") if path.name == "erp.yaml" else path
        for path in shipped_mapping_files()
    ])  # fmt: skip


def _switched(shipped: Path, edited: Path) -> Path:
    text = shipped.read_text(encoding="utf-8").splitlines()
    delta = [i for i, line in enumerate(text) if line.rstrip().endswith("# (delta)")]
    original = [i for i, line in enumerate(text) if line.rstrip().endswith("# (update_original)")]
    assert (len(delta), len(original)) == (2, 2), "erp.yaml's amendment setting is two rules"
    for i in delta:
        text[i] = text[i].replace(text[i].lstrip(), "# " + text[i].lstrip(), 1)
    for i in original:
        text[i] = text[i].replace("# ", "", 1)
    edited.write_text("\n".join(text) + "\n", encoding="utf-8")
    return edited


def _open_errors(store: Store) -> list[ErrorRow]:
    with store.engine.connect() as connection:
        return list_errors(connection, status=ErrorStatus.OPEN, limit=None)


def lifecycle_orders(sandboxes: Sandboxes) -> dict[str, dict[str, Any]]:
    """The seeded lifecycle's Salesforce orders by event name."""
    salesforce = sandboxes.salesforce
    subscriptions = {s["Id"]: s for s in salesforce.records("SBQQ__Subscription__c")}
    items = {i["Id"]: i for i in salesforce.records("OrderItem")}
    orders = {o["Id"]: o for o in salesforce.records("Order")}
    return {
        event: orders[items[subscriptions[sub_id]["SBQQ__OrderProduct__c"]]["OrderId"]]
        for event, sub_id in salesforce.lifecycle_subscription_ids.items()
    }


def _lifecycle_errors(store: Store, sandboxes: Sandboxes) -> list[tuple[str, str, str]]:
    salesforce = sandboxes.salesforce
    ids = set(salesforce.lifecycle_subscription_ids.values())
    ids |= {o["Id"] for o in lifecycle_orders(sandboxes).values()}
    return [(e.entity, e.source_id, e.message) for e in _open_errors(store) if e.source_id in ids]


def _found_sales_order(sandboxes: Sandboxes, order: dict[str, Any]) -> dict[str, Any] | None:
    external_id = canonical_id("order", "salesforce", order["Id"])
    return sandboxes.erp.records.get(("SalesOrder", external_id))


def _sales_order(sandboxes: Sandboxes, order: dict[str, Any]) -> dict[str, Any]:
    found = _found_sales_order(sandboxes, order)
    assert found is not None, f"no sales order for {order['Id']}"
    return found


def _custom(line: dict[str, Any], script_id: str) -> Any:
    fields = (line.get("customFieldList") or {}).get("customField") or []
    return next((f.get("value") for f in fields if f.get("scriptId") == script_id), None)


def _lines(sales_order: dict[str, Any]) -> list[dict[str, Any]]:
    return list((sales_order.get("itemList") or {}).get("item") or [])


def _quantity_by_product(sales_orders: list[dict[str, Any]]) -> dict[str, Decimal]:
    """What the customer has per item: open lines summed over the contract's sales orders."""
    totals: dict[str, Decimal] = {}
    for sales_order in sales_orders:
        for line in _lines(sales_order):
            if str(line.get("isClosed", "false")).lower() == "true":
                continue
            item = line["item"]["externalId"]
            totals[item] = totals.get(item, Decimal(0)) + Decimal(line["quantity"])
    return {item: total for item, total in totals.items() if total}


def _product(sandboxes: Sandboxes, order: dict[str, Any]) -> str:
    item = next(i for i in sandboxes.salesforce.records("OrderItem") if i["OrderId"] == order["Id"])
    return canonical_id("product", "salesforce", item["Product2Id"])


def assert_end_state(sandboxes: Sandboxes, setting: str) -> None:
    """A at 12 and C at 5 on A's contract, B cancelled from 07-01 with its credit memo, and
    A renewed at 12 for 2027: the same in NetSuite whichever setting sent it there."""
    orders = lifecycle_orders(sandboxes)
    a, b, c = (_product(sandboxes, orders[e]) for e in ("new", "cancelled", "add_on"))
    amendments = AMENDMENTS
    if setting == "delta":
        contract_a = [_sales_order(sandboxes, orders[e]) for e in ("new", *amendments)]
        for event in amendments:
            revised = _sales_order(sandboxes, orders[event])
            link = _custom(revised, "custbody_rb_revises")
            assert link["internalId"] == contract_a[0]["internalId"]
        contract_b = [_sales_order(sandboxes, orders[e]) for e in ("cancelled", "cancellation")]
    else:
        # No sales order of their own: the originals changed in place.
        changes = (*amendments, "cancellation")
        assert [_found_sales_order(sandboxes, orders[e]) for e in changes] == [None] * 5
        contract_a = [_sales_order(sandboxes, orders["new"])]
        contract_b = [_sales_order(sandboxes, orders["cancelled"])]
        changed = [(line["item"]["externalId"], _custom(line, "custcol_rb_as_of"))
                   for line in _lines(contract_a[0])]  # fmt: skip
        assert changed == [(a, "2026-05-01"), (c, "2026-04-01"), (c, "2026-09-16")]
        (closed,) = _lines(contract_b[0])
        assert str(closed["isClosed"]).lower() == "true"
        assert Decimal(closed["quantity"]) == 4  # a closed line keeps what was sold
    assert _quantity_by_product(contract_a) == {a: 12, c: 5}
    assert _quantity_by_product(contract_b) == {}
    renewal = _sales_order(sandboxes, orders["renewal"])
    assert (renewal["startDate"][:10], renewal["endDate"][:10]) == ("2027-01-01", "2027-12-31")
    assert _quantity_by_product([renewal]) == {a: 12}
    _assert_credit_memo(sandboxes, orders["cancellation"], b)


def _assert_credit_memo(sandboxes: Sandboxes, cancellation: dict[str, Any], product: str) -> None:
    external_id = canonical_id("order", "salesforce", cancellation["Id"]) + "-credit"
    memos = [r for (kind, _), r in sandboxes.erp.records.items() if kind == "CreditMemo"]
    (memo,) = [m for m in memos if m.get("externalId") == external_id]
    (line,) = _lines(memo)
    price = Decimal(str(next(
        i["UnitPrice"] for i in sandboxes.salesforce.records("OrderItem")
        if i["OrderId"] == cancellation["Id"]
    )))  # fmt: skip
    assert memo["tranDate"][:10] == "2026-07-01"
    assert line["item"]["externalId"] == product
    assert Decimal(line["quantity"]) == 4
    assert Decimal(line["amount"]) == (4 * price * HALF_TERM).quantize(Decimal("0.01"))


def reverse_capture_order(sandboxes: Sandboxes) -> None:
    """Restamp the lifecycle's orders and subscriptions newest first, so a run reads each
    amendment before what it amends (the renewal before the renewed, the cancellation first)."""
    salesforce = sandboxes.salesforce
    lifecycle_ids = set(salesforce.lifecycle_subscription_ids.values())
    order_ids = {o["Id"] for o in lifecycle_orders(sandboxes).values()}
    records = [("SBQQ__Subscription__c", s) for s in salesforce.records("SBQQ__Subscription__c")
               if s["Id"] in lifecycle_ids]  # fmt: skip
    records += [("Order", o) for o in salesforce.records("Order") if o["Id"] in order_ids]
    for object_name, record in sorted(records, key=lambda r: r[1]["SystemModstamp"], reverse=True):
        salesforce.update_record(object_name, record["Id"], {})


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_subscriptions_lifecycle_ends_right_in_the_erp(
    sandboxes: Sandboxes, store: Store, setting: str, tmp_path: Path, reference_dir: Path
) -> None:
    mappings = erp_mapping(setting, tmp_path)
    bodies = sandboxes.erp.record_upserts()

    run_flow(sandboxes, store, mappings, QUOTE_TO_ERP, page_size=PAGE)

    assert _lifecycle_errors(store, sandboxes) == []
    assert_end_state(sandboxes, setting)
    # Every body sent, sales orders changed in place and credit memos included, is one the
    # real SuiteTalk 2023.2 schema accepts.
    schema = real_suitetalk_schema(reference_dir)
    assert bodies
    for body in bodies:
        request = etree.fromstring(body).find(f"{{{SOAP_ENV}}}Body")[0]
        assert schema.validate(etree.ElementTree(request)), schema.error_log


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_lifecycle_captured_in_reverse_order_ends_the_same(
    sandboxes: Sandboxes, store: Store, setting: str, tmp_path: Path
) -> None:
    mappings = erp_mapping(setting, tmp_path)
    reverse_capture_order(sandboxes)

    run_flow(sandboxes, store, mappings, QUOTE_TO_ERP, page_size=PAGE)

    assert _lifecycle_errors(store, sandboxes) == []
    assert_end_state(sandboxes, setting)


@pytest.mark.parametrize("setting", SETTINGS)
def test_an_amendment_waits_while_the_order_it_changes_is_not_in_the_erp(
    sandboxes: Sandboxes, store: Store, setting: str, tmp_path: Path
) -> None:
    mappings = erp_mapping(setting, tmp_path)
    orders = lifecycle_orders(sandboxes)
    original = canonical_id("order", "salesforce", orders["new"]["Id"])
    sandboxes.erp.poison(original)  # NetSuite refuses the original sales order

    run_flow(sandboxes, store, mappings, QUOTE_TO_ERP, page_size=PAGE)

    waiting = {e.source_id: e for e in _open_errors(store) if e.entity == "order"}
    assert waiting[orders["new"]["Id"]].stage == "write"
    for event in AMENDMENTS:
        amendment = waiting[orders[event]["Id"]]
        # The original did not land, so it is not captured: the amendment waits for it.
        assert (amendment.stage, amendment.message) == ("resolve", (
            f"revised_order_id: referenced order {orders['new']['Id']!r} (salesforce) is not "
            "synced yet"
        ))  # fmt: skip
        assert _found_sales_order(sandboxes, orders[event]) is None
    # B's contract does not wait for A's.
    assert orders["cancellation"]["Id"] not in waiting

    # Fixed in NetSuite, an admin retries the original, then what waited for it.
    sandboxes.erp.cure(original)
    settings = sandboxes.settings(store.url)
    with open_connectors(settings) as connectors:
        engine = SyncEngine(store, mappings, connectors, QUOTE_TO_ERP)
        engine.retry({"order": [orders["new"]["Id"]]})
        engine.retry({"order": sorted(orders[event]["Id"] for event in AMENDMENTS)})

    assert _lifecycle_errors(store, sandboxes) == []
    assert_end_state(sandboxes, setting)


def test_the_cancellations_credit_memo_comes_back_as_a_receivable(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    quote_to_cash = Flow(name="quote-to-cash", source="salesforce", targets=("billing", "erp"))
    run_flow(sandboxes, store, mapping_set, quote_to_cash, page_size=PAGE)

    run_flow(sandboxes, store, mapping_set, RECEIVABLES, page_size=PAGE)

    assert [e.message for e in _open_errors(store) if e.entity == "credit_memo"] == []
    (memo,) = stored_payloads(store, "credit_memo").values()
    cancellation = lifecycle_orders(sandboxes)["cancellation"]
    price = next(
        Decimal(str(i["UnitPrice"]))
        for i in sandboxes.salesforce.records("OrderItem")
        if i["OrderId"] == cancellation["Id"]
    )
    assert Decimal(memo["amount"]) == (4 * price * HALF_TERM).quantize(Decimal("0.01"))
    assert memo["issued_on"] == "2026-07-01"
