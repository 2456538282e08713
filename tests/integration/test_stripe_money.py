"""A sync never moves money, and speaks the Stripe API version its mappings are written for.

The whole quote-to-cash flow into the Stripe sandbox (first run with search, a changed and a
cancelled order, then a lost-store run on a server without search) is held against Stripe's
OpenAPI spec (reference/stripe-openapi/spec3.json): each request's method and path exist, each
form parameter is one the spec defines for that operation (the requestBody schema flattened),
each request names the spec's version, and no request charges, pays or finalises anything.
Then the order rules one at a time, against the connector with a fixed clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import WriteOutcome, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.billing.stripe.profile import STRIPE_API_VERSION, StripeProfile
from connectors.billing.stripe.terms import OrderTerms
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.billing.stripe.api import StripeRequest
from sync.cli.sandboxes import Sandboxes
from tests.integration.test_stripe_lookup_flow import (
    SIZE,
    StripeFlow,
    current_orders,
    mappings_dir,
)

__all__ = ["mappings_dir"]  # the fixture, shared with test_stripe_lookup_flow

CUSTOMERS = WriteSpec("customers", "external_id")
PRODUCTS = WriteSpec("products", "external_id")
ORDERS = WriteSpec("orders", "external_id")
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
AUTO = "charge_automatically"
MONEY_PATHS = re.compile(r"^/v1/(payment_intents|charges|invoices)(/|$)|/(pay|finalize)$")


def _spec(reference_dir: Path) -> dict[str, Any]:
    return json.loads((reference_dir / "stripe-openapi" / "spec3.json").read_text())  # type: ignore[no-any-return]


def _operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    """The spec's operation for a concrete path; literal paths (``/search``) beat templates."""
    matches = []
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            matches.append((template.count("{"), operations[method.lower()]))
    return min(matches, key=lambda match: match[0])[1] if matches else None


def form_parameters(schema: dict[str, Any], prefix: str = "") -> set[str]:
    """Every parameter name a form schema defines: ``[]`` for a list index, ``[*]`` any key."""
    if not prefix and not schema.get("properties"):
        return set()
    names = {prefix} if prefix else set()
    for option in [schema, *schema.get("anyOf", [])]:
        for key, child in option.get("properties", {}).items():
            names |= form_parameters(child, f"{prefix}[{key}]" if prefix else key)
        if option.get("type") == "array":
            names |= form_parameters(option.get("items", {}), f"{prefix}[]")
        if option.get("additionalProperties"):
            names |= form_parameters(option["additionalProperties"], f"{prefix}[*]")
    return names


def _matches(name: str, defined: set[str]) -> bool:
    steps = re.findall(r"\[([^\[\]]*)\]", name)
    base = name.split("[", 1)[0]
    candidates = [base]
    for step in steps:
        options = ["[]"] if step.isdigit() or step == "" else []
        candidates = [c + option for c in candidates for option in [f"[{step}]", "[*]", *options]]
    return any(candidate in defined for candidate in candidates)


def conformance_problems(spec: dict[str, Any], request: StripeRequest) -> list[str]:
    """What in ``request`` Stripe's spec does not define: the operation, a query or form name."""
    where = f"{request.method} {request.path}"
    operation = _operation(spec, request.method, request.path)
    if operation is None:
        return [f"{where}: no such operation"]
    query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    problems = [
        f"{where}: query {name}" for name in request.query_names if name.split("[")[0] not in query
    ]
    content = operation.get("requestBody", {}).get("content", {})
    form = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
    defined = form_parameters(form)
    problems += [
        f"{where}: form {name}" for name in request.form_names if not _matches(name, defined)
    ]
    return problems


def money_moves(request: StripeRequest, charge_allowed: bool = False) -> list[str]:
    """What in ``request`` could move money: a charge, payment, finalisation or auto-collection."""
    where = f"{request.method} {request.path}"
    found = []
    if request.method == "POST" and MONEY_PATHS.search(request.path):
        found.append(f"{where}: creates, pays or finalises a money object")
    method = request.sent("collection_method")
    if method == "charge_automatically" and not charge_allowed:
        found.append(f"{where}: collection_method=charge_automatically")
    if method == "charge_automatically" and request.sent("payment_behavior") != (
        "default_incomplete"
    ):
        found.append(f"{where}: charge_automatically without payment_behavior=default_incomplete")
    if request.path == "/v1/subscriptions" and request.method == "POST" and method is None:
        found.append(f"{where}: a subscription without collection_method")
    return found


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        current_orders(running)
        yield running


def test_a_whole_stripe_flow_sends_only_what_the_spec_defines_and_never_moves_money(
    sandboxes: Sandboxes,
    database_url: str,
    mappings_dir: Path,
    reference_dir: Path,
    tmp_path: Path,
) -> None:
    spec = _spec(reference_dir)
    salesforce = sandboxes.salesforce
    flow = StripeFlow(sandboxes, database_url, mappings_dir, "auto")
    try:
        assert flow.run().rejected == 0
        activated = [o for o in salesforce.records("Order") if o["Status"] == "Activated"]
        salesforce.update_record("Order", activated[0]["Id"], {"Status": "Cancelled"})
        [line, *_] = [
            i for i in salesforce.records("OrderItem") if i["OrderId"] == activated[1]["Id"]
        ]
        salesforce.update_record("OrderItem", line["Id"], {"Quantity": line["Quantity"] + 1})
        assert flow.run().rejected == 0
        sandboxes.billing.set_stripe_search(enabled=False)
        flow.lose_store(f"sqlite:///{tmp_path / 'lost.db'}")
        assert flow.run().rejected == 0
    finally:
        flow.store.close()

    sent = sandboxes.billing.stripe_requests
    kinds = {(r.method, r.path.split("/")[2], r.path.count("/")) for r in sent}
    assert kinds >= {
        ("POST", "customers", 2),
        ("POST", "subscriptions", 2),
        ("POST", "subscriptions", 3),
        ("DELETE", "subscriptions", 3),
        ("POST", "invoiceitems", 2),
        ("GET", "customers", 3),  # search
        ("GET", "customers", 2),  # list
    }
    assert spec["info"]["version"] == STRIPE_API_VERSION
    assert {r.stripe_version for r in sent} == {STRIPE_API_VERSION}
    assert [problem for r in sent for problem in conformance_problems(spec, r)] == []
    assert [problem for r in sent for problem in money_moves(r)] == []
    creates = [r for r in sent if r.method == "POST" and r.path == "/v1/subscriptions"]
    assert {(r.sent("collection_method"), r.sent("days_until_due")) for r in creates} == {
        ("send_invoice", "30")
    }
    [cancelled] = [
        s for s in sandboxes.billing.stripe_objects("subscriptions") if s["status"] == "canceled"
    ]
    assert cancelled["metadata"]["revbridge_id"]


def test_the_spec_check_itself_catches_what_it_should(reference_dir: Path) -> None:
    spec = _spec(reference_dir)
    good = StripeRequest("POST", "/v1/subscriptions/sub_1", (), ("items[0][metadata][x]",), None)
    misspelt = StripeRequest("POST", "/v1/customers", (), ("metadata[x]", "nmae"), None)
    unknown = StripeRequest("POST", "/v1/subscriptions/sub_1/renew", (), (), None)
    charge = StripeRequest("POST", "/v1/invoices/in_1/pay", (), (), None)
    auto = StripeRequest(
        "POST",
        "/v1/subscriptions",
        (),
        (),
        None,
        form=(("collection_method", "charge_automatically"),),
    )

    assert conformance_problems(spec, good) == []
    assert conformance_problems(spec, misspelt) == ["POST /v1/customers: form nmae"]
    assert conformance_problems(spec, unknown) == [
        "POST /v1/subscriptions/sub_1/renew: no such operation"
    ]
    assert money_moves(charge) == [
        "POST /v1/invoices/in_1/pay: creates, pays or finalises a money object"
    ]
    assert len(money_moves(auto)) == 2
    assert len(money_moves(auto, charge_allowed=True)) == 1  # still needs default_incomplete


# --- the order rules, one at a time, against the connector with a fixed clock -------------


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def connector(sandbox: BillingSandbox) -> Iterator[BillingConnector]:
    settings = BillingSettings(
        base_url=sandbox.stripe_url,
        api_key=SecretStr(sandbox.api_key),
        profile="stripe",
        auth="basic",
    )
    profile = StripeProfile("auto", OrderTerms(days_until_due=14, now=lambda: NOW))
    made = BillingConnector(
        settings, RetrySettings(attempts=2), wait=lambda _: None, profile=profile
    )
    yield made
    made.close()


@pytest.fixture
def refs(connector: BillingConnector) -> tuple[str, str]:
    [customer] = connector.write(CUSTOMERS, [{"external_id": "acc-1", "name": "Acme"}])
    [product] = connector.write(PRODUCTS, [{"external_id": "prod-1", "name": "Platform"}])
    assert customer.target_id is not None
    assert product.target_id is not None
    return customer.target_id, product.target_id


def _order(refs: tuple[str, str], external_id: str = "ord-1", **fields: Any) -> dict[str, Any]:
    customer, product = refs
    yearly = {"external_id": f"{external_id}-1", "product": product, "quantity": 1}
    yearly |= {"unit_amount": 1200, "recurring": {"interval": "year"}}
    once = {"external_id": f"{external_id}-2", "product": product, "unit_amount": 300}
    order = {"external_id": external_id, "customer": customer, "currency": "EUR"}
    return order | {"lines": [yearly, once], "status": "activated"} | fields


def _stamp(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _posts(sandbox: BillingSandbox, path: str) -> list[StripeRequest]:
    return [r for r in sandbox.stripe_requests if r.method == "POST" and r.path == path]


def test_an_order_collects_by_invoice_and_ends_when_the_order_does(
    connector: BillingConnector, sandbox: BillingSandbox, refs: tuple[str, str]
) -> None:
    order = _order(refs, start_date=date(2026, 3, 1), end_date=date(2027, 2, 28))

    [result] = connector.write(ORDERS, [order])

    assert result.outcome is WriteOutcome.CREATED
    [subscription] = sandbox.stripe_objects("subscriptions")
    assert subscription["collection_method"] == "send_invoice"
    assert subscription["days_until_due"] == 14  # billing.days_until_due
    assert subscription["cancel_at"] == _stamp(date(2027, 3, 1))  # after the last day
    assert "billing_cycle_anchor" not in subscription  # started already: not backdated
    [create] = _posts(sandbox, "/v1/subscriptions")
    assert create.sent("payment_behavior") is None
    assert create.sent("backdate_start_date") is None
    assert len(sandbox.stripe_objects("invoiceitems")) == 1


def test_an_order_starting_later_anchors_its_billing_there_without_proration(
    connector: BillingConnector, sandbox: BillingSandbox, refs: tuple[str, str]
) -> None:
    order = _order(refs, start_date="2026-04-01", end_date="2027-03-31", days_until_due=45)

    connector.write(ORDERS, [order])

    [subscription] = sandbox.stripe_objects("subscriptions")
    assert subscription["billing_cycle_anchor"] == _stamp(date(2026, 4, 1))
    assert subscription["days_until_due"] == 45  # the mapping's own term wins
    [create] = _posts(sandbox, "/v1/subscriptions")
    assert create.sent("proration_behavior") == "none"


def test_a_draft_order_writes_nothing_and_a_finished_one_no_subscription(
    connector: BillingConnector, sandbox: BillingSandbox, refs: tuple[str, str]
) -> None:
    before = len(sandbox.stripe_requests)
    draft = _order(refs, "ord-draft", status="draft")
    finished = _order(refs, "ord-old", start_date="2025-01-01", end_date="2025-12-31")

    results = connector.write(ORDERS, [draft, finished])

    assert [r.ok for r in results] == [True, True]
    assert [r.target_id for r in results] == [None, None]
    assert sandbox.stripe_objects("subscriptions") == []
    [item] = sandbox.stripe_objects("invoiceitems")  # the finished order's one-time line
    assert item["metadata"]["revbridge_order"] == "ord-old"
    draft_requests = [
        r for r in sandbox.stripe_requests[before:] if "ord-draft" in json.dumps(r.form)
    ]
    assert draft_requests == []


def test_a_cancelled_order_cancels_its_subscription_without_a_final_invoice(
    connector: BillingConnector, sandbox: BillingSandbox, refs: tuple[str, str]
) -> None:
    [created] = connector.write(ORDERS, [_order(refs)])

    [cancelled] = connector.write(ORDERS, [_order(refs, status="cancelled")])
    [again] = connector.write(ORDERS, [_order(refs, status="Cancelled")])

    assert cancelled.target_id == again.target_id == created.target_id
    [subscription] = sandbox.stripe_objects("subscriptions")
    assert subscription["status"] == "canceled"
    assert sandbox.stripe_objects("invoiceitems") == []
    [cancel] = [r for r in sandbox.stripe_requests if r.method == "DELETE" and "/sub" in r.path]
    assert cancel.form == ()  # neither invoice_now nor prorate
    assert sandbox.stripe_writes[("subscriptions", "canceled")] == 1


def test_charge_automatically_only_as_the_mapping_says_and_then_default_incomplete(
    connector: BillingConnector, sandbox: BillingSandbox, refs: tuple[str, str]
) -> None:
    charged = _order(refs, "ord-card", collection_method="charge_automatically")
    risky = _order(
        refs,
        "ord-risky",
        collection_method="charge_automatically",
        payment_behavior="allow_incomplete",
    )
    odd = _order(refs, "ord-odd", collection_method="charge_whenever")
    due = _order(refs, "ord-due", collection_method="charge_automatically", days_until_due=10)
    days = _order(refs, "ord-days", days_until_due="thirty")

    results = connector.write(ORDERS, [charged, risky, odd, due, days])

    assert [(r.outcome, r.error_fields) for r in results] == [
        (WriteOutcome.CREATED, ()),
        (WriteOutcome.REJECTED, ("payment_behavior",)),
        (WriteOutcome.REJECTED, ("collection_method",)),
        (WriteOutcome.REJECTED, ("days_until_due",)),
        (WriteOutcome.REJECTED, ("days_until_due",)),
    ]
    assert "could charge the customer during a sync" in results[1].error_message
    [create] = _posts(sandbox, "/v1/subscriptions")
    assert create.sent("payment_behavior") == "default_incomplete"
    [subscription] = sandbox.stripe_objects("subscriptions")
    assert (subscription["collection_method"], subscription["status"]) == (
        "charge_automatically",
        "incomplete",
    )
    assert money_moves(create, charge_allowed=True) == []
    # Nothing of the refused orders reached Stripe, not even their one-time lines.
    assert {i["metadata"]["revbridge_order"] for i in sandbox.stripe_objects("invoiceitems")} == {
        "ord-card"
    }


def test_the_sandbox_replays_a_reused_key_like_stripe_and_refuses_it_with_other_params(
    sandbox: BillingSandbox,
) -> None:
    url, auth = f"{sandbox.stripe_url}/v1/customers", (sandbox.api_key, "")
    key = {"Idempotency-Key": "revbridge-test-key"}

    first = requests.post(url, data={"name": "Acme"}, headers=key, auth=auth, timeout=10)
    replay = requests.post(url, data={"name": "Acme"}, headers=key, auth=auth, timeout=10)
    other = requests.post(url, data={"name": "Acme KK"}, headers=key, auth=auth, timeout=10)

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json()
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert len(sandbox.stripe_objects("customers")) == 1


def test_changed_content_gets_a_new_create_key_and_the_same_content_the_same_key(
    sandbox: BillingSandbox,
) -> None:
    sandbox.set_stripe_search(enabled=False)
    settings = BillingSettings(
        base_url=sandbox.stripe_url, api_key=SecretStr(sandbox.api_key), profile="stripe",
        auth="basic", lookup="none",
    )  # fmt: skip
    keys = []
    for name in ("Acme", "Acme", "Acme KK"):
        fresh = BillingConnector(settings, RetrySettings(attempts=1), wait=lambda _: None)
        [result] = fresh.write(CUSTOMERS, [{"external_id": "acc-9", "name": name}])
        fresh.close()
        assert result.ok, result.error_message
        keys.append(_posts(sandbox, "/v1/customers")[-1].idempotency_key)

    assert keys[0] == keys[1] != keys[2]
    # Same key, same content: the first object; new content: a new object (lookup none).
    assert len(sandbox.stripe_objects("customers")) == 2
