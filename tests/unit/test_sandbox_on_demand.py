"""The Salesforce sandbox regenerates its seeded orders on demand and keeps only what is written.

The reference is eager seeding (``seed_org`` + ``seed_cpq_records``), which held every record:
regenerated records must be the same records, in the same order, with the same clock and ids
after seeding, so every other test's data is unchanged.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from sandboxes.salesforce.cpq_records import seed_cpq_records
from sandboxes.salesforce.cpq_seed import IdFactory, LogicalClock, salesforce_id, seed_org
from sandboxes.salesforce.on_demand import BLOCK, CACHED_BLOCKS, PER_ORDER, OnDemandRecords
from sandboxes.salesforce.org import SandboxOrg
from sandboxes.salesforce.writes import SandboxError

SIZES: list[dict[str, Any]] = [
    # more than CACHED_BLOCKS blocks, the last one short, with the invalid records
    {"accounts": 40, "orders": BLOCK * (CACHED_BLOCKS + 2) + 17, "products": 6,
     "invalid_records": True, "seed": 7},
    {"accounts": 3, "orders": BLOCK - 1, "products": 1, "invalid_records": False, "seed": 3},
]  # fmt: skip


def _eager(cpq: bool, **size: Any) -> tuple[dict[str, dict[str, Any]], dict[str, str], str]:
    clock, ids = LogicalClock(), IdFactory()
    data = seed_org(clock=clock, ids=ids, **size)
    if cpq:
        rng = random.Random(size["seed"] + 1)
        seed_cpq_records(data.records, rng, clock, ids, data.invalid_record_ids)
    return data.records, data.invalid_record_ids, clock.now()


def _org(*, cpq: bool = True, packed_budget_mb: int = 0, **size: Any) -> SandboxOrg:
    """An org that regenerates every block it reads (nothing kept packed), unless asked."""
    return SandboxOrg(page_size=2000, daily_api_limit=10**6, cpq=cpq,
                      packed_budget_mb=packed_budget_mb, **size)  # fmt: skip


def _order_records(org: SandboxOrg, name: str) -> OnDemandRecords:
    records = org.records[name]
    assert isinstance(records, OnDemandRecords)
    return records


@pytest.mark.parametrize("packed_budget_mb", [0, 64])
@pytest.mark.parametrize("cpq", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_regenerated_records_are_the_eagerly_seeded_ones(
    cpq: bool, size: dict[str, Any], packed_budget_mb: int
) -> None:
    expected, invalid, now = _eager(cpq, **size)
    org = _org(cpq=cpq, packed_budget_mb=packed_budget_mb, **size)
    assert org.invalid_record_ids == invalid
    assert org.clock.now() == now  # records written later get the same stamps as before
    for name, records in expected.items():
        assert [dict(r) for r in org.records_of(name)] == list(records.values()), name
        assert len(org.records[name]) == len(records)
        for record_id, record in list(records.items())[::5]:
            assert org.record(name, record_id) == record
    assert sum(_order_records(org, name).kept for name in PER_ORDER) == 0


def test_a_record_is_the_same_whichever_block_was_regenerated_before() -> None:
    org = _org(**SIZES[0])
    items = list(org.records_of("OrderItem"))
    last, first = items[-1], items[0]
    # The last block is cached now; the first one is regenerated from its checkpoint.
    assert org.record("OrderItem", first["Id"]) == first
    assert org.record("OrderItem", last["Id"]) == last
    assert _org(**SIZES[0]).record("OrderItem", last["Id"]) == last


def test_queries_read_every_seeded_record_and_keep_none() -> None:
    org = _org(**SIZES[0])
    query = (
        "SELECT Id, Account.Name, (SELECT Id, Quantity FROM OrderItems) FROM Order "
        "ORDER BY SystemModstamp, Id"
    )
    page = org.run_query(query, True, 500, "62.0")
    rows = list(page["records"])
    while not page["done"]:
        page = org.query_more(page["nextRecordsUrl"].rsplit("/", 1)[1], "62.0")
        rows += page["records"]
    orders = list(org.records_of("Order"))
    assert [r["Id"] for r in rows] == [o["Id"] for o in orders]
    items = {i["Id"]: i["OrderId"] for i in org.records_of("OrderItem")}
    shaped_items = {i["Id"]: r["Id"] for r in rows for i in r["OrderItems"]["records"]}
    assert shaped_items == items
    assert all(r["Account"]["Name"] for r in rows)
    assert sum(_order_records(org, name).kept for name in PER_ORDER) == 0


def test_an_edit_is_kept_and_seen_by_later_queries_but_not_by_an_earlier_snapshot() -> None:
    org = _org(**SIZES[0])
    order = next(o for o in org.records_of("Order") if o["Status"] == "Draft")
    before = org.run_query("SELECT Id, Revbridge_Id__c FROM Order", False, 200, "62.0")
    org.update_record("Order", order["Id"], {"Revbridge_Id__c": "<b>edited</b>\x00"})
    assert _order_records(org, "Order").kept == 1
    changed = org.run_query(
        f"SELECT Id, Revbridge_Id__c, SystemModstamp FROM Order WHERE Id = '{order['Id']}'",
        False, 10, "62.0",
    )["records"]  # fmt: skip
    assert [r["Revbridge_Id__c"] for r in changed] == ["<b>edited</b>\x00"]
    assert changed[0]["SystemModstamp"] > order["SystemModstamp"]
    # The first query's later pages still show the org as it was when it ran.
    rest = org.query_more(before["nextRecordsUrl"].rsplit("/", 1)[1], "62.0")["records"]
    snapshot = {r["Id"]: r["Revbridge_Id__c"] for r in before["records"] + rest}
    assert snapshot.get(order["Id"]) is None


def test_deleting_an_order_takes_its_items_to_the_bin_and_emptying_it_forgets_them() -> None:
    org = _org(**SIZES[0])
    order = list(org.records_of("Order"))[BLOCK + 3]
    item_ids = {i["Id"] for i in org.records_of("OrderItem") if i["OrderId"] == order["Id"]}
    org.delete_record("Order", order["Id"])
    everything = "SELECT Id, IsDeleted FROM OrderItem"
    deleted = {r["Id"] for r in org.run_query(everything, True, 10**5, "62.0")["records"]
               if r["IsDeleted"]}  # fmt: skip
    assert deleted == item_ids
    count = len(org.records["OrderItem"])
    org.empty_recycle_bin()
    assert len(org.records["OrderItem"]) == count - len(item_ids)
    assert all(org.record("OrderItem", i) is None for i in item_ids)
    with pytest.raises(SandboxError):
        org.get_record("Order", order["Id"])


def test_created_records_come_after_the_seeded_ones_and_are_found_by_id() -> None:
    org = _org(**SIZES[1])
    account = next(iter(org.records_of("Account")))
    body = {"allOrNone": False, "records": [{
        "attributes": {"type": "Contract"}, "AccountId": account["Id"], "StartDate": "2026-01-01",
        "ContractTerm": 12, "Status": "Draft", "Revbridge_Id__c": "rb-created"}]}  # fmt: skip
    [result] = org.upsert_collection("Contract", "Revbridge_Id__c", body)
    assert result["success"], result
    contracts = list(org.records_of("Contract"))
    assert contracts[-1]["Id"] == result["id"]
    assert len(org.records["Contract"]) == len(contracts)
    assert org.record("Contract", result["id"])["Revbridge_Id__c"] == "rb-created"  # type: ignore[index]


@pytest.mark.parametrize(
    "record_id",
    [
        "",
        "801",
        "8015g0000000001XXX",  # a seeded number with the wrong case-safe suffix
        salesforce_id("801", 10**9),  # past the last seeded order
        salesforce_id("802", 1)[:15],  # the 15-character form is not the stored id
        "801\x005g00000000001AAA",
        "<script>alert(1)</script>",
    ],
)
def test_ids_that_only_look_seeded_find_nothing(record_id: str) -> None:
    org = _org(**SIZES[1])
    assert org.record("Order", record_id) is None
    assert record_id not in org.records["Order"]
    with pytest.raises(SandboxError):
        org.get_record("Order", record_id)
    named = org.run_query(
        "SELECT Id FROM Order WHERE Id IN ('8015g0000000001XXX', 'nothing')", False, 10, "62.0"
    )
    assert named["records"] == []


def test_a_query_naming_ids_returns_each_once_in_creation_order() -> None:
    org = _org(**SIZES[0])
    orders = list(org.records_of("Order"))
    wanted = [orders[900]["Id"], orders[3]["Id"], orders[900]["Id"], "8015gXXXXXXXXXXAAA"]
    text = "SELECT Id FROM Order WHERE id IN ('" + "', '".join(wanted) + "')"
    rows = org.run_query(text, False, 10, "62.0")["records"]
    assert [r["Id"] for r in rows] == [orders[3]["Id"], orders[900]["Id"]]


def test_an_upsert_by_external_id_changes_the_seeded_record_in_place() -> None:
    org = _org(**SIZES[0])
    order = list(org.records_of("Order"))[-5]
    org.update_record("Order", order["Id"], {"Revbridge_Id__c": "rb-order"})
    body = {"records": [{"attributes": {"type": "Order"}, "Revbridge_Id__c": "rb-order",
                         "EndDate": "2031-12-31"}]}  # fmt: skip
    [result] = org.upsert_collection("Order", "Revbridge_Id__c", body)
    assert result == {"id": order["Id"], "success": True, "errors": [], "created": False}
    stored = org.record("Order", order["Id"])
    assert stored is not None
    assert (stored["Revbridge_Id__c"], stored["EndDate"]) == ("rb-order", "2031-12-31")
    assert stored["TotalAmount"] == order["TotalAmount"]  # its items rolled up again
    assert len(org.records["Order"]) == SIZES[0]["orders"]
    assert _order_records(org, "Order").kept == 1
