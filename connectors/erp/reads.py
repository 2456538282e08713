"""Reading from NetSuite: changes by ``search`` + ``searchMoreWithId``, records by ``getList``,
deletions by ``getDeleted``.

A change read searches ``lastModifiedDate`` from the cursor up to NetSuite's clock at the start
of the read, so records changed while it pages are left for the next run instead of being
skipped. NetSuite does not promise the order of basic-search results, so each page is sorted by
``(lastModifiedDate, internalId)`` and only the last page carries the new cursor: a run stopped
midway re-reads from the old cursor (upserts downstream are idempotent), never past a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Cursor, Page, RawRecord
from connectors.erp.custom import TypeOf
from connectors.erp.records import (
    COMMON_NAMESPACE,
    CORE_NAMESPACE,
    SYSTEM,
    RecordKind,
    plain_record,
)
from connectors.erp.soap import SoapSession
from connectors.errors import ConfigError, TransientError

CURSOR_FIELD = "lastModifiedDate"
# getList's status code for an internalId that does not exist (or was deleted).
_MISSING_CODES = {"RCRD_DSNT_EXIST", "INVALID_KEY_OR_REF"}


@dataclass(frozen=True)
class DeletedRecord:
    """One record NetSuite reports as deleted."""

    internal_id: str
    deleted_at: str
    external_id: str | None = None


def read_changes(
    soap: SoapSession, kind: RecordKind, since: Cursor | None, page_size: int
) -> Iterator[Page]:
    """Pages of records changed strictly after ``since``, each sorted; the last has the cursor."""
    # A second's margin: NetSuite stamps whole seconds, so a record saved later in the second
    # the read starts could share the newest stamp yet sort before the cursor's id.
    until = _server_time(soap) - dt.timedelta(seconds=1)
    searched = search_record(soap.type, kind, since, until)
    preferences = {"searchPreferences": {"bodyFieldsOnly": False, "pageSize": page_size}}
    page = _search_page(soap.call("search", preferences, searchRecord=searched))
    newest = since
    held: list[RawRecord] | None = None
    while True:
        records = sorted(
            (r for r in page.records if since is None or _position(r) > _key(since)),
            key=_position,
        )
        if records:
            last = records[-1]
            newest = max(newest, _cursor(last), key=_key) if newest else _cursor(last)
        if held is not None:
            yield Page(held, None)
        held = records
        if page.page_index >= page.total_pages:
            break
        search_id, next_index = page.search_id, page.page_index + 1
        del page  # its records are in ``held``; only one page's data is alive while fetching
        page = _search_page(
            soap.call("search_more", preferences, searchId=search_id, pageIndex=next_index)
        )
    if held or newest != since:
        yield Page(held or [], newest)


@dataclass(frozen=True)
class _SearchPage:
    """One search page as plain data: its records and where the search goes on."""

    records: list[RawRecord]
    search_id: str | None
    page_index: int
    total_pages: int


def _search_page(response: Any) -> _SearchPage:
    """The page as plain records. zeep's reply (a whole page of wide records as objects) is
    dropped as soon as this returns, and each zeep record as soon as it is converted, so a
    1,000-record page never sits in memory as objects and as plain data at once."""
    result = _search_result(response)
    return _SearchPage(
        records=_records(result),
        search_id=result["searchId"],
        page_index=result["pageIndex"] or 1,
        total_pages=result["totalPages"] or 0,
    )


def fetch_records(
    soap: SoapSession, kind: RecordKind, internal_ids: Sequence[str], type_id: str | None = None
) -> list[RawRecord]:
    """The records with these internalIds, by ``getList``; missing ones are left out.

    ``type_id`` is the custom record type's internal id when ``kind`` is ``CustomRecord``.
    """
    size = soap.settings.get_batch_size
    found: list[RawRecord] = []
    for start in range(0, len(internal_ids), size):
        batch = internal_ids[start : start + size]
        refs = (
            record_refs(soap.type, kind, batch)
            if type_id is None
            else custom_record_refs(soap.type, type_id, batch)
        )
        answers = soap.call("get", baseRef=refs)["readResponseList"]["readResponse"] or []
        for answer in answers:
            if answer["status"]["isSuccess"]:
                found.append(plain_record(answer["record"]))
                continue
            details = answer["status"]["statusDetail"] or []
            code = details[0]["code"] if details else "UNKNOWN"
            if code not in _MISSING_CODES:
                message = details[0]["message"] if details else ""
                raise ConfigError(f"NetSuite getList refused ({code}): {message}", system=SYSTEM)
    return found


def record_refs(type_of: TypeOf, kind: RecordKind, internal_ids: Sequence[str]) -> list[Any]:
    """``RecordRef``s to ``kind`` records by internalId, as getList takes them."""
    record_ref = type_of(CORE_NAMESPACE, "RecordRef")
    return [record_ref(internalId=internal_id, type=kind.ref_type) for internal_id in internal_ids]


def custom_record_refs(type_of: TypeOf, type_id: str, internal_ids: Sequence[str]) -> list[Any]:
    """``CustomRecordRef``s to records of the custom record type ``type_id``, for getList."""
    record_ref = type_of(CORE_NAMESPACE, "CustomRecordRef")
    return [record_ref(internalId=internal_id, typeId=type_id) for internal_id in internal_ids]


def deleted_filter(
    kind: RecordKind, since: dt.datetime | None, until: dt.datetime | None
) -> dict[str, Any]:
    """The ``GetDeletedFilter`` for ``kind``: deleted after ``since``, else up to ``until``."""
    deleted_date = (
        {"operator": "after", "searchValue": since}
        if since is not None
        else {"operator": "onOrBefore", "searchValue": until}
    )
    return {
        "deletedDate": deleted_date,
        "type": {"operator": "anyOf", "searchValue": [kind.ref_type]},
    }


def deleted_records(
    soap: SoapSession, kind: RecordKind, since: dt.datetime | None
) -> Iterator[DeletedRecord]:
    """Records of ``kind`` deleted after ``since`` (all remembered deletions if None)."""
    filters = deleted_filter(kind, since, _server_time(soap) if since is None else None)
    page_index = 1
    while True:
        result = soap.call("deleted", getDeletedFilter=filters, pageIndex=page_index)
        result = result["getDeletedResult"]
        _raise_unless_success(result["status"], "getDeleted")
        listing = result["deletedRecordList"]
        for deleted in (listing["deletedRecord"] or []) if listing is not None else []:
            ref = deleted["record"]
            yield DeletedRecord(
                internal_id=str(ref["internalId"]),
                deleted_at=deleted["deletedDate"].isoformat(),
                external_id=getattr(ref, "externalId", None),
            )
        if page_index >= (result["totalPages"] or 0):
            return
        page_index += 1


def search_record(
    type_of: TypeOf, kind: RecordKind, since: Cursor | None, until: dt.datetime
) -> Any:
    """The ``*SearchBasic`` record finding ``kind`` modified from ``since`` up to ``until``."""
    search_type = type_of(COMMON_NAMESPACE, kind.search_type)
    modified = (
        {"operator": "onOrBefore", "searchValue": until}
        if since is None
        else {
            "operator": "within",
            "searchValue": dt.datetime.fromisoformat(since.modified),
            "searchValue2": until,
        }
    )
    filters: dict[str, Any] = {"lastModifiedDate": modified}
    if kind.search_kind:
        filters["type"] = {"operator": "anyOf", "searchValue": [kind.search_kind]}
    return search_type(**filters)


def _server_time(soap: SoapSession) -> dt.datetime:
    result = soap.call("server_time")["getServerTimeResult"]
    _raise_unless_success(result["status"], "getServerTime")
    server_time: dt.datetime = result["serverTime"]
    return server_time


def _search_result(response: Any) -> Any:
    result = response["searchResult"]
    _raise_unless_success(result["status"], "search")
    return result


def _raise_unless_success(status: Any, operation: str) -> None:
    if status["isSuccess"]:
        return
    details = status["statusDetail"] or []
    code = details[0]["code"] if details else "UNKNOWN"
    message = details[0]["message"] if details else ""
    if code == "INVALID_SEARCH_MORE" or code.startswith("SEARCH_"):
        # An expired search id: the next run starts the search again from the cursor.
        raise TransientError(f"NetSuite {operation} failed ({code}): {message}", system=SYSTEM)
    raise ConfigError(f"NetSuite {operation} failed ({code}): {message}", system=SYSTEM)


def _records(result: Any) -> list[RawRecord]:
    listing = result["recordList"]
    found = (listing["record"] or []) if listing is not None else []
    found.reverse()
    plain: list[RawRecord] = []
    while found:
        plain.append(plain_record(found.pop()))  # the zeep record goes once converted
    return plain


def _position(record: RawRecord) -> tuple[dt.datetime, int]:
    modified = record.get(CURSOR_FIELD)
    if not modified:
        raise ConfigError(
            f"NetSuite returned record {record.get('internalId')} without {CURSOR_FIELD}",
            system=SYSTEM,
        )
    return dt.datetime.fromisoformat(modified), int(record["internalId"])


def _cursor(record: RawRecord) -> Cursor:
    return Cursor(modified=str(record[CURSOR_FIELD]), record_id=str(record["internalId"]))


def _key(cursor: Cursor) -> tuple[dt.datetime, int]:
    return dt.datetime.fromisoformat(cursor.modified), int(cursor.record_id)
