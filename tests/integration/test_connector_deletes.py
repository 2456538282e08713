"""Each connector's delete over loopback, with the real clients (requests, zeep, simple-salesforce).

Deleted and already-gone records succeed; a record the system refuses to delete is a
per-record rejection carrying the system's code, and the rest of the batch proceeds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from config.settings import BillingSettings, RetrySettings
from connectors.base import DeleteOutcome, WriteSpec
from connectors.billing.connector import BillingConnector
from connectors.erp.connector import ErpConnector
from connectors.errors import ConfigError
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.erp.sandbox import ErpSandbox
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import erp_settings, salesforce_settings

DELETED, GONE, REJECTED = (
    DeleteOutcome.DELETED,
    DeleteOutcome.ALREADY_DELETED,
    DeleteOutcome.REJECTED,
)
RETRY = RetrySettings(attempts=2, max_wait_seconds=1.0)


@pytest.fixture(scope="module")
def billing() -> Iterator[BillingSandbox]:
    with BillingSandbox() as running:
        yield running


def _billing_connector(sandbox: BillingSandbox, **settings: Any) -> BillingConnector:
    options = {"base_url": sandbox.url, "api_key": SecretStr(sandbox.api_key), **settings}
    return BillingConnector(BillingSettings(**options), RETRY, wait=lambda _: None)


def test_billing_deletes_by_external_id_and_refuses_a_customer_orders_still_use(
    billing: BillingSandbox,
) -> None:
    billing.reset()
    connector = _billing_connector(billing)
    customers = WriteSpec("customers", "external_id")
    written = connector.write(customers, [
        {"external_id": f"acc-{n}", "name": f"Acme {n}", "currency": "USD"} for n in (1, 2)
    ])  # fmt: skip
    ids = {result.external_id: str(result.target_id) for result in written}
    connector.write(WriteSpec("orders", "external_id"), [{
        "external_id": "ord-1", "customer": ids["acc-2"], "currency": "USD",
        "effective_date": "2026-01-05", "total": "10.00",
    }])  # fmt: skip
    spec = WriteSpec("customers", "external_id", {**ids, "acc-9": "cus_gone"})

    results = connector.delete(spec, [ids["acc-1"], "cus_gone", ids["acc-2"]])

    assert [r.outcome for r in results] == [DELETED, GONE, REJECTED]
    assert results[2].error_code == "resource_in_use"
    assert "ord_" in results[2].error_message
    assert {row["external_id"] for row in billing.resources("customers")} == {"acc-2"}
    connector.close()


def test_stripe_deletes_customers_and_refuses_a_product_with_prices(
    billing: BillingSandbox, reference_dir: Path
) -> None:
    billing.reset()
    connector = _billing_connector(billing, base_url=billing.stripe_url, profile="stripe")
    [customer] = connector.write(WriteSpec("customers", "external_id"),
                                 [{"external_id": "acc-1", "name": "Acme"}])  # fmt: skip
    [product] = connector.write(WriteSpec("products", "external_id"),
                                [{"external_id": "prod-1", "name": "Platform"}])  # fmt: skip
    connector.write(WriteSpec("prices", "external_id"), [{
        "external_id": "price-1", "product": product.target_id, "currency": "EUR",
        "unit_amount": Decimal("9.50"),
    }])  # fmt: skip

    gone = connector.delete(WriteSpec("customers", "external_id"), [str(customer.target_id)] * 2)
    [kept] = connector.delete(WriteSpec("products", "external_id"), [str(product.target_id)])

    assert [r.outcome for r in gone] == [DELETED, GONE]
    assert (kept.outcome, kept.error_code) == (REJECTED, "resource_in_use")
    assert billing.stripe_objects("customers") == []
    spec = json.loads((reference_dir / "stripe-openapi" / "spec3.json").read_text())
    deletes = {(r.method, r.path) for r in billing.stripe_requests if r.method == "DELETE"}
    for _, path in deletes:  # every DELETE sent is one Stripe's API has
        template = "/v1/customers/{customer}" if "cus_" in path else "/v1/products/{id}"
        assert "delete" in spec["paths"][template]
    with pytest.raises(ConfigError, match=r"Stripe cannot delete prices; .* deactivate"):
        connector.delete(WriteSpec("prices", "external_id"), ["price_1"])
    connector.close()


def test_erp_delete_list_deletes_by_internal_id_and_keeps_a_customer_with_orders() -> None:
    with ErpSandbox() as sandbox:
        connector = ErpConnector(erp_settings(sandbox), RETRY, wsdl_cache=None)
        written = connector.write(WriteSpec("Customer", "externalId"), [
            {"externalId": f"acc-{n}", "companyName": f"Acme {n}"} for n in (1, 2)
        ])  # fmt: skip
        connector.write(WriteSpec("SalesOrder", "externalId"), [
            {"externalId": "ord-1", "entity": {"externalId": "acc-2"}, "tranDate": "2026-01-05"}
        ])  # fmt: skip
        ids = [str(result.target_id) for result in written]

        results = connector.delete(WriteSpec("Customer", "externalId"), [ids[0], "99999", ids[1]])

        assert [r.outcome for r in results] == [DELETED, GONE, REJECTED]
        assert results[2].error_code == "USER_ERROR"
        assert "dependent records" in results[2].error_message
        assert set(sandbox.records) == {("Customer", "acc-2"), ("SalesOrder", "ord-1")}
        assert sandbox.operations["deleteList"] == 1
        connector.close()


def test_erp_deletes_custom_records_by_custom_record_ref_of_their_type() -> None:
    with ErpSandbox() as sandbox:
        connector = ErpConnector(erp_settings(sandbox), RETRY, wsdl_cache=None)
        contracts = WriteSpec("customrecord_rb_contract", "externalId")
        prices = WriteSpec("customrecord_rb_price", "externalId")
        written = connector.write(contracts, [
            {"externalId": f"con-{n}", "name": f"C-{n}"} for n in (1, 2)
        ])  # fmt: skip
        [price] = connector.write(prices, [{"externalId": "price-1", "name": "Standard"}])
        ids = [str(result.target_id) for result in written]

        # A price's internal id named as a contract is no contract: NetSuite finds none.
        results = connector.delete(contracts, [ids[0], str(price.target_id)])

        assert [r.outcome for r in results] == [DELETED, GONE]
        assert set(sandbox.records) == {("CustomRecord", "con-2"), ("CustomRecord", "price-1")}
        connector.close()


def test_erp_deletes_go_in_batches_of_batch_size() -> None:
    with ErpSandbox() as sandbox:
        connector = ErpConnector(erp_settings(sandbox, batch_size=2), RETRY, wsdl_cache=None)
        written = connector.write(WriteSpec("Customer", "externalId"), [
            {"externalId": f"acc-{n}", "companyName": f"Acme {n}"} for n in range(5)
        ])  # fmt: skip

        results = connector.delete(
            WriteSpec("Customer", "externalId"), [str(r.target_id) for r in written]
        )

        assert [r.outcome for r in results] == [DELETED] * 5
        assert sandbox.operations["deleteList"] == 3
        assert sandbox.records == {}
        connector.close()


def test_salesforce_deletes_into_the_recycle_bin_where_query_all_sees_them() -> None:
    with SalesforceSandbox() as sandbox:
        connector = SalesforceConnector(salesforce_settings(sandbox), RETRY)
        orders = [o for o in sandbox.records("Order") if not o["IsDeleted"]]
        account_in_use = orders[0]["AccountId"]
        ids = [o["Id"] for o in orders[:2]]

        results = connector.delete(
            WriteSpec("Order", "Id"), [*ids, ids[0], "801000000000zzzAAA", account_in_use]
        )

        assert [r.outcome for r in results] == [DELETED, DELETED, GONE, GONE, REJECTED]
        assert results[4].error_code == "DELETE_FAILED"
        deleted = {o["Id"]: o["IsDeleted"] for o in sandbox.records("Order") if o["Id"] in ids}
        assert deleted == dict.fromkeys(ids, True)
        connector.close()


def test_salesforce_sends_at_most_200_ids_a_call() -> None:
    with SalesforceSandbox() as sandbox:
        connector = SalesforceConnector(salesforce_settings(sandbox), RETRY)
        unknown = [f"801000000{n:06d}AAA" for n in range(201)]
        calls_before = sandbox.api_calls

        results = connector.delete(WriteSpec("Order", "Id"), unknown)

        assert [r.outcome for r in results] == [GONE] * 201
        # Two delete calls, plus the login's first data call at most.
        assert 2 <= sandbox.api_calls - calls_before <= 3
        connector.close()
