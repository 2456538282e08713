"""The ERP sandbox's in-memory records: upsert by (record type, externalId), NetSuite's checks,
server-kept ``lastModifiedDate``, deletions, and the queries behind search and getDeleted."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sandboxes.erp.payments import Key, Refusal, recomputed, settle, unapply
from sandboxes.packed import PackedRecords

# SuiteTalk record type -> the ``type`` NetSuite puts on the RecordRef it answers with.
RECORD_REF_TYPES = {
    "Customer": "customer",
    "ServiceSaleItem": "serviceSaleItem",
    "InventoryItem": "inventoryItem",
    "SalesOrder": "salesOrder",
    "Invoice": "invoice",
    "CustomerPayment": "customerPayment",
    # Contacts, estimates, credit memos and custom records (contracts, subscriptions, prices).
    "Contact": "contact",
    "Estimate": "estimate",
    "CreditMemo": "creditMemo",
    "CustomRecord": "customRecord",
}
RECORD_TYPES_BY_REF = {ref: name for name, ref in RECORD_REF_TYPES.items()}


def of_custom_type(record: Mapping[str, Any], type_id: str | None) -> bool:
    """True unless ``type_id`` names a custom record type other than ``record``'s."""
    return type_id is None or (record.get("recType") or {}).get("internalId") == type_id


# Fields NetSuite refuses to save a record without, with the label its message uses.
REQUIRED_FIELDS = {
    "Customer": ("companyName", "Company Name"),
    "ServiceSaleItem": ("itemId", "Item Name/Number"),
    "InventoryItem": ("itemId", "Item Name/Number"),
    "SalesOrder": ("entity", "Customer"),
    "Invoice": ("entity", "Customer"),
    "CustomerPayment": ("customer", "Customer"),
    "Contact": ("entityId", "Contact"),
    "Estimate": ("entity", "Customer"),
    "CreditMemo": ("entity", "Customer"),
    "CustomRecord": ("recType", "Custom Record Type"),
}
# Which field of a record names its customer (a contact's company is optional).
_CUSTOMER_FIELDS = {
    "SalesOrder": "entity",
    "Invoice": "entity",
    "CustomerPayment": "customer",
    "Estimate": "entity",
    "CreditMemo": "entity",
    "Contact": "company",
}
_ITEM_TYPES = ("ServiceSaleItem", "InventoryItem")
# Fields NetSuite sets itself; a client can't write them.
_SYSTEM_FIELDS = ("internalId", "createdDate", "lastModifiedDate", "nullFieldList")
# Transactions whose item lines carry NetSuite's line number in the compact WSDL.
_NUMBERED_LINES = ("Invoice", "CreditMemo", "Estimate", "SalesOrder")
# What a few record types call their created and last-modified stamps instead.
_STAMP_ALIASES = {"Contact": ("dateCreated", None), "CustomRecord": ("created", "lastModified")}
FIRST_INTERNAL_ID = 1000

Clock = Callable[[], float]


@dataclass(frozen=True)
class UpsertOutcome:
    """The sandbox's answer for one record: an internalId, or a SuiteTalk status detail."""

    record_type: str
    external_id: str | None
    internal_id: str | None = None
    code: str = ""
    message: str = ""
    type_id: str | None = None  # a custom record's type (CustomRecordRef typeId)

    @property
    def ok(self) -> bool:
        """True when the record was saved."""
        return not self.code

    @property
    def ref_type(self) -> str | None:
        """The RecordRef ``type`` attribute for this record, when the type is known."""
        return RECORD_REF_TYPES.get(self.record_type)


@dataclass(frozen=True)
class Deletion:
    """One deleted record, as getDeleted reports it."""

    record_type: str
    internal_id: str
    external_id: str | None
    deleted_at: dt.datetime


def timestamp(clock: Clock) -> str:
    """NetSuite's dateTime text for the clock's now (UTC, milliseconds)."""
    moment = dt.datetime.fromtimestamp(clock(), dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ErpStore:
    """Records by (record type, externalId), each with a stable, server-assigned internalId."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        # Kept packed: a million synced records as dicts would need GBs (records are replaced on
        # every write, never edited in place).
        self.records: PackedRecords[tuple[str, str]] = PackedRecords()
        self.upsert_count: Counter[str] = Counter()
        self.deletions: list[Deletion] = []
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
            merged = _numbered(record_type, _merged(existing or {}, fields))
            problem = self._problem(record_type, merged)
            if problem is not None:
                return UpsertOutcome(record_type, external_id, code=problem[0], message=problem[1])
            settled = self._settled(record_type, existing, merged)
            if isinstance(settled, Refusal):
                return UpsertOutcome(
                    record_type, external_id, code=settled.code, message=settled.message
                )
            merged, invoices = settled
            merged = self._customer_by_internal_id(record_type, merged)
            now = timestamp(self._clock)
            internal_id = existing["internalId"] if existing else self._assign_internal_id(key)
            created = existing["createdDate"] if existing else now
            self.records[key] = {
                **merged,
                "internalId": internal_id,
                "createdDate": created,
                "lastModifiedDate": now,
                **_aliased_stamps(record_type, created, now),
            }
            self.upsert_count[record_type] += 1
            self._save_invoices(invoices, now)
            type_id = (merged.get("recType") or {}).get("internalId")
            return UpsertOutcome(record_type, external_id, internal_id=internal_id, type_id=type_id)

    def delete(self, record_type: str, external_id: str) -> None:
        """Delete a record (as a NetSuite user would); getDeleted reports it from then on."""
        with self._lock:
            record = self.records.pop((record_type, external_id))
            self._by_internal_id.pop((record_type, record["internalId"]), None)
            if record_type == "CustomerPayment":  # its invoices are owed again
                self._save_invoices(unapply(record, self._invoice), timestamp(self._clock))
            moment = dt.datetime.fromtimestamp(self._clock(), dt.UTC)
            self.deletions.append(Deletion(record_type, record["internalId"], external_id, moment))

    def by_internal_id(self, record_type: str, internal_id: str) -> dict[str, Any] | None:
        """The record with this internalId, if it exists."""
        with self._lock:
            key = self._by_internal_id.get((record_type, internal_id))
            return None if key is None else self.records.get(key)

    def matching(
        self, record_types: tuple[str, ...], keep: Callable[[dict[str, Any]], bool]
    ) -> list[tuple[str, dict[str, Any]]]:
        """(record type, record) of these types that ``keep`` accepts, by internalId, as NetSuite's
        basic search lists them (not by lastModifiedDate)."""
        with self._lock:
            found = [
                (record_type, record)
                for (record_type, _), record in self.records.items()
                if record_type in record_types and keep(record)
            ]
        return sorted(found, key=lambda pair: int(pair[1]["internalId"]))

    def now(self) -> str:
        """The sandbox clock's now, as NetSuite writes dateTimes."""
        return timestamp(self._clock)

    def _settled(
        self, record_type: str, existing: dict[str, Any] | None, merged: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[Key, dict[str, Any]]] | Refusal:
        """The record as saved and the invoices it pays (a payment), or why it is refused."""
        if record_type == "Invoice":
            return recomputed(merged, existing), {}
        if record_type == "CreditMemo" and not merged.get("total"):
            return {**merged, "total": _lines_total(merged)}, {}
        if record_type != "CustomerPayment":
            return merged, {}
        settlement = settle(existing, merged, self._invoice, self._customer)
        if isinstance(settlement, Refusal):
            return settlement
        return settlement.payment, settlement.invoices

    def _save_invoices(self, invoices: Mapping[Key, dict[str, Any]], now: str) -> None:
        """Save invoices a payment changed; lastModifiedDate moves, so reads see them."""
        for key, invoice in invoices.items():
            self.records[key] = {**invoice, "lastModifiedDate": now}

    def _invoice(self, internal_id: str) -> tuple[Key, dict[str, Any]] | None:
        key = self._by_internal_id.get(("Invoice", internal_id))
        record = None if key is None else self.records.get(key)
        return None if key is None or record is None else (key, record)

    def _customer(self, ref: Any) -> Key | None:
        if not isinstance(ref, Mapping):
            return None
        if ref.get("externalId") and ("Customer", ref["externalId"]) in self.records:
            return ("Customer", ref["externalId"])
        return self._by_internal_id.get(("Customer", ref.get("internalId", "")))

    def _customer_by_internal_id(self, record_type: str, record: dict[str, Any]) -> dict[str, Any]:
        """Name a transaction's customer by internalId too, as NetSuite answers a reference
        given by externalId when the record is read back (revbridge's reads resolve customers
        by internalId). A contact's company is kept as sent."""
        field = _CUSTOMER_FIELDS.get(record_type) if record_type != "Contact" else None
        ref = record.get(field) if field else None
        if not isinstance(ref, Mapping) or ref.get("internalId") or not ref.get("externalId"):
            return record
        customer = self.records.get(("Customer", str(ref["externalId"])))
        if customer is None:
            return record
        return {**record, str(field): {**ref, "internalId": customer["internalId"]}}

    def _assign_internal_id(self, key: tuple[str, str]) -> str:
        internal_id = str(self._next_internal_id)
        self._next_internal_id += 1
        self._by_internal_id[(key[0], internal_id)] = key
        return internal_id

    def _problem(self, record_type: str, record: Mapping[str, Any]) -> tuple[str, str] | None:
        field_name, label = REQUIRED_FIELDS[record_type]
        if not record.get(field_name):
            return "USER_ERROR", f"Please enter value(s) for: {label}"
        customer_field = _CUSTOMER_FIELDS.get(record_type)
        if customer_field is None or record.get(customer_field) is None:
            return None
        if not self._exists(("Customer",), record[customer_field]):
            key = _key(record[customer_field])
            return "INVALID_KEY_OR_REF", f"Invalid {customer_field} reference key {key}."
        lines = (record.get("itemList") or {}).get("item") or []
        for line in lines:
            item = line.get("item") if isinstance(line, Mapping) else None
            if not item:
                return "USER_ERROR", "Please enter value(s) for: Item"
            if not self._exists(_ITEM_TYPES, item):
                return "INVALID_KEY_OR_REF", f"Invalid item reference key {_key(item)}."
        return None

    def _exists(self, record_types: tuple[str, ...], ref: Any) -> bool:
        if not isinstance(ref, Mapping):
            return False
        for record_type in record_types:
            if ref.get("externalId") and (record_type, ref["externalId"]) in self.records:
                return True
            if (record_type, ref.get("internalId", "")) in self._by_internal_id:
                return True
        return False


def _lines_total(record: Mapping[str, Any]) -> str:
    """What NetSuite computes as a transaction's total when it is not given: its lines' sum."""
    lines = (record.get("itemList") or {}).get("item") or []
    return str(sum((Decimal(str(line.get("amount") or 0)) for line in lines), Decimal(0)))


def _numbered(record_type: str, record: dict[str, Any]) -> dict[str, Any]:
    """Number item lines where NetSuite does: a line sent with its number keeps it, a new one
    takes the next number after the highest."""
    if record_type not in _NUMBERED_LINES or not isinstance(record.get("itemList"), Mapping):
        return record
    lines = [line for line in record["itemList"].get("item") or [] if isinstance(line, Mapping)]
    highest = max((int(line["line"]) for line in lines if line.get("line")), default=0)
    numbered = []
    for line in lines:
        number = line.get("line")
        if not number:
            highest += 1
            number = str(highest)
        numbered.append({**line, "line": number})
    return {**record, "itemList": {**record["itemList"], "item": numbered}}


def _aliased_stamps(record_type: str, created: str, modified: str) -> dict[str, str]:
    created_name, modified_name = _STAMP_ALIASES.get(record_type, (None, None))
    stamps = {created_name: created} if created_name else {}
    return {**stamps, modified_name: modified} if modified_name else stamps


def _merged(existing: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """Apply an upsert: given fields replace, nullFieldList names are cleared, and an item list
    sent with ``replaceAll="false"`` changes only the lines it names (by ``line``) and adds the
    others, as NetSuite's update does."""
    cleared = (fields.get("nullFieldList") or {}).get("name") or []
    merged = {**existing, **fields}
    items = fields.get("itemList")
    if isinstance(items, Mapping) and str(items.get("replaceAll", "")).lower() == "false":
        merged["itemList"] = _changed_lines(existing.get("itemList") or {}, items)
    for name in (*cleared, *_SYSTEM_FIELDS):
        merged.pop(name, None)
    return merged


def _changed_lines(existing: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, Any]:
    lines = [dict(line) for line in existing.get("item") or []]
    by_number = {str(line.get("line")): line for line in lines}
    for line in sent.get("item") or []:
        kept = by_number.get(str(line.get("line") or ""))
        if kept is None:
            lines.append({k: v for k, v in line.items() if k != "line"})
        else:
            kept.update(line, customFieldList=_custom_merged(kept, line))
    return {"item": lines}


def _custom_merged(kept: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
    """A line's custom fields after an update: those sent replace theirs, the rest stay."""
    fields = {f["scriptId"]: f for f in (kept.get("customFieldList") or {}).get("customField", [])}
    for field in (line.get("customFieldList") or {}).get("customField", []):
        fields[field["scriptId"]] = field
    return {"customField": list(fields.values())}


def _key(ref: Any) -> str:
    if isinstance(ref, Mapping):
        return str(ref.get("externalId") or ref.get("internalId") or "")
    return str(ref)
