"""``deleteList`` in the ERP sandbox: delete records by RecordRef, as NetSuite answers it.

A record referenced by a transaction (a customer with sales orders, an item on an order line)
is refused as NetSuite does, so clients must delete children before parents. A record that is
not there answers ``RCRD_DSNT_EXIST``. Deleted records are reported by getDeleted afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.render import MESSAGES, SoapFault, message_envelope, record_ref, status
from sandboxes.erp.store import RECORD_TYPES_BY_REF, ErpStore, of_custom_type

MAX_RECORDS_PER_DELETE = 100
_TRANSACTIONS = {"SalesOrder": "entity", "Invoice": "entity", "CustomerPayment": "customer"}
_DEPENDENT = "This record cannot be deleted because it has dependent records."
_NO_TYPE_ID = "A custom record is named by a CustomRecordRef with its typeId."


def _refers(ref: Any, record: Mapping[str, Any]) -> bool:
    if not isinstance(ref, Mapping):
        return False
    external_id, internal_id = ref.get("externalId"), ref.get("internalId")
    return bool(
        (external_id and external_id == record.get("externalId"))
        or (internal_id and internal_id == record.get("internalId"))
    )


def _sells(transaction: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    lines = (transaction.get("itemList") or {}).get("item") or []
    return any(isinstance(line, Mapping) and _refers(line.get("item"), item) for line in lines)


def _has_dependents(store: ErpStore, record_type: str, record: Mapping[str, Any]) -> bool:
    """True when a transaction names this customer, or sells this item on a line."""
    for transaction_type, customer_field in _TRANSACTIONS.items():

        def depends(transaction: dict[str, Any], field: str = customer_field) -> bool:
            if record_type == "Customer":
                return _refers(transaction.get(field), record)
            return _sells(transaction, record)

        if store.matching((transaction_type,), depends):
            return True
    return False


def _delete_one(store: ErpStore, ref: etree._Element) -> dict[str, Any]:
    ref_type, internal_id = ref.get("type", ""), ref.get("internalId", "")
    type_id = ref.get("typeId")
    record_type = "CustomRecord" if type_id else RECORD_TYPES_BY_REF.get(ref_type)
    record = store.by_internal_id(record_type, internal_id) if record_type else None
    if record is not None and not of_custom_type(record, type_id):
        record = None  # a custom record of another type: NetSuite finds none by this ref
    answer: dict[str, Any] = {"baseRef": record_ref(internal_id or None, ref_type or None)}
    if record_type == "CustomRecord" and not type_id:
        # Custom records number their internal ids per type: a bare id names none for sure.
        return {"status": status(False, "INVALID_KEY_OR_REF", _NO_TYPE_ID), **answer}
    if record_type is None or record is None:
        return {"status": status(False, "RCRD_DSNT_EXIST", "That record does not exist."), **answer}
    if record_type in ("Customer", "ServiceSaleItem", "InventoryItem") and _has_dependents(
        store, record_type, record
    ):
        return {"status": status(False, "USER_ERROR", _DEPENDENT), **answer}
    store.delete(record_type, str(record["externalId"]))
    return {"status": status(True), **answer}


def delete_list(
    request: etree._Element, header: etree._Element | None, store: ErpStore, _: Any
) -> bytes:
    """``deleteListResponse`` with one writeResponse per baseRef, in order."""
    refs = [child for child in request if child.tag == f"{{{MESSAGES}}}baseRef"]
    if len(refs) > MAX_RECORDS_PER_DELETE:
        message = f"deleteList takes at most {MAX_RECORDS_PER_DELETE} records; got {len(refs)}."
        raise SoapFault("exceededRecordCountFault", "MAX_RCRDS_EXCEEDED", message)
    answers = [_delete_one(store, ref) for ref in refs]
    return message_envelope("deleteListResponse", {"writeResponseList": {"writeResponse": answers}})
