"""Basic searches in the ERP sandbox: parse a ``*SearchBasic`` record, keep paged results.

A search snapshots the matching records' keys and hands out a ``searchId``; ``searchMoreWithId``
then serves any page of that snapshot, as NetSuite does, until the id is forgotten.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.render import XSI, SoapFault
from sandboxes.erp.store import ErpStore

# *SearchBasic type -> record types it finds, keyed by the value of its ``type`` filter.
SEARCH_TYPES: dict[str, dict[str | None, tuple[str, ...]]] = {
    "CustomerSearchBasic": {None: ("Customer",)},
    "ItemSearchBasic": {
        None: ("ServiceSaleItem", "InventoryItem"),
        "_service": ("ServiceSaleItem",),
        "_inventoryItem": ("InventoryItem",),
    },
    "TransactionSearchBasic": {
        None: ("SalesOrder", "Invoice", "CustomerPayment", "Estimate", "CreditMemo"),
        "_salesOrder": ("SalesOrder",),
        "_invoice": ("Invoice",),
        "_customerPayment": ("CustomerPayment",),
        "_estimate": ("Estimate",),
        "_creditMemo": ("CreditMemo",),
    },
    "ContactSearchBasic": {None: ("Contact",)},
}
DEFAULT_PAGE_SIZE = 1000
Keep = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class SearchPage:
    """One page of a search: the records on it and where it sits."""

    search_id: str
    page_index: int
    total_pages: int
    total_records: int
    page_size: int
    records: list[tuple[str, dict[str, Any]]]


def parse_search(search_record: etree._Element) -> tuple[tuple[str, ...], Keep]:
    """The record types a search looks in and the test each record must pass."""
    _, _, search_type = (search_record.get(f"{{{XSI}}}type") or "").rpartition(":")
    kinds = SEARCH_TYPES.get(search_type)
    if kinds is None:
        raise SoapFault(None, "INVALID_SEARCH", f"Unsupported search type {search_type!r}.")
    tests: list[Keep] = []
    record_types = kinds[None]
    for field in search_record:
        name = etree.QName(field).localname
        if name == "type":
            values = [value.text for value in field]
            record_types = tuple(t for v in values for t in kinds.get(v, ()))
        elif name == "lastModifiedDate":
            modified = date_test(field)
            tests.append(lambda record, test=modified: test(instant(record["lastModifiedDate"])))  # type: ignore[misc]
        elif name in {"internalId", "externalId"}:
            wanted = {ref.get(name) for ref in field}
            tests.append(lambda record, n=name, w=wanted: record.get(n) in w)  # type: ignore[misc]
    return record_types, lambda record: all(test(record) for test in tests)


def date_test(field: etree._Element) -> Callable[[dt.datetime], bool]:
    """The test a ``SearchDateField`` (operator + searchValue[2]) puts on one instant."""
    operator = field.get("operator", "")
    values = [instant(child.text or "") for child in field if "searchValue" in child.tag]
    if not values:
        raise SoapFault(None, "INVALID_SEARCH", "A date filter needs a searchValue.")
    first = values[0]
    tests: dict[str, Callable[[dt.datetime], bool]] = {
        "after": lambda moment: moment > first,
        "before": lambda moment: moment < first,
        "on": lambda moment: moment == first,
        "onOrAfter": lambda moment: moment >= first,
        "onOrBefore": lambda moment: moment <= first,
        "within": lambda moment: first <= moment <= values[-1],
    }
    if operator not in tests:
        raise SoapFault(None, "INVALID_SEARCH_OPERATOR", f"Unsupported operator {operator!r}.")
    return tests[operator]


def instant(text: str) -> dt.datetime:
    """A SOAP dateTime as an aware datetime (UTC when it names no zone)."""
    moment = dt.datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class SearchSessions:
    """Searches by id: the snapshot of keys each found, served a page at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._searches: dict[str, tuple[list[tuple[str, str]], int]] = {}

    def start(self, store: ErpStore, search_record: etree._Element, page_size: int) -> SearchPage:
        """Run a search and return its first page."""
        record_types, keep = parse_search(search_record)
        found = store.matching(record_types, keep)
        keys = [(record_type, record["internalId"]) for record_type, record in found]
        with self._lock:
            search_id = f"WEBSERVICES_SANDBOX_SEARCH_{next(self._ids)}"
            self._searches[search_id] = (keys, page_size)
        return self.page(store, search_id, 1)

    def page(self, store: ErpStore, search_id: str, page_index: int) -> SearchPage:
        """Page ``page_index`` (from 1) of an earlier search."""
        with self._lock:
            snapshot = self._searches.get(search_id)
        if snapshot is None:
            raise SoapFault(
                None, "INVALID_SEARCH_MORE", f"Unknown or expired searchId {search_id}."
            )
        keys, page_size = snapshot
        total_pages = max(1, math.ceil(len(keys) / page_size))
        if not 1 <= page_index <= total_pages:
            raise SoapFault(None, "INVALID_PAGE_INDEX", f"Page {page_index} is out of range.")
        start = (page_index - 1) * page_size
        records = []
        for record_type, internal_id in keys[start : start + page_size]:
            record = store.by_internal_id(record_type, internal_id)
            if record is not None:
                records.append((record_type, record))
        return SearchPage(search_id, page_index, total_pages, len(keys), page_size, records)
