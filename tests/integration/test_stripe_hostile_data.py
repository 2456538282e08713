"""Records whose own data Stripe can't take are queued with a reason; the batch goes on.

Stripe's limits: metadata keys up to 40 characters, values up to 500, 50 keys; customer names
up to 256 characters, phones up to 20; amounts up to eight digits of minor units. Text must be
encodable and free of control characters. Markup is just text and lands as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from connectors.base import WriteOutcome, WriteSpec
from sandboxes.billing.sandbox import BillingSandbox
from sync.cli.sandboxes import Sandboxes
from sync.store.error_queue import list_errors
from tests.integration.billing_harness import MakeConnector, connector_factory
from tests.integration.test_stripe_lookup_flow import (
    SIZE,
    StripeFlow,
    current_orders,
    mappings_dir,
)

__all__ = ["mappings_dir"]  # the fixture, shared with test_stripe_lookup_flow

CUSTOMERS = WriteSpec("customers", "external_id")
PRICES = WriteSpec("prices", "external_id")
ORDERS = WriteSpec("orders", "external_id")
MARKUP = "<script>alert('x')</script> & \"Acme\" <b>KK</b>"


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def make_connector(sandbox: BillingSandbox) -> Iterator[MakeConnector]:
    with connector_factory(sandbox, [], profile="stripe", auth="basic") as make:
        yield make


def _customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": "Acme", **fields}


HOSTILE: list[tuple[dict[str, Any], str, str]] = [
    (_customer("c-name", name="N" * 257), "name", "name is 257 characters; Stripe allows 256"),
    (_customer("c-phone", phone="+1 (555) 010-0000 ext. 1234"), "phone", "Stripe allows 20"),
    (
        _customer("c-meta", metadata={"notes": "x" * 501}),
        "metadata[notes]",
        "metadata[notes] is 501 characters; Stripe allows 500 for metadata values",
    ),
    (
        _customer("c-key", metadata={"k" * 41: "v"}),
        f"metadata[{'k' * 41}]",
        "is 41 characters; Stripe allows 40",
    ),
    (
        _customer("c-keys", metadata={f"k{n}": "v" for n in range(50)}),
        "metadata",
        "metadata has 51 keys; Stripe allows 50",  # with revbridge_id, 51
    ),
    (
        _customer("c-bracket", metadata={"a[b]": "v"}),
        "metadata[a[b]]",
        "contains a square bracket",
    ),
    (
        _customer("c-esc", name="Bad\x00Nul\x1bEsc"),
        "name",
        "name contains control character U+0000 at position 4",
    ),
    (
        _customer("c-surrogate", name="Half \ud83d pair"),
        "name",
        "name contains an unpaired surrogate U+D83D at position 6",
    ),
    (
        _customer("x" * 501),
        "metadata[revbridge_id]",
        "metadata[revbridge_id] is 501 characters",
    ),
]


def test_each_hostile_record_is_refused_unsent_with_its_parameter_and_the_rest_land(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    fine = [
        _customer("c-ok"),
        _customer("c-markup", name=MARKUP, metadata={"note": "tab\tnew\nline"}),
        _customer("c-emoji", name="Acme \U0001f600 株式会社"),
    ]
    records = [record for record, _, _ in HOSTILE] + fine

    results = make_connector().write(CUSTOMERS, records)

    refused = results[: len(HOSTILE)]
    for (record, param, reason), result in zip(HOSTILE, refused, strict=True):
        assert result.outcome is WriteOutcome.REJECTED, record["external_id"]
        assert result.error_fields == (param,)
        assert reason in result.error_message
    assert [r.outcome for r in results[len(HOSTILE) :]] == [WriteOutcome.CREATED] * 3
    stored = {c["metadata"]["revbridge_id"]: c for c in sandbox.stripe_objects("customers")}
    assert set(stored) == {"c-ok", "c-markup", "c-emoji"}  # nothing refused was sent
    assert stored["c-markup"]["name"] == MARKUP
    assert stored["c-markup"]["metadata"]["note"] == "tab\tnew\nline"
    assert stored["c-emoji"]["name"] == "Acme \U0001f600 株式会社"
    assert len([r for r in sandbox.stripe_requests if r.method == "POST"]) == 3


def test_amounts_stripe_cannot_hold_are_refused_with_the_parameter(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    [product] = connector.write(WriteSpec("products", "external_id"), [{"external_id": "p"}])
    price = {"product": product.target_id, "currency": "USD"}
    records = [
        {"external_id": "huge", **price, "unit_amount": Decimal("1" + "0" * 39)},
        {"external_id": "nan", **price, "unit_amount": Decimal("NaN")},
        {"external_id": "fine", **price, "unit_amount": Decimal("999999.99")},
    ]

    results = connector.write(PRICES, records)

    assert [(r.outcome, r.error_code, r.error_fields) for r in results] == [
        (WriteOutcome.REJECTED, "amount_too_large", ("unit_amount",)),
        (WriteOutcome.REJECTED, "amount_invalid", ("unit_amount",)),
        (WriteOutcome.CREATED, "", ()),
    ]
    assert "at most eight digits" in results[0].error_message
    assert [p["unit_amount"] for p in sandbox.stripe_objects("prices")] == [99999999]


def test_an_order_with_one_hostile_line_is_refused_before_any_part_is_written(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    [customer] = connector.write(CUSTOMERS, [_customer("acc-1")])
    [product] = connector.write(WriteSpec("products", "external_id"), [{"external_id": "p"}])
    yearly = {"product": product.target_id, "unit_amount": 100, "recurring": {"interval": "year"}}
    once = {"product": product.target_id, "unit_amount": 100}
    order = {
        "external_id": "ord-1",
        "customer": customer.target_id,
        "currency": "USD",
        "lines": [
            {"external_id": "l-1", **yearly},
            {"external_id": "l-2", **once, "description": "Setup \x07 bell"},
        ],
    }
    fine = {**order, "external_id": "ord-2", "lines": [{"external_id": "l-3", **yearly}]}

    [refused, landed] = connector.write(ORDERS, [order, fine])

    assert refused.outcome is WriteOutcome.REJECTED
    assert refused.error_fields == ("lines[1].description",)
    assert "control character U+0007 at position 7" in refused.error_message
    assert landed.outcome is WriteOutcome.CREATED
    [subscription] = sandbox.stripe_objects("subscriptions")  # ord-1 wrote no subscription
    assert subscription["metadata"]["revbridge_id"] == "ord-2"
    assert sandbox.stripe_objects("invoiceitems") == []


def test_the_sandbox_refuses_what_stripe_refuses_when_a_client_sends_it(
    sandbox: BillingSandbox,
) -> None:
    auth = (sandbox.api_key, "")
    url = f"{sandbox.stripe_url}/v1/customers"
    long_value = requests.post(url, data={"metadata[notes]": "x" * 501}, auth=auth, timeout=10)
    long_name = requests.post(url, data={"name": "N" * 257}, auth=auth, timeout=10)

    assert long_value.status_code == long_name.status_code == 400
    assert "Metadata values can have up to 500 characters" in long_value.json()["error"]["message"]
    assert long_name.json()["error"]["param"] == "name"


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SIZE) as running:
        current_orders(running)
        yield running


def test_in_a_run_hostile_accounts_are_queued_with_a_reason_and_the_rest_land(
    sandboxes: Sandboxes, database_url: str, mappings_dir: Path
) -> None:
    salesforce = sandboxes.salesforce
    accounts = salesforce.records("Account")
    salesforce.update_record("Account", accounts[0]["Id"], {"Phone": "+1 (555) 010-0000 x1234"})
    salesforce.update_record("Account", accounts[1]["Id"], {"Name": MARKUP})
    flow = StripeFlow(sandboxes, database_url, mappings_dir, "auto")
    try:
        summary = flow.run()
        with flow.store.engine.connect() as connection:
            errors = list_errors(connection, entity="account")
    finally:
        flow.store.close()

    assert summary.rejected >= 1
    [queued] = [e for e in errors if e.source_id == accounts[0]["Id"]]
    assert queued.target_system == "billing"
    assert "phone is 23 characters; Stripe allows 20" in queued.message
    names = [c["name"] for c in sandboxes.billing.stripe_objects("customers")]
    assert MARKUP in names
    assert len(names) == SIZE.accounts - 1
