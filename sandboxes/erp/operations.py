"""The SuiteTalk operations the ERP sandbox answers, from its in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from sandboxes.erp.deletes import delete_list
from sandboxes.erp.render import (
    CUSTOM_FIELD_TYPE,
    MESSAGES,
    RECORD_NAMESPACES,
    XSI,
    SoapFault,
    message_envelope,
    record_ref,
    server_time_envelope,
    status,
    typed_record,
    upsert_list_envelope,
)
from sandboxes.erp.search import DEFAULT_PAGE_SIZE, SearchPage, SearchSessions, date_test
from sandboxes.erp.store import (
    RECORD_REF_TYPES,
    RECORD_TYPES_BY_REF,
    ErpStore,
    of_custom_type,
)

# SuiteTalk's synchronous limits per call.
MAX_RECORDS_PER_CALL = 100
MAX_REFS_PER_GET_LIST = 1000
DELETED_PAGE_SIZE = 1000

Answer = Callable[[etree._Element, "etree._Element | None", ErpStore, SearchSessions], bytes]


def answer_operation(
    operation: str,
    request: etree._Element,
    header: etree._Element | None,
    store: ErpStore,
    searches: SearchSessions,
) -> bytes:
    """The response envelope for one authenticated SuiteTalk request."""
    answer = _OPERATIONS.get(operation)
    if answer is None:
        raise SoapFault(
            "unexpectedErrorFault", "UNEXPECTED_ERROR", f"Unsupported operation {operation}."
        )
    return answer(request, header, store, searches)


def _server_time(
    request: etree._Element, header: etree._Element | None, store: ErpStore, _: SearchSessions
) -> bytes:
    return server_time_envelope(store.now())


def _upsert_list(
    request: etree._Element, header: etree._Element | None, store: ErpStore, _: SearchSessions
) -> bytes:
    records = [child for child in request if child.tag == f"{{{MESSAGES}}}record"]
    if len(records) > MAX_RECORDS_PER_CALL:
        message = f"upsertList takes at most {MAX_RECORDS_PER_CALL} records; got {len(records)}."
        raise SoapFault("exceededRecordCountFault", "MAX_RCRDS_EXCEEDED", message)
    outcomes = [store.upsert(_record_type(record), _fields(record)) for record in records]
    return upsert_list_envelope(outcomes)


def _get_list(
    request: etree._Element, header: etree._Element | None, store: ErpStore, _: SearchSessions
) -> bytes:
    refs = list(request)
    if len(refs) > MAX_REFS_PER_GET_LIST:
        message = f"getList takes at most {MAX_REFS_PER_GET_LIST} references; got {len(refs)}."
        raise SoapFault("exceededRecordCountFault", "MAX_RCRDS_EXCEEDED", message)
    answers = []
    for ref in refs:
        record_type = RECORD_TYPES_BY_REF.get(ref.get("type", ""))
        if ref.get("typeId"):  # a CustomRecordRef
            record_type = "CustomRecord"
        record = (
            store.by_internal_id(record_type, ref.get("internalId", "")) if record_type else None
        )
        if record is not None and not of_custom_type(record, ref.get("typeId")):
            record = None
        if record_type is None or record is None:
            missing = status(False, "RCRD_DSNT_EXIST", "That record does not exist.")
            answers.append({"status": missing})
            continue
        answers.append({"status": status(True), "record": typed_record(record_type, record)})
    return message_envelope("getListResponse", {"readResponseList": {"readResponse": answers}})


def _search(
    request: etree._Element,
    header: etree._Element | None,
    store: ErpStore,
    searches: SearchSessions,
) -> bytes:
    search_record = request.find(f"{{{MESSAGES}}}searchRecord")
    if search_record is None:
        raise SoapFault("unexpectedErrorFault", "UNEXPECTED_ERROR", "search needs a searchRecord.")
    page = searches.start(store, search_record, _page_size(header))
    return _search_envelope("searchResponse", page)


def _search_more(
    request: etree._Element,
    header: etree._Element | None,
    store: ErpStore,
    searches: SearchSessions,
) -> bytes:
    search_id = request.findtext(f"{{{MESSAGES}}}searchId") or ""
    page_index = int(request.findtext(f"{{{MESSAGES}}}pageIndex") or "1")
    return _search_envelope("searchMoreWithIdResponse", searches.page(store, search_id, page_index))


def _get_deleted(
    request: etree._Element, header: etree._Element | None, store: ErpStore, _: SearchSessions
) -> bytes:
    deleted_filter = request.find(f"{{{MESSAGES}}}getDeletedFilter")
    page_index = int(request.findtext(f"{{{MESSAGES}}}pageIndex") or "1")
    fields = {} if deleted_filter is None else {etree.QName(f).localname: f for f in deleted_filter}
    wanted_types = {value.text for value in fields["type"]} if "type" in fields else None
    in_range = date_test(fields["deletedDate"]) if "deletedDate" in fields else None
    deletions = [
        deletion
        for deletion in store.deletions
        if (wanted_types is None or RECORD_REF_TYPES[deletion.record_type] in wanted_types)
        and (in_range is None or in_range(deletion.deleted_at))
    ]
    total_pages = max(1, -(-len(deletions) // DELETED_PAGE_SIZE))
    start = (page_index - 1) * DELETED_PAGE_SIZE
    listed = [
        {
            "deletedDate": deletion.deleted_at,
            "record": record_ref(
                deletion.internal_id, RECORD_REF_TYPES[deletion.record_type], deletion.external_id
            ),
        }
        for deletion in deletions[start : start + DELETED_PAGE_SIZE]
    ]
    result = {
        "status": status(True),
        "totalRecords": len(deletions),
        "pageSize": DELETED_PAGE_SIZE,
        "totalPages": total_pages,
        "pageIndex": page_index,
        "deletedRecordList": {"deletedRecord": listed},
    }
    return message_envelope("getDeletedResponse", {"getDeletedResult": result})


def _search_envelope(element: str, page: SearchPage) -> bytes:
    result = {
        "status": status(True),
        "totalRecords": page.total_records,
        "pageSize": page.page_size,
        "totalPages": page.total_pages,
        "pageIndex": page.page_index,
        "searchId": page.search_id,
        "recordList": {"record": [typed_record(t, record) for t, record in page.records]},
    }
    return message_envelope(element, {"searchResult": result})


def _page_size(header: etree._Element | None) -> int:
    preferences = None if header is None else header.find(f"{{{MESSAGES}}}searchPreferences")
    text = None if preferences is None else preferences.findtext(f"{{{MESSAGES}}}pageSize")
    size = int(text) if text and text.isdigit() else DEFAULT_PAGE_SIZE
    if not 5 <= size <= DEFAULT_PAGE_SIZE:
        raise SoapFault(
            None, "INVALID_PAGE_SIZE", f"Search page size must be 5 to 1000; got {size}."
        )
    return size


def records_of(request: etree._Element) -> list[tuple[str, dict[str, Any]]]:
    """The (record type, fields) of each record in a list write request, in order."""
    records = [child for child in request if child.tag == f"{{{MESSAGES}}}record"]
    return [(_record_type(record), _fields(record)) for record in records]


def _record_type(record: etree._Element) -> str:
    """Resolve ``xsi:type="prefix:Customer"``; a wrong namespace makes the type unknown."""
    prefix, _, local = (record.get(f"{{{XSI}}}type") or "").rpartition(":")
    namespace = record.nsmap.get(prefix or None)
    return local if RECORD_NAMESPACES.get(local) == namespace else f"{{{namespace}}}{local}"


def _fields(element: etree._Element) -> dict[str, Any]:
    """Turn a record element into plain data: attributes and children by local name."""
    fields: dict[str, Any] = {k: v for k, v in element.attrib.items() if not k.startswith("{")}
    as_list = etree.QName(element).localname.endswith("List")
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value: Any = _fields(child) if len(child) or child.attrib else (child.text or "")
        if name == "customField" and isinstance(value, dict):
            # Kept so the field is answered with its own type (StringCustomFieldRef, ...).
            value[CUSTOM_FIELD_TYPE] = (child.get(f"{{{XSI}}}type") or "").rpartition(":")[2]
        if as_list:
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value
    return fields


_OPERATIONS: dict[str, Answer] = {
    "getServerTime": _server_time,
    "upsertList": _upsert_list,
    "getList": _get_list,
    "search": _search,
    "searchMoreWithId": _search_more,
    "getDeleted": _get_deleted,
    "deleteList": delete_list,
}
