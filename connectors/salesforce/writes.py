"""Upserts by external id: sObject Collections (200 a request) or a Bulk API 2.0 ingest job.

Collections upserts go up to ``composite_subrequests`` (at most 5) in one Composite request,
one API call for up to 1,000 records (:mod:`connectors.salesforce.composite`).

Every write is checked against describe before any call (:func:`plan_write`). Create-only
fields (createable, not updateable, like ``OrderItem.OrderId``) are sent only to records that
don't exist yet: a batch carrying them first asks which external ids exist (one query).
Child lists in a payload are written after their parents (:mod:`connectors.salesforce.children`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError

from config.settings import SalesforceSettings
from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.salesforce.bulk import BulkJobs, CallRunner
from connectors.salesforce.children import (
    ChildBatch,
    parent_lookup,
    reject_parents,
    split_children,
)
from connectors.salesforce.composite import CollectionUpsert, CompositeUpsert, composite_supported
from connectors.salesforce.csv_rows import payloads_csv
from connectors.salesforce.describe import DescribeCache, ObjectInfo, WritePlan, plan_write
from connectors.salesforce.error_codes import rejected_answers, subrequest_error, to_write_result
from connectors.salesforce.ingest import ingest_write_results
from connectors.salesforce.screening import screen
from connectors.salesforce.soql import build_existing_soql, checked_name

COLLECTION_LIMIT = 200


class SalesforceWriter:
    """Chooses the write path for a batch and maps every record's answer back."""

    def __init__(
        self,
        call: CallRunner,
        bulk: BulkJobs,
        describe: DescribeCache,
        settings: SalesforceSettings,
    ) -> None:
        self._call, self._bulk, self._describe = call, bulk, describe
        self._timeout = settings.timeout_seconds
        self._bulk_threshold = settings.bulk_write_threshold
        self._version = settings.api_version
        composite = composite_supported(settings.api_version)
        self._per_call = settings.composite_subrequests if composite else 1

    def upsert(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """Upsert on the external id; one result per payload, same order.

        A payload with a value Salesforce can't take is rejected before any call; child lists
        are upserted after their parents; a rejected child rejects its parent.
        """
        if not payloads:
            return []
        info = self._describe.info(spec.object_name)
        screened = self._screen_children(info, spec, payloads)
        sendable = [payload for payload, found in zip(payloads, screened, strict=True) if not found]
        answers = iter(self._upsert_sendable(spec, sendable) if sendable else [])
        return [found or next(answers) for found in screened]

    def _screen_children(
        self, info: ObjectInfo, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult | None]:
        """Screen each payload and its child lists: a child Salesforce can't take rejects its
        parent before anything is written, so a parent never lands with a line missing."""
        found = screen(info, payloads, spec.external_id_field)
        for batch in split_children(info, payloads)[1]:
            child_info = self._describe.info(batch.child_object)
            answers = screen(child_info, batch.payloads, spec.external_id_field)
            for position, answer in zip(batch.parents, answers, strict=True):
                if answer is None or found[position] is not None:
                    continue  # the first problem names the reason
                found[position] = WriteResult(
                    str(payloads[position].get(spec.external_id_field, "")),
                    WriteOutcome.REJECTED,
                    error_code=answer.error_code,
                    error_message=f"{batch.relationship} {answer.external_id}: "
                    f"{answer.error_message}",
                    error_fields=answer.error_fields,
                )
        return found

    def _upsert_sendable(
        self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult]:
        parents, children = split_children(self._describe.info(spec.object_name), payloads)
        for batch in children:  # a mapping mistake in the lines stops the batch before any write
            parent_lookup(self._describe.info(batch.child_object), batch)
            plan_write(self._describe, batch.child_object, spec.external_id_field, batch.payloads)
        results = self._upsert_flat(spec, parents)
        for batch in children:
            results = self._upsert_children(spec, results, batch)
        return results

    def _upsert_children(
        self, spec: WriteSpec, results: list[WriteResult], batch: ChildBatch
    ) -> list[WriteResult]:
        lookup = parent_lookup(self._describe.info(batch.child_object), batch)
        sent = [i for i, parent in enumerate(batch.parents) if results[parent].ok]
        payloads = [
            {**batch.payloads[i],
             lookup: {spec.external_id_field: results[batch.parents[i]].external_id}}
            for i in sent
        ]  # fmt: skip
        answers = self.upsert(WriteSpec(batch.child_object, spec.external_id_field), payloads)
        return reject_parents(results, batch, [batch.parents[i] for i in sent], answers)

    def _upsert_flat(
        self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult]:
        plan = plan_write(self._describe, spec.object_name, spec.external_id_field, payloads)
        large = 0 < self._bulk_threshold <= len(payloads)
        # An ingest job can't leave a create-only column off only the rows that exist, and its
        # CSV has no nested objects for lookups by external id.
        if large and not plan.create_only and not plan.lookups:
            return self._ingest(spec, plan, payloads)
        results: list[WriteResult] = []
        chunks: list[Sequence[Mapping[str, Any]]] = []  # the call being gathered
        in_call: set[str] = set()
        for at in range(0, len(payloads), COLLECTION_LIMIT):
            chunk = payloads[at : at + COLLECTION_LIMIT]
            # A record without an external id cannot be a second copy of another one.
            keys = {str(key) for payload in chunk if (key := payload.get(plan.external_id_field))}
            # A record already in this call goes in the next one: whether it exists (and so
            # takes create-only fields) is known only once the earlier copy has landed.
            if chunks and (len(chunks) == self._per_call or not keys.isdisjoint(in_call)):
                results += self._send_chunks(spec, plan, chunks)
                chunks, in_call = [], set()
            chunks.append(self._without_create_only(spec, plan, chunk))
            in_call |= keys
        return results + self._send_chunks(spec, plan, chunks)

    def _send_chunks(
        self, spec: WriteSpec, plan: WritePlan, chunks: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[WriteResult]:
        if not chunks:
            return []
        answers = self._send([_collection_upsert(spec, plan, chunk) for chunk in chunks])
        return [
            to_write_result(payload, answer, plan.external_id_field)
            for chunk, chunk_answers in zip(chunks, answers, strict=True)
            for payload, answer in zip(chunk, chunk_answers, strict=True)
        ]

    def _send(self, upserts: Sequence[CollectionUpsert]) -> list[list[Any]]:
        """Each upsert's per-record answers: one Composite call, or plain Collections calls."""
        if self._per_call > 1:
            return self._call(CompositeUpsert(self._version, upserts, self._timeout))
        return [self._call(partial(_upsert, upsert, self._timeout)) for upsert in upserts]

    def _without_create_only(
        self, spec: WriteSpec, plan: WritePlan, chunk: Sequence[Mapping[str, Any]]
    ) -> Sequence[Mapping[str, Any]]:
        if not plan.create_only:
            return chunk
        keys = [str(p[plan.external_id_field]) for p in chunk if p.get(plan.external_id_field)]
        soql = build_existing_soql(spec.object_name, plan.external_id_field, keys)
        found = self._call(partial(_query_all, soql, self._timeout))
        existing = {str(r[plan.external_id_field]) for r in found}
        return [
            {k: v for k, v in p.items() if k not in plan.create_only}
            if str(p.get(plan.external_id_field)) in existing
            else p
            for p in chunk
        ]

    def _ingest(
        self, spec: WriteSpec, plan: WritePlan, payloads: Sequence[Mapping[str, Any]]
    ) -> list[WriteResult]:
        columns = list(dict.fromkeys(name for payload in payloads for name in payload))
        content = payloads_csv(columns, payloads)
        results = self._bulk.upsert(spec.object_name, plan.external_id_field, content)
        return ingest_write_results(payloads, plan.external_id_field, results)


def _query_all(soql: str, timeout: float, client: Salesforce) -> list[Any]:
    return list(client.query_all_iter(soql, include_deleted=False, timeout=timeout))


def _collection_upsert(
    spec: WriteSpec, plan: WritePlan, chunk: Sequence[Mapping[str, Any]]
) -> CollectionUpsert:
    path = (
        f"composite/sobjects/{checked_name(spec.object_name)}/"
        f"{checked_name(plan.external_id_field)}"
    )
    records = [{"attributes": {"type": spec.object_name}, **p} for p in chunk]
    return CollectionUpsert(path, {"allOrNone": False, "records": records})


def _upsert(upsert: CollectionUpsert, timeout: float, client: Salesforce) -> list[Any]:
    try:
        reply = client.restful(upsert.path, method="PATCH", json=upsert.body, timeout=timeout)
    except SalesforceError as error:
        # As for a Composite subrequest: a refusal caused by the records rejects them alone.
        if subrequest_error(error.status, error.content, upsert.path) is None:
            return rejected_answers(error.content, upsert.size)
        raise
    return upsert.answers_of(reply)
