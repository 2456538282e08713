"""The generic JSON billing profile: upsert by external id, incremental lists, any paging style.

Its endpoints and field names come from a profile file (:mod:`connectors.billing.profile_file`);
without one it uses the shipped ``connectors/billing/profiles/revbridge-generic.yaml``, which
describes revbridge's own sandbox API (``PUT /v1/{collection}/{external_id}``, keyset-paged lists).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import requests

from connectors.base import Cursor, DeleteResult, Page, RawRecord, WriteOutcome, WriteResult
from connectors.billing.deletes import delete_at
from connectors.billing.http import ApiRequest, BillingHttpClient, api_error
from connectors.billing.profile_file import (
    SHIPPED_PROFILE,
    Collection,
    CursorStyle,
    ProfileFile,
    load_profile,
)
from connectors.errors import ConfigError
from connectors.wire_values import json_payload_problem

SYSTEM = "billing"


def idempotency_key(collection: str, external_id: str, body: bytes, write_token: str) -> str:
    """Stable across retries of one write, distinct for a later write of the same content."""
    digest = hashlib.sha256(body).hexdigest()
    material = "\0".join((collection, external_id, digest, write_token))
    return "revbridge-" + hashlib.sha256(material.encode()).hexdigest()[:48]


def _json_default(value: Any) -> str:
    # Money goes out as a decimal string, never a float; dates as ISO 8601.
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def payload_json(payload: Mapping[str, Any]) -> str:
    """A payload as compact JSON with sorted keys, so equal content encodes (and hashes) equal.

    ValueError names the field JSON can't carry (NaN, infinity, a lone surrogate): json.dumps
    would write ``NaN`` (invalid JSON) or a surrogate escape no API can decode.
    """
    problem = json_payload_problem(payload)
    if problem is not None:
        raise ValueError(" ".join(problem))
    return json.dumps(
        payload, default=_json_default, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object; ConfigError when it is not one (wrong base URL, proxy page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        where = f"{response.request.method} {response.url}"
        message = f"{where} did not answer a JSON object; check billing.base_url"
        raise ConfigError(message, system=SYSTEM)
    return body


def rejection(external_id: str, response: requests.Response) -> WriteResult:
    """A 4xx answer as a per-record rejection carrying the API's code, message and param."""
    error = api_error(response)
    param = str(error.get("param") or "")
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code=str(error.get("code") or f"http_{response.status_code}"),
        error_message=str(error.get("message") or response.reason),
        error_fields=(param,) if param else (),
    )


def unencodable(external_id: str, error: Exception) -> WriteResult:
    """The rejection of a payload that cannot be sent as JSON."""
    return WriteResult(
        external_id,
        WriteOutcome.REJECTED,
        error_code="parameter_invalid",
        error_message=f"the payload cannot be encoded as JSON: {error}",
    )


def _order_key(cursor: Cursor) -> tuple[datetime, str]:
    try:
        stamp = datetime.fromisoformat(cursor.modified)
    except ValueError:
        raise ConfigError(f"unreadable timestamp {cursor.modified!r}", system=SYSTEM) from None
    # Compare aware datetimes only; a stamp without an offset is taken as UTC.
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC), cursor.record_id)


def field_at(record: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path (``data.items``), or None where the path runs out."""
    node: Any = record
    for step in dotted.split("."):
        node = node.get(step) if isinstance(node, Mapping) else None
    return node


class JsonProfile:
    """The generic JSON profile, driven by a :class:`ProfileFile` (the shipped one by default)."""

    def __init__(self, profile: ProfileFile | None = None) -> None:
        self._profile = profile or load_profile(SHIPPED_PROFILE)

    def settings(self, collection: str) -> Collection:
        """The profile's endpoints and field names for ``collection``."""
        return self._profile.collection(collection)

    def batch_size(self, collection: str) -> int | None:
        """Records per batch call for ``collection``; None when it has no batch endpoint."""
        batch = self._profile.collection(collection).batch
        return None if batch is None else batch.max_records

    def upsert_request(
        self, collection: str, external_id: str, payload: Mapping[str, Any]
    ) -> ApiRequest:
        """The upsert call with a JSON body, keys sorted so equal content hashes equal."""
        upsert = self._profile.collection(collection).upsert
        body = payload_json(payload)
        path = upsert.path.format(
            collection=quote(collection, safe=""), external_id=quote(external_id, safe="")
        )
        return ApiRequest(upsert.method, path, body=body.encode())

    def write_result(
        self, external_id: str, response: requests.Response, collection: str = ""
    ) -> WriteResult:
        """Created status -> created, other 2xx -> updated, 4xx -> rejected with code and param."""
        if response.status_code >= 300:
            return rejection(external_id, response)
        settings = self._profile.collection(collection or "*")
        created = response.status_code == settings.upsert.created_status
        target_id = field_at(json_object(response), settings.id_field)
        return WriteResult(
            external_id,
            WriteOutcome.CREATED if created else WriteOutcome.UPDATED,
            target_id=None if target_id is None else str(target_id),
        )

    def write_record(
        self,
        client: BillingHttpClient,
        collection: str,
        external_id: str,
        payload: Mapping[str, Any],
        write_token: str,
    ) -> WriteResult:
        """Upsert one record with an idempotency key stable across this call's retries."""
        try:
            request = self.upsert_request(collection, external_id, payload)
        except (TypeError, ValueError) as error:
            return unencodable(external_id, error)
        key = idempotency_key(collection, external_id, request.body or b"", write_token)
        response = client.send(replace(request, idempotency_key=key))
        return self.write_result(external_id, response, collection)

    def fetch_records(
        self, client: BillingHttpClient, collection: str, record_ids: Sequence[str]
    ) -> list[RawRecord]:
        """The records with these external ids as the API has them now; missing left out."""
        found = (self.fetch_record(client, collection, external_id) for external_id in record_ids)
        return [record for record in found if record is not None]

    def fetch_record(
        self, client: BillingHttpClient, collection: str, external_id: str
    ) -> RawRecord | None:
        """The record with this external id as the API has it now (GET on its upsert path)."""
        upsert = self._profile.collection(collection).upsert
        path = upsert.path.format(
            collection=quote(collection, safe=""), external_id=quote(external_id, safe="")
        )
        response = client.send(ApiRequest("GET", path), missing_ok=True)
        if response.status_code == 404:
            return None
        return json_object(response)

    def delete_record(
        self, client: BillingHttpClient, collection: str, external_id: str, target_id: str
    ) -> DeleteResult:
        """``DELETE`` on the record's upsert path (by revbridge's external id)."""
        upsert = self._profile.collection(collection).upsert
        path = upsert.path.format(
            collection=quote(collection, safe=""), external_id=quote(external_id, safe="")
        )
        return delete_at(client, path, target_id)

    def list_request(
        self, collection: str, limit: int, since: Cursor | None, after: Cursor | None = None
    ) -> ApiRequest:
        """The first list call: the since-filter (inclusive) from the cursor, or ``after``'s."""
        settings = self._profile.collection(collection)
        params = {settings.limit_param: str(limit)}
        start = after or since
        if start is not None:
            params[settings.since_param] = start.modified
        if after is not None and isinstance(settings.paging, CursorStyle):
            params[settings.paging.param] = after.record_id
        path = settings.list_path.format(collection=quote(collection, safe=""))
        return settings.paging_strategy().first(ApiRequest("GET", path, params=params))

    def list_page(
        self, response: requests.Response, collection: str = ""
    ) -> tuple[list[RawRecord], dict[str, Any]]:
        """The records of a list answer, and the answer's body."""
        body = json_object(response)
        records = field_at(body, self._profile.collection(collection or "*").records_field)
        return list(records or []), body

    def position(self, record: RawRecord, collection: str = "") -> Cursor:
        """``(cursor field, id)``: the order the list endpoint returns."""
        settings = self._profile.collection(collection or "*")
        return Cursor(
            modified=str(field_at(record, settings.cursor_field)),
            record_id=str(field_at(record, settings.id_field)),
        )

    def read(
        self, client: BillingHttpClient, collection: str, since: Cursor | None, page_size: int
    ) -> Iterator[Page]:
        """Pages of records changed strictly after ``since``, in (cursor field, id) order."""
        paging = self._profile.collection(collection).paging_strategy()
        request: ApiRequest | None = self.list_request(collection, page_size, since)
        position, calls = since, 0
        while request is not None:
            response = client.send(request)
            records, body = self.list_page(response, collection)
            calls += 1
            fresh = self._after(records, position, collection)
            if fresh:
                position = self.position(fresh[-1], collection)
                yield Page(records=fresh, cursor=position, api_calls=calls)
                calls = 0
            request = paging.next(request, response, body, records)

    def _after(
        self, records: list[RawRecord], since: Cursor | None, collection: str
    ) -> list[RawRecord]:
        keys = [_order_key(self.position(record, collection)) for record in records]
        # Out-of-order data would let the cursor jump past records: fail loudly instead.
        if any(later <= earlier for earlier, later in pairwise(keys)):
            raise ConfigError("the list answer is not in (updated, id) order", system=SYSTEM)
        # The since-filter is inclusive, so the record at the cursor and its ties come back.
        floor = _order_key(since) if since is not None else None
        return [
            record
            for record, key in zip(records, keys, strict=True)
            if floor is None or key > floor
        ]
