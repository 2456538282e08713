"""ERP connector: NetSuite SuiteTalk SOAP over zeep, a write target and a source.

Payloads and records are nested dicts in SuiteTalk field names (``companyName``,
``entity: {externalId}``, ``itemList: {item: [...]}``); the record's XSD type drives their
conversion (decimal strings for ``xsd:double``, dates for ``xsd:dateTime``). Writes go through
``upsertList`` by externalId, reads through ``search``/``searchMoreWithId`` by
``lastModifiedDate``, fetches through ``getList`` and deletions through ``getDeleted``; the SOAP
operation names come from ``erp.operations``. Nothing outside ``connectors/erp*.py`` sees SOAP,
so a REST ERP client can sit behind the same protocol.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from zeep.cache import Base as WsdlCache

from config.settings import ErpSettings, RetrySettings
from connectors.base import (
    CallLimits,
    Cursor,
    DeleteResult,
    PackedWrite,
    Page,
    RawRecord,
    ReadSpec,
    WriteResult,
    WriteSpec,
)
from connectors.erp.amendments import (
    CREDIT_MEMO,
    LINE_KEY,
    SALES_ORDER,
    apply_changes,
    changes_original,
    combined,
    credit_memo_of,
    resent_original,
)
from connectors.erp.custom import (
    custom_record_type_id,
    is_custom_record,
    record_type_name,
    unset_type_result,
)
from connectors.erp.deletes import delete_records
from connectors.erp.faults import FAULT_ERRORS, classify_fault
from connectors.erp.packing import referenced_external_ids
from connectors.erp.reads import DeletedRecord, deleted_records, fetch_records, read_changes
from connectors.erp.records import (
    RECORD_NAMESPACES,
    SYSTEM,
    RecordBuilder,
    line_record_type,
    record_kind,
)
from connectors.erp.soap import SoapSession
from connectors.erp.transport import AUTH_HINT, user_wsdl_cache
from connectors.erp.writes import RecordWriter, upsert_once, write_results
from connectors.errors import AuthError, ConfigError

__all__ = [
    "FAULT_ERRORS",
    "RECORD_NAMESPACES",
    "DeletedRecord",
    "ErpConnector",
    "RecordBuilder",
    "classify_fault",
    "user_wsdl_cache",
    "write_results",
]


class ErpConnector:
    """Customers, contacts, items, estimates, sales orders, custom records, invoices, payments
    and credit memos in NetSuite, by SuiteTalk SOAP."""

    system = SYSTEM

    def __init__(
        self,
        settings: ErpSettings,
        retry: RetrySettings,
        *,
        wsdl_cache: WsdlCache | Literal["user"] | None = "user",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``wsdl_cache="user"`` caches remote WSDLs under the user's cache dir (not loopback)."""
        self._soap = SoapSession(settings, retry, wsdl_cache=wsdl_cache, sleep=sleep)
        self._builder = RecordBuilder(self._soap.type)
        self._writer = RecordWriter(self._soap, self._builder)

    @property
    def api_calls(self) -> int:
        """SOAP calls so far for the run summary, retries included (NetSuite counts them
        against the account's concurrency and governance limits)."""
        return self._soap.calls_sent

    def check(self) -> None:
        """Load the WSDL and make one authenticated ``getServerTime`` call."""
        result = self._soap.call("server_time")["getServerTimeResult"]
        if not result["status"]["isSuccess"]:
            raise AuthError(f"NetSuite refused getServerTime; {AUTH_HINT}", system=SYSTEM)

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        """Yield pages of records changed strictly after ``since`` (by lastModifiedDate)."""
        _refuse_filter(spec)
        kind = record_kind(spec.object_name)
        configured = self._soap.settings.search_page_size
        page_size = max(5, min(spec.page_size or configured, configured))
        return read_changes(self._soap, kind, since, page_size)

    def fetch(self, spec: ReadSpec, record_ids: Sequence[str]) -> list[RawRecord]:
        """The current state of the records with these internalIds (missing ones left out)."""
        type_id = self._custom_type_id(spec.object_name)
        return fetch_records(self._soap, record_kind(spec.object_name), record_ids, type_id)

    def deleted(self, spec: ReadSpec, since: dt.datetime | None) -> Iterator[DeletedRecord]:
        """Records of ``spec.object_name`` deleted after ``since``, by ``getDeleted``."""
        return deleted_records(self._soap, record_kind(spec.object_name), since)

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert payloads in batches of ``batch_size``; one result per payload, same order."""
        results = self.write_packed([PackedWrite(spec, payload) for payload in payloads])
        return [result for result in results if result is not None]

    @property
    def call_limits(self) -> CallLimits:
        """``erp.batch_size`` records per ``upsertList``, ``erp.concurrency`` calls at once."""
        settings = self._soap.settings
        return CallLimits(batch_size=settings.batch_size, in_flight=settings.concurrency)

    def references(self, payload: Mapping[str, Any]) -> set[str]:
        """The externalIds the payload's RecordRefs point at: they must land before it."""
        return referenced_external_ids(payload)

    def write_packed(
        self, writes: Sequence[PackedWrite], *, hold_partial: bool = False
    ) -> list[WriteResult | None]:
        """Upsert records of any types, ``batch_size`` to an ``upsertList`` (see
        :mod:`connectors.erp.packing`); with ``hold_partial``, a last call that would not be
        full is not sent and its records' results are None."""
        writes, memos = self._with_credit_memos(self._keeping_amendments(writes))
        results: list[WriteResult | None] = [None] * len(writes)
        changes = [
            position
            for position, write in enumerate(writes)
            if changes_original(write.spec.object_name, write.payload)
        ]
        if changes:
            changed = self._change_originals([writes[p].payload for p in changes])
            for position, result in zip(changes, changed, strict=True):
                results[position] = result
        typed: list[tuple[Any, Mapping[str, Any]]] = []
        positions: list[int] = []
        record_types: dict[str, tuple[Any, str | ConfigError | None]] = {}
        for position, write in enumerate(writes):
            if position in changes:
                continue
            object_name = write.spec.object_name
            if object_name not in record_types:
                record_types[object_name] = self._upsert_type(write.spec)
            record_type, type_id = record_types[object_name]
            if isinstance(type_id, ConfigError):
                # Only these records wait (in the error queue) for the setting; the run goes on.
                results[position] = unset_type_result(write.payload, type_id)
                continue
            payload = write.payload
            if type_id is not None:
                # A custom record names its type; the mapping names it by script id.
                payload = {**payload, "recType": {"internalId": type_id}}
            typed.append((record_type, payload))
            positions.append(position)
        answers = self._writer.upsert_packed(typed, hold_partial=hold_partial)
        for position, answer in zip(positions, answers, strict=True):
            results[position] = answer
        for order, memo in memos.items():
            results[order] = combined(results[order], results[memo])
        return results[: len(results) - len(memos)]

    def _with_credit_memos(
        self, writes: Sequence[PackedWrite]
    ) -> tuple[list[PackedWrite], dict[int, int]]:
        """The writes and, appended, the credit memo each cancelling sales order raises; the
        positions of order and memo (see :mod:`connectors.erp.amendments`)."""
        split: list[PackedWrite] = []
        memos: list[PackedWrite] = []
        pairs: dict[int, int] = {}
        for position, write in enumerate(writes):
            memo = credit_memo_of(write.spec.object_name, write.payload)
            split.append(write)
            if memo is not None:
                pairs[position] = len(writes) + len(memos)
                memos.append(PackedWrite(replace(write.spec, object_name=CREDIT_MEMO), memo))
        return split + memos, pairs

    def _keeping_amendments(self, writes: Sequence[PackedWrite]) -> list[PackedWrite]:
        """Sales orders NetSuite already holds, sent again: read first, so the changes
        amendments merged into them are kept (see :func:`resent_original`)."""
        resent = {
            position: write.spec.known_target_ids[str(write.payload.get("externalId"))]
            for position, write in enumerate(writes)
            if write.spec.object_name == SALES_ORDER
            and not write.payload.get("internalId")
            and str(write.payload.get("externalId")) in write.spec.known_target_ids
            and any(LINE_KEY in line for line in _items(write.payload))
        }
        if not resent:
            return list(writes)
        kind = record_kind(SALES_ORDER)
        held = {
            str(r.get("internalId")): r
            for r in fetch_records(self._soap, kind, sorted(set(resent.values())))
        }
        kept = list(writes)
        for position, internal_id in resent.items():
            existing = held.get(internal_id)
            if existing is not None:
                payload = resent_original(writes[position].payload, existing)
                kept[position] = PackedWrite(writes[position].spec, payload)
        return kept

    def _change_originals(self, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Amendments merged into the sales orders they name (setting "update the original").

        The change is computed from what NetSuite holds, so a try whose reply was lost is not
        sent again as it was (it would add an add-on twice): the originals are read again and
        the change recomputed, under the one retry policy.
        """
        kind = record_kind(SALES_ORDER)
        order_type = self._soap.type(kind.namespace, SALES_ORDER)

        def fetch(internal_ids: Sequence[str]) -> list[dict[str, Any]]:
            return fetch_records(self._soap, kind, internal_ids)

        def upsert(body: Mapping[str, Any]) -> WriteResult:
            return upsert_once(self._soap, self._builder, order_type, body)

        return self._soap.retrying(lambda: apply_changes(payloads, fetch, upsert))

    def _upsert_type(self, spec: WriteSpec) -> tuple[Any, str | ConfigError | None]:
        """The zeep type to upsert ``spec.object_name`` as, and a custom record's type id (or
        the error saying the setting that gives it is missing)."""
        if spec.external_id_field != "externalId":
            raise ConfigError(
                f"NetSuite upserts by externalId, not {spec.external_id_field!r}", system=SYSTEM
            )
        kind = record_kind(spec.object_name)
        record_type = self._soap.type(kind.namespace, record_type_name(spec.object_name))
        try:
            return record_type, self._custom_type_id(spec.object_name)
        except ConfigError as unset:
            return record_type, unset

    def delete(self, spec: WriteSpec, target_ids: Sequence[str]) -> list[DeleteResult]:
        """Delete records by internalId with ``deleteList``; already gone counts as deleted."""
        type_id = self._custom_type_id(spec.object_name)
        return delete_records(self._soap, record_kind(spec.object_name), target_ids, type_id)

    def _custom_type_id(self, object_name: str) -> str | None:
        if not is_custom_record(object_name):
            return None
        return custom_record_type_id(self._soap.settings.custom_record_types, object_name)

    def record_type(self, object_name: str) -> Any:
        """The zeep type an ERP mapping's ``object`` names: a record type, a custom record type's
        script id (a ``CustomRecord``) or a line type read inside its record (``InvoiceItem``)."""
        try:
            kind = record_kind(object_name)
        except ConfigError:
            line_type = line_record_type(self._soap.type, object_name)
            if line_type is None:
                raise
            return line_type
        return self._soap.type(kind.namespace, record_type_name(object_name))

    def close(self) -> None:
        """Release the HTTP session."""
        self._soap.close()


def _items(payload: Mapping[str, Any]) -> list[Any]:
    return list((payload.get("itemList") or {}).get("item") or [])


def _refuse_filter(spec: ReadSpec) -> None:
    if spec.filter:
        raise ConfigError(
            f"the ERP reads {spec.object_name} without filters; remove `filter` from the ERP "
            "mapping (SuiteTalk basic search has no query language revbridge can pass through)",
            system=SYSTEM,
        )
    if spec.until is not None:
        raise ConfigError(
            f"backfills of {spec.object_name} up to a date are not supported for the ERP yet; "
            "run the backfill without --until",
            system=SYSTEM,
        )
