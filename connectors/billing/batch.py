"""Batch upserts of the generic JSON profile: up to ``max_records`` records in one call.

The request and answer shapes are documented on
:class:`~connectors.billing.profile_file.Batch`. A batch carries one idempotency key, derived
from its body and the connector call's token, so a batch retried after a lost answer is
replayed by the API rather than applied twice. Each record gets its own result, in order; a
refused record is a rejection of that record only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import WriteOutcome, WriteResult
from connectors.billing.http import ApiRequest, BillingHttpClient
from connectors.billing.json_profile import (
    field_at,
    idempotency_key,
    json_object,
    payload_json,
    rejection,
    unencodable,
)
from connectors.billing.profile_file import Collection
from connectors.errors import ConnectorError

SYSTEM = "billing"

# One record of a batch: revbridge's external id and its payload, already encoded as JSON.
EncodedRecord = tuple[str, str]


def write_batch(
    client: BillingHttpClient,
    settings: Collection,
    collection: str,
    records: Sequence[tuple[str, Mapping[str, Any]]],
    write_token: str,
) -> list[WriteResult]:
    """Upsert ``records`` (external id, payload) in one call; one result each, in order."""
    results: list[WriteResult | None] = []
    encoded: list[EncodedRecord] = []
    for external_id, payload in records:
        try:
            encoded.append((external_id, payload_json(payload)))
        except (TypeError, ValueError) as error:
            results.append(unencodable(external_id, error))
        else:
            results.append(None)
    if not encoded:
        return [result for result in results if result is not None]
    response = client.send(batch_request(settings, collection, encoded, write_token))
    answers = iter(batch_results(settings, [external_id for external_id, _ in encoded], response))
    return [result if result is not None else next(answers) for result in results]


def batch_request(
    settings: Collection, collection: str, records: Sequence[EncodedRecord], write_token: str
) -> ApiRequest:
    """The batch call for ``records``, keyed so that only its own retries replay it."""
    if settings.batch is None:
        raise ValueError(f"collection {collection!r} has no batch endpoint")
    items = ",".join(
        f'{{"external_id":{json.dumps(external_id)},"data":{body}}}'
        for external_id, body in records
    )
    body = f'{{"records":[{items}]}}'.encode()
    path = settings.batch.path.format(collection=quote(collection, safe=""))
    key = idempotency_key(collection, "batch", body, write_token)
    return ApiRequest("POST", path, body=body, idempotency_key=key)


def batch_results(
    settings: Collection, external_ids: Sequence[str], response: requests.Response
) -> list[WriteResult]:
    """One result per record from a batch answer; a refused batch refuses each record."""
    if response.status_code >= 300:
        return [rejection(external_id, response) for external_id in external_ids]
    answers = json_object(response).get("data")
    if not isinstance(answers, list) or len(answers) != len(external_ids):
        count = len(answers) if isinstance(answers, list) else "no"
        message = (
            f"{response.request.method} {response.url} answered {count} results for "
            f"{len(external_ids)} records; check the profile's batch endpoint"
        )
        raise ConnectorError(message, system=SYSTEM)
    results = []
    for external_id, answer in zip(external_ids, answers, strict=True):
        said = answer.get("external_id") if isinstance(answer, Mapping) else None
        if said is not None and said != external_id:
            # Results out of order would credit one record with another's outcome.
            message = f"the batch answer has {said!r} where {external_id!r} was sent"
            raise ConnectorError(message, system=SYSTEM)
        results.append(_record_result(settings, external_id, answer))
    return results


def _record_result(settings: Collection, external_id: str, answer: Any) -> WriteResult:
    if not isinstance(answer, Mapping):
        answer = {}
    error = answer.get("error")
    if isinstance(error, Mapping) or "result" not in answer:
        error = error if isinstance(error, Mapping) else {}
        param = str(error.get("param") or "")
        return WriteResult(
            external_id,
            WriteOutcome.REJECTED,
            error_code=str(error.get("code") or f"http_{answer.get('status', 'unknown')}"),
            error_message=str(error.get("message") or "the batch answer has no result"),
            error_fields=(param,) if param else (),
        )
    created = answer.get("result") == "created"
    target_id = field_at(answer.get("record") or {}, settings.id_field)
    return WriteResult(
        external_id,
        WriteOutcome.CREATED if created else WriteOutcome.UPDATED,
        target_id=None if target_id is None else str(target_id),
    )
