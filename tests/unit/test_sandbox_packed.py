"""What the sandboxes keep packed: query snapshots (pages read what the query saw, at any
offset) and stored records (each read a copy)."""

from __future__ import annotations

from typing import Any

from sandboxes.packed import PackedRecords
from sandboxes.salesforce.locators import PackedRows, QueryLocators, in_batches
from sandboxes.salesforce.org import SandboxOrg

VERSION = "60.0"


def _org() -> SandboxOrg:
    return SandboxOrg(
        page_size=2000, daily_api_limit=10**6, accounts=5, orders=40, products=4,
        invalid_records=False,
    )  # fmt: skip


def _page_at(org: SandboxOrg, page: dict[str, Any], offset: int) -> dict[str, Any]:
    """The page at ``offset`` of the query ``page`` came from."""
    locator = page["nextRecordsUrl"].rsplit("/", 1)[1].partition("-")[0]
    answer: dict[str, Any] = org.query_more(f"{locator}-{offset}", VERSION)
    return answer


def test_later_pages_show_records_as_they_were_when_the_query_ran() -> None:
    org = _org()
    query = "SELECT Id, Status FROM Order ORDER BY Id"
    first = org.run_query(query, False, 10, VERSION)
    ids = sorted(org.records["Order"])
    offset = next(
        i for i in range(10, len(ids)) if org.records["Order"][ids[i]]["Status"] != "Draft"
    )
    before = org.records["Order"][ids[offset]]["Status"]
    org.update_record("Order", ids[offset], {"Status": "Draft"})
    seen = _page_at(org, first, offset)["records"][0]
    assert (seen["Id"], seen["Status"]) == (ids[offset], before)
    rerun = _page_at(org, org.run_query(query, False, 10, VERSION), offset)["records"][0]
    assert (rerun["Id"], rerun["Status"]) == (ids[offset], "Draft")


def test_records_created_after_a_query_stay_out_of_its_later_pages() -> None:
    org = _org()
    query = "SELECT Id, Name FROM Account ORDER BY Id"
    first = org.run_query(query, False, 2, VERSION)
    new = {"attributes": {"type": "Account"}, "Revbridge_Id__c": "rb-new", "Name": "New Co"}
    assert org.upsert_collection("Account", "Revbridge_Id__c", {"records": [new]})[0]["success"]
    total = first["totalSize"]
    assert _page_at(org, first, total - 1)["records"][-1]["Name"] != "New Co"
    again = org.run_query(query, False, 2, VERSION)
    assert again["totalSize"] == total + 1
    assert _page_at(org, again, total)["records"][-1]["Name"] == "New Co"


def test_a_query_shapes_only_the_pages_read_until_records_change() -> None:
    org = _org()
    org.run_query("SELECT Id FROM OrderItem", False, 10, VERSION)
    (snapshot,) = org._unfrozen
    assert not snapshot.frozen
    org.delete_record("Order", sorted(org.records["Order"])[0])
    assert snapshot.frozen
    assert not org._unfrozen


def test_a_page_may_start_between_stored_batches() -> None:
    locators = QueryLocators()
    rows = [{"n": n} for n in range(25)]
    locator = locators.open(PackedRows(in_batches(rows, 10), 10, len(rows)))
    page = locators.batch(locator, 7, VERSION)
    assert page["records"] == rows[7:17]
    assert page["nextRecordsUrl"].endswith(f"{locator}-17")
    last = locators.batch(locator, 17, VERSION)
    assert (last["records"], last["done"], last["totalSize"]) == (rows[17:], True, 25)


def test_an_empty_result_is_one_done_page() -> None:
    locators = QueryLocators()
    page = locators.batch(locators.open(PackedRows(in_batches([], 10), 10, 0)), 0, VERSION)
    assert page == {"totalSize": 0, "done": True, "records": []}


def test_packed_records_hand_out_copies_and_compare_like_a_dict() -> None:
    records: PackedRecords[tuple[str, str]] = PackedRecords()
    records[("Customer", "c1")] = {"companyName": "Acme", "lines": [{"n": 1}]}
    copy = records[("Customer", "c1")]
    copy["companyName"] = "edited by the caller"
    assert records == {("Customer", "c1"): {"companyName": "Acme", "lines": [{"n": 1}]}}
    del records[("Customer", "c1")]
    assert (len(records), ("Customer", "c1") in records, records.get(("Customer", "c1"))) == (
        0, False, None,
    )  # fmt: skip
