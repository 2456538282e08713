"""The billing connector's Stripe-compatible profile against the sandbox's Stripe API."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ReadSpec, WriteOutcome, WriteSpec
from connectors.billing.connector import EXISTING_ID_KEY, BillingConnector
from connectors.errors import RateLimited
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.billing.stripe.api import StripeRequest
from tests.integration.billing_harness import MakeConnector, connector_factory

MARKER_SECRET = "sk_test_STRIPE_MARKER_d0_not_leak"
CUSTOMERS = WriteSpec("customers", "external_id")
PRODUCTS = WriteSpec("products", "external_id")
ORDERS = WriteSpec("orders", "external_id")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One sandbox for the module."""
    with BillingSandbox(api_key=MARKER_SECRET) as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    """The module's sandbox, emptied for this test."""
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def waits() -> list[float]:
    """Backoffs the connector asked for; nothing really sleeps."""
    return []


@pytest.fixture
def make_connector(sandbox: BillingSandbox, waits: list[float]) -> Iterator[MakeConnector]:
    """Stripe-profile connectors to the sandbox, closed after the test."""
    with connector_factory(sandbox, waits, profile="stripe", auth="basic") as make:
        yield make


def _customer(external_id: str, **changes: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": "Acme KK", "email": "ap@acme.example", **changes}


def _order(external_id: str, customer: str, product: str, currency: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "customer": customer,
        "currency": currency,
        "lines": [
            {
                "external_id": f"{external_id}-1",
                "product": product,
                "quantity": Decimal("3"),
                "unit_amount": Decimal("1200"),
                "recurring": {"interval": "month"},
            },
            {
                "external_id": f"{external_id}-2",
                "product": product,
                "quantity": Decimal("1"),
                "unit_amount": Decimal("50000"),
                "description": "Onboarding",
            },
            {
                "external_id": f"{external_id}-3",
                "product": product,
                "quantity": Decimal("2"),
                "unit_amount": Decimal("7500"),
                "description": "Training days",
            },
        ],
    }


def _seed_customer_and_product(connector: BillingConnector) -> tuple[str, str]:
    [customer] = connector.write(CUSTOMERS, [_customer("acc-1")])
    [product] = connector.write(PRODUCTS, [{"external_id": "prod-1", "name": "Platform"}])
    assert customer.target_id is not None
    assert product.target_id is not None
    return customer.target_id, product.target_id


def test_customer_is_created_with_metadata_then_updated_through_the_known_id(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    [created] = connector.write(CUSTOMERS, [_customer("acc-1")])
    changed = _customer("acc-1", phone="+81 3 5555 0100", **{EXISTING_ID_KEY: created.target_id})
    [updated] = connector.write(CUSTOMERS, [changed])

    [stored] = sandbox.stripe_objects("customers")
    assert (created.outcome, updated.outcome) == (WriteOutcome.CREATED, WriteOutcome.UPDATED)
    assert created.target_id == updated.target_id == stored["id"]
    assert stored["metadata"] == {"revbridge_id": "acc-1"}
    assert stored["phone"] == "+81 3 5555 0100"
    searches = [r for r in sandbox.stripe_requests if r.path.endswith("/search")]
    assert len(searches) == 1  # only the create looked; the update used the xref's id


def test_lost_xref_is_recovered_from_metadata_search_without_a_duplicate(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    [created] = make_connector().write(CUSTOMERS, [_customer("acc-'quoted'")])
    # A fresh connector with no billing id, as after losing revbridge's database.
    [again] = make_connector().write(CUSTOMERS, [_customer("acc-'quoted'", name="Acme Japan")])

    assert again.outcome is WriteOutcome.UPDATED
    assert again.target_id == created.target_id
    assert [c["name"] for c in sandbox.stripe_objects("customers")] == ["Acme Japan"]


def test_order_synced_while_every_third_response_is_dropped_lands_exactly_once(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector(attempts=6)
    sandbox.drop_every(3)
    customer_id, product_id = _seed_customer_and_product(connector)
    order = _order("ord-1", customer_id, product_id, "JPY")
    first = connector.write(ORDERS, [order])
    second = connector.write(ORDERS, [order])
    third = make_connector(attempts=6).write(ORDERS, [order])  # a re-run that lost the xref
    sandbox.drop_every(0)

    assert [r.outcome for r in first + second + third] == [
        WriteOutcome.CREATED,
        WriteOutcome.UPDATED,
        WriteOutcome.UPDATED,
    ]
    assert len(sandbox.stripe_objects("customers")) == 1
    [subscription] = sandbox.stripe_objects("subscriptions")
    [item] = subscription["items"]["data"]
    assert (item["quantity"], item["price"]["unit_amount"]) == (3, 1200)
    assert item["price"]["currency"] == "jpy"
    invoice_items = sandbox.stripe_objects("invoiceitems")
    assert sorted((i["amount"], i["quantity"]) for i in invoice_items) == [(15000, 2), (50000, 1)]
    assert {i["metadata"]["revbridge_id"] for i in invoice_items} == {"ord-1-2", "ord-1-3"}
    replayed = [r for r in sandbox.stripe_requests if r.method == "POST" and r.idempotency_key]
    assert len({r.idempotency_key for r in replayed}) < len(replayed)  # drops were retried


def test_removed_order_line_deletes_its_invoice_item_and_changed_line_updates(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    customer_id, product_id = _seed_customer_and_product(connector)
    order = _order("ord-1", customer_id, product_id, "USD")
    connector.write(ORDERS, [order])
    order["lines"] = [order["lines"][0], {**order["lines"][1], "unit_amount": Decimal("12.34")}]
    [result] = connector.write(ORDERS, [order])

    assert result.outcome is WriteOutcome.UPDATED
    [item] = sandbox.stripe_objects("invoiceitems")
    assert (item["metadata"]["revbridge_id"], item["amount"]) == ("ord-1-2", 1234)
    assert sandbox.stripe_writes[("invoiceitems", "deleted")] == 1


def test_records_stripe_refuses_carry_code_and_param_and_the_batch_goes_on(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    customer_id, product_id = _seed_customer_and_product(connector)
    bad_customer = _order("ord-1", "cus_missing", product_id, "USD")
    fractional = _order("ord-2", customer_id, product_id, "USD")
    fractional["lines"][0]["quantity"] = Decimal("1.5")
    too_precise = _order("ord-3", customer_id, product_id, "JPY")
    too_precise["lines"][1]["unit_amount"] = Decimal("0.5")
    results = connector.write(ORDERS, [bad_customer, fractional, too_precise])

    assert [(r.outcome, r.error_code, r.error_fields) for r in results] == [
        (WriteOutcome.REJECTED, "resource_missing", ("customer",)),
        (WriteOutcome.REJECTED, "parameter_invalid", ("lines[0][quantity]",)),
        (WriteOutcome.CREATED, "", ()),
    ]
    # JPY has no minor unit: half a yen goes out as a fractional unit_amount_decimal.
    half_yen = [i for i in sandbox.stripe_objects("invoiceitems") if i["quantity"] == 1]
    assert [i["unit_amount_decimal"] for i in half_yen] == ["0.5"]


def test_rate_limit_waits_as_long_as_retry_after_then_gives_up_classified(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    sandbox.inject_fault(429, {"Retry-After": "7"}, times=1)
    sandbox.inject_fault(503, times=1)
    [result] = make_connector().write(CUSTOMERS, [_customer("acc-1")])
    assert result.ok
    assert waits[0] == 7.0
    assert len(waits) == 2  # and the 503 backed off once

    sandbox.inject_fault(429, {"Retry-After": "2"}, times=3)
    with pytest.raises(RateLimited) as raised:
        make_connector(attempts=3).write(CUSTOMERS, [_customer("acc-2")])
    assert MARKER_SECRET not in str(raised.value)


def _read(connector: BillingConnector, collection: str, since: Any = None) -> list[Any]:
    return list(connector.read(ReadSpec(collection, ("id",)), since))


def test_invoices_payments_and_credit_notes_read_back_with_exact_money(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector(page_size=2)
    customer_id, product_id = _seed_customer_and_product(connector)
    for currency, amount in (("USD", "19.99"), ("JPY", "1999"), ("KWD", "1.999")):
        order = _order(f"ord-{currency}", customer_id, product_id, currency)
        # 14 one-time lines of quantity 1 and 2: more lines than an invoice embeds.
        order["lines"] = [
            {**line, "external_id": f"{currency}-{index}", "unit_amount": Decimal(amount)}
            for index, line in enumerate(order["lines"][1:] * 7)
        ]
        connector.write(ORDERS, [order])
        invoice = sandbox.bill_pending_items(customer_id)
        sandbox.pay_invoice(invoice["id"])
        sandbox.credit_invoice(invoice["id"], 1, reason="duplicate")

    pages = _read(connector, "invoices")
    invoices = [record for page in pages for record in page.records]
    assert [len(page.records) for page in pages] == [2, 1]
    assert [i["total"] for i in invoices] == [
        Decimal("419.79"),
        Decimal("41979"),
        Decimal("41.979"),
    ]
    assert [len(i["lines"]["data"]) for i in invoices] == [14, 14, 14]
    assert invoices[2]["lines"]["data"][13]["amount"] == Decimal("3.998")
    assert invoices[0]["customer"] == customer_id
    assert invoices[0]["customer_object"]["metadata"]["revbridge_id"] == "acc-1"
    payments = [r for page in _read(connector, "payments") for r in page.records]
    assert [p["amount"] for p in payments] == [
        Decimal("419.79"),
        Decimal("41979"),
        Decimal("41.979"),
    ]
    notes = [r for page in _read(connector, "credit_notes") for r in page.records]
    assert [n["amount"] for n in notes] == [Decimal("0.01"), Decimal("1"), Decimal("0.001")]

    later = _read(connector, "invoices", since=pages[0].cursor)
    assert [r["id"] for page in later for r in page.records] == [invoices[2]["id"]]


def test_invoices_payments_and_credit_notes_fetched_by_id_read_as_the_list_reads_them(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    # A retry of a deferred Stripe record re-reads it by id: it must look as the list showed it.
    connector = make_connector()
    customer_id, product_id = _seed_customer_and_product(connector)
    order = _order("ord-1", customer_id, product_id, "USD")
    # 24 one-time lines: more than an invoice embeds, so fetching must page the rest.
    order["lines"] = [
        {**line, "external_id": f"l-{index}"} for index, line in enumerate(order["lines"][1:] * 12)
    ]
    connector.write(ORDERS, [order])
    invoice = sandbox.bill_pending_items(customer_id)
    sandbox.pay_invoice(invoice["id"])
    sandbox.credit_invoice(invoice["id"], 1, reason="duplicate")

    for collection in ("invoices", "payments", "credit_notes"):
        [listed] = [r for page in _read(connector, collection) for r in page.records]
        spec = ReadSpec(collection, ("id",))

        fetched = connector.fetch(spec, ["in_missing", listed["id"]])

        assert fetched == [listed], collection
    assert len(fetched_lines := listed_invoice_lines(connector, invoice["id"])) == 24
    assert all(isinstance(line["amount"], Decimal) for line in fetched_lines)


def listed_invoice_lines(connector: BillingConnector, invoice_id: str) -> list[Any]:
    [fetched] = connector.fetch(ReadSpec("invoices", ("id",)), [invoice_id])
    return list(fetched["lines"]["data"])


def _spec_operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        # Literal segments (`/search`) beat a `{id}` template that also matches.
        literal_match = any(re.fullmatch(t, path) for t in spec["paths"] if "{" not in t)
        preferred = "{" not in template or not literal_match
        if re.match(pattern, path) and method.lower() in operations and preferred:
            return operations[method.lower()]  # type: ignore[no-any-return]
    return None


def _schema_has(schema: dict[str, Any], steps: list[str]) -> bool:
    if not steps:
        return True
    for option in [schema, *schema.get("anyOf", [])]:
        is_list = option.get("type") == "array" and steps[0].isdigit()
        if is_list and _schema_has(option.get("items", {}), steps[1:]):
            return True
        properties = option.get("properties", {})
        if steps[0] in properties and _schema_has(properties[steps[0]], steps[1:]):
            return True
        if option.get("additionalProperties") and len(steps) == 1:
            return True
    return False


def _conforms(spec: dict[str, Any], request: StripeRequest) -> list[str]:
    operation = _spec_operation(spec, request.method, request.path)
    if operation is None:
        return [f"{request.method} {request.path}: no such operation"]
    problems = []
    query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    for name in request.query_names:
        if name.split("[", 1)[0] not in query:
            problems.append(f"{request.method} {request.path}: query {name}")
    content = operation.get("requestBody", {}).get("content", {})
    form = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
    for name in request.form_names:
        steps = re.findall(r"[^\[\]]+", name)
        if not _schema_has(form, steps):
            problems.append(f"{request.method} {request.path}: form {name}")
    return problems


def test_every_request_matches_stripes_openapi_spec(
    make_connector: MakeConnector, sandbox: BillingSandbox, reference_dir: Path
) -> None:
    spec = json.loads((reference_dir / "stripe-openapi" / "spec3.json").read_text())
    connector = make_connector()
    customer_id, product_id = _seed_customer_and_product(connector)
    price = {"external_id": "price-1", "product": product_id, "currency": "EUR"}
    connector.write(WriteSpec("prices", "external_id"), [{**price, "unit_amount": Decimal("9.5")}])
    order = _order("ord-1", customer_id, product_id, "EUR")
    connector.write(ORDERS, [order])
    order["lines"] = order["lines"][:2]
    connector.write(ORDERS, [order])
    make_connector().write(ORDERS, [order])
    sandbox.pay_invoice(sandbox.bill_pending_items(customer_id)["id"])
    for collection in ("invoices", "payments", "credit_notes", "customers"):
        _read(connector, collection)

    requests = sandbox.stripe_requests
    assert {(r.method, r.path.split("/")[2]) for r in requests} >= {
        ("POST", "customers"),
        ("GET", "customers"),
        ("POST", "subscriptions"),
        ("POST", "invoiceitems"),
        ("DELETE", "invoiceitems"),
        ("GET", "invoices"),
        ("POST", "prices"),
    }
    assert [problem for request in requests for problem in _conforms(spec, request)] == []
    misspelt = StripeRequest("POST", "/v1/customers", (), ("metadata[x]", "nmae"), None)
    assert _conforms(spec, misspelt) == ["POST /v1/customers: form nmae"]
