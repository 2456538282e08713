"""The ERP as a source: search + searchMoreWithId by cursor, getList, getDeleted, over zeep."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from zeep.xsd.valueobjects import CompoundValue

from config.settings import RetrySettings
from connectors.base import Cursor, Page, ReadSpec, WriteSpec
from connectors.erp.connector import ErpConnector
from connectors.errors import TransientError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings
from tests.integration.cpq_harness import START, TickingClock

CUSTOMERS = ReadSpec("Customer", ("companyName",), key_field="internalId")
INVOICES = ReadSpec("Invoice", ("tranId",), key_field="internalId")
PAYMENTS = ReadSpec("CustomerPayment", ("tranId",), key_field="internalId")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox(clock=TickingClock()) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def connector(sandbox: ErpSandbox) -> Iterator[ErpConnector]:
    settings = erp_settings(sandbox, search_page_size=5, get_batch_size=2)
    erp = ErpConnector(settings, RetrySettings(attempts=3), wsdl_cache=None, sleep=lambda _: None)
    yield erp
    erp.close()


def _customers(connector: ErpConnector, count: int, name: str = "Customer") -> list[str]:
    payloads = [{"externalId": f"c{n}", "companyName": f"{name} {n}"} for n in range(count)]
    results = connector.write(WriteSpec("Customer", "externalId"), payloads)
    return [str(result.target_id) for result in results]


def _invoice(external_id: str, customer: str, lines: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "entity": {"externalId": customer},
        "tranDate": "2026-03-01",
        "total": "300.00",
        "itemList": {
            "item": [
                {"item": {"externalId": item}, "quantity": "1", "amount": amount}
                for item, amount in lines
            ]
        },
    }


def _ids(pages: list[Page]) -> list[str]:
    return [record["internalId"] for page in pages for record in page.records]


def test_a_first_read_pages_through_every_record_oldest_first(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    ids = _customers(connector, 12)
    # Touch the oldest record, so lastModifiedDate order differs from internalId order.
    connector.write(WriteSpec("Customer", "externalId"), [{"externalId": "c0", "companyName": "X"}])

    pages = list(connector.read(CUSTOMERS, None))

    assert sorted(_ids(pages)) == sorted(ids)
    assert len(_ids(pages)) == len(ids)
    for page in pages:
        stamps = [(r["lastModifiedDate"], int(r["internalId"])) for r in page.records]
        assert stamps == sorted(stamps)
    assert sandbox.operations["search"] == 1
    assert sandbox.operations["searchMoreWithId"] == 2
    assert [page.cursor for page in pages[:-1]] == [None, None]
    touched = next(r for page in pages for r in page.records if r["internalId"] == ids[0])
    assert pages[-1].cursor == Cursor(touched["lastModifiedDate"], ids[0])
    assert touched["companyName"] == "X"


def _zeep_customers_alive() -> int:
    gc.collect()
    return sum(
        1
        for o in gc.get_objects()
        if isinstance(o, CompoundValue) and type(o).__name__ == "Customer"
    )


def test_a_page_in_hand_holds_no_zeep_objects_of_any_search_page(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    # A 1,000-record page of wide records as zeep objects is large: each search page is turned
    # into plain records and dropped before the engine sees it, not kept beside it.
    _customers(connector, 12)
    alive: list[int] = []

    for page in connector.read(CUSTOMERS, None):
        assert page.records
        alive.append(_zeep_customers_alive())

    assert alive == [0, 0, 0]


def test_records_come_back_sorted_within_a_page_even_when_netsuite_lists_them_by_id(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    ids = _customers(connector, 3)
    connector.write(WriteSpec("Customer", "externalId"), [{"externalId": "c1", "companyName": "Y"}])

    (page,) = list(connector.read(CUSTOMERS, None))

    assert [record["internalId"] for record in page.records] == [ids[0], ids[2], ids[1]]


def test_a_read_from_a_cursor_returns_only_later_changes(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    _customers(connector, 4)
    cursor = list(connector.read(CUSTOMERS, None))[-1].cursor
    assert cursor is not None
    connector.write(WriteSpec("Customer", "externalId"), [{"externalId": "c2", "companyName": "Z"}])

    pages = list(connector.read(CUSTOMERS, cursor))

    assert [record["companyName"] for page in pages for record in page.records] == ["Z"]
    assert pages[-1].cursor is not None
    assert pages[-1].cursor.modified > cursor.modified


def test_nothing_changed_since_the_cursor_yields_no_page(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    _customers(connector, 2)
    cursor = list(connector.read(CUSTOMERS, None))[-1].cursor

    assert list(connector.read(CUSTOMERS, cursor)) == []


def test_invoices_and_payments_are_read_with_their_lines(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    _customers(connector, 1)
    connector.write(
        WriteSpec("ServiceSaleItem", "externalId"), [{"externalId": "p1", "itemId": "P1"}]
    )
    connector.write(
        WriteSpec("InventoryItem", "externalId"),
        [{"externalId": "p2", "itemId": "P2", "cost": "4"}],
    )
    connector.write(
        WriteSpec("Invoice", "externalId"),
        [_invoice("inv-1", "c0", [("p1", "100.00"), ("p2", "200.00")])],
    )
    payment = {
        "externalId": "pay-1",
        "customer": {"externalId": "c0"},
        "payment": "300.00",
        "applyList": {"apply": [{"apply": True, "doc": 1003, "amount": "300.00"}]},
    }
    connector.write(WriteSpec("CustomerPayment", "externalId"), [payment])

    (invoice,) = [r for page in connector.read(INVOICES, None) for r in page.records]
    (paid,) = [r for page in connector.read(PAYMENTS, None) for r in page.records]

    amounts = [Decimal(line["amount"]) for line in invoice["itemList"]["item"]]
    assert amounts == [Decimal("100.00"), Decimal("200.00")]
    assert invoice["entity"]["externalId"] == "c0"
    assert invoice["externalId"] == "inv-1"
    assert paid["applyList"]["apply"][0] == {"apply": True, "doc": 1003, "amount": "300.0"}
    assert Decimal(paid["payment"]) == Decimal("300.00")


def test_a_dropped_connection_while_paging_is_retried_and_the_read_completes(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    ids = _customers(connector, 7)
    # getServerTime, search, then the searchMoreWithId call loses its connection once.
    sandbox.script_faults([None, None, "drop"])

    pages = list(connector.read(CUSTOMERS, None))

    assert _ids(pages) == ids
    assert sandbox.operations["searchMoreWithId"] == 1


def test_fetch_uses_get_list_in_batches_and_leaves_out_missing_records(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    ids = _customers(connector, 3)

    found = connector.fetch(CUSTOMERS, [ids[2], "999999", ids[0]])

    assert [record["internalId"] for record in found] == [ids[2], ids[0]]
    assert found[0]["companyName"] == "Customer 2"
    assert sandbox.operations["getList"] == 2


def test_deleted_records_are_reported_by_get_deleted(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    ids = _customers(connector, 3)
    sandbox.delete("Customer", "c1")
    cutoff = dt.datetime.fromtimestamp(START + 1000, dt.UTC)

    deleted = list(connector.deleted(CUSTOMERS, None))
    none_after_cutoff = list(connector.deleted(CUSTOMERS, cutoff))

    assert [(d.internal_id, d.external_id) for d in deleted] == [(ids[1], "c1")]
    assert none_after_cutoff == []
    assert connector.fetch(CUSTOMERS, [ids[1]]) == []


def test_a_search_that_keeps_failing_raises_transient_error(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    _customers(connector, 1)
    sandbox.inject_fault("http_503", times=5)

    with pytest.raises(TransientError):
        list(connector.read(CUSTOMERS, None))


def test_contacts_estimates_and_credit_memos_are_searched_fetched_and_reported_deleted(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    _customers(connector, 1)
    connector.write(
        WriteSpec("ServiceSaleItem", "externalId"), [{"externalId": "p1", "itemId": "P1"}]
    )
    contact = {"externalId": "k1", "entityId": "Ada L", "company": {"externalId": "c0"}}
    (contact_id,) = [
        r.target_id
        for r in connector.write(WriteSpec("Contact", "externalId"), [contact | {"lastName": "L"}])
    ]
    estimate = _invoice("q1", "c0", [("p1", "10.00"), ("p1", "20.00")])
    connector.write(WriteSpec("Estimate", "externalId"), [estimate])
    memo = {"externalId": "cm1", "entity": {"externalId": "c0"}, "total": "5.00", "memo": "x"}
    connector.write(WriteSpec("CreditMemo", "externalId"), [memo])

    (searched_memo,) = [
        r for p in connector.read(ReadSpec("CreditMemo", ()), None) for r in p.records
    ]
    (searched_estimate,) = [
        r for p in connector.read(ReadSpec("Estimate", ()), None) for r in p.records
    ]
    (fetched_contact,) = connector.fetch(ReadSpec("Contact", ()), [str(contact_id)])
    sandbox.delete("CreditMemo", "cm1")
    deleted = list(connector.deleted(ReadSpec("CreditMemo", ()), None))

    assert (searched_memo["externalId"], searched_memo["memo"]) == ("cm1", "x")
    assert [line["line"] for line in searched_estimate["itemList"]["item"]] == [1, 2]
    assert fetched_contact["company"] == {"externalId": "c0"}
    assert fetched_contact["dateCreated"] == fetched_contact["lastModifiedDate"]
    assert [(d.internal_id, d.external_id) for d in deleted] == [
        (searched_memo["internalId"], "cm1")
    ]
