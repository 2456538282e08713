"""The ERP sandbox's in-memory records: upsert by (record type, externalId), NetSuite's checks."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# SuiteTalk record type -> the ``type`` NetSuite puts on the RecordRef it answers with.
RECORD_REF_TYPES = {
    "Customer": "customer",
    "ServiceSaleItem": "serviceSaleItem",
    "SalesOrder": "salesOrder",
}
# Fields NetSuite refuses to save a record without, with the label its message uses.
REQUIRED_FIELDS = {
    "Customer": ("companyName", "Company Name"),
    "ServiceSaleItem": ("itemId", "Item Name/Number"),
    "SalesOrder": ("entity", "Customer"),
}
FIRST_INTERNAL_ID = 1000


@dataclass(frozen=True)
class UpsertOutcome:
    """The sandbox's answer for one record: an internalId, or a SuiteTalk status detail."""

    record_type: str
    external_id: str | None
    internal_id: str | None = None
    code: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the record was saved."""
        return not self.code

    @property
    def ref_type(self) -> str | None:
        """The RecordRef ``type`` attribute for this record, when the type is known."""
        return RECORD_REF_TYPES.get(self.record_type)


class ErpStore:
    """Records by (record type, externalId), each with a stable, server-assigned internalId."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.upsert_count: Counter[str] = Counter()
        self._by_internal_id: dict[tuple[str, str], tuple[str, str]] = {}
        self._next_internal_id = FIRST_INTERNAL_ID

    def upsert(self, record_type: str, fields: Mapping[str, Any]) -> UpsertOutcome:
        """Create or update one record; an invalid record changes nothing."""
        external_id = fields.get("externalId") or None
        with self._lock:
            if record_type not in RECORD_REF_TYPES:
                message = f"Invalid record type {record_type}."
                return UpsertOutcome(
                    record_type, external_id, code="INVALID_RCRD_TYPE", message=message
                )
            if external_id is None:
                message = "Please enter value(s) for: External ID"
                return UpsertOutcome(record_type, None, code="USER_ERROR", message=message)
            key = (record_type, external_id)
            existing = self.records.get(key)
            merged = {**(existing or {}), **fields}
            merged.pop("internalId", None)
            problem = self._problem(record_type, merged)
            if problem is not None:
                return UpsertOutcome(record_type, external_id, code=problem[0], message=problem[1])
            internal_id = existing["internalId"] if existing else self._assign_internal_id(key)
            self.records[key] = {**merged, "internalId": internal_id}
            self.upsert_count[record_type] += 1
            return UpsertOutcome(record_type, external_id, internal_id=internal_id)

    def _assign_internal_id(self, key: tuple[str, str]) -> str:
        internal_id = str(self._next_internal_id)
        self._next_internal_id += 1
        self._by_internal_id[(key[0], internal_id)] = key
        return internal_id

    def _problem(self, record_type: str, record: Mapping[str, Any]) -> tuple[str, str] | None:
        field_name, label = REQUIRED_FIELDS[record_type]
        if not record.get(field_name):
            return "USER_ERROR", f"Please enter value(s) for: {label}"
        if record_type != "SalesOrder":
            return None
        if not self._exists("Customer", record["entity"]):
            return "INVALID_KEY_OR_REF", f"Invalid entity reference key {_key(record['entity'])}."
        lines = (record.get("itemList") or {}).get("item") or []
        for line in lines:
            item = line.get("item") if isinstance(line, Mapping) else None
            if not item:
                return "USER_ERROR", "Please enter value(s) for: Item"
            if not self._exists("ServiceSaleItem", item):
                return "INVALID_KEY_OR_REF", f"Invalid item reference key {_key(item)}."
        return None

    def _exists(self, record_type: str, ref: Any) -> bool:
        if not isinstance(ref, Mapping):
            return False
        if ref.get("externalId"):
            return (record_type, ref["externalId"]) in self.records
        return (record_type, ref.get("internalId", "")) in self._by_internal_id


def _key(ref: Any) -> str:
    if isinstance(ref, Mapping):
        return str(ref.get("externalId") or ref.get("internalId") or "")
    return str(ref)
