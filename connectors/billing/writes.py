"""How one connector call's records reach the billing API: batches, or single writes in parallel.

A profile collection with a batch endpoint gets its records in batches of ``max_records``; any
other (the Stripe profile, generic profiles without ``batch``) gets one call per record. Either
way up to ``billing.max_concurrency`` calls are in flight at once, and the results come back
one per payload in the payloads' order. Writes of the same external id stay in one sequence,
so two payloads for one record never race to create it twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.billing.batch import write_batch
from connectors.billing.http import BillingHttpClient
from connectors.billing.json_profile import JsonProfile
from connectors.billing.stripe.profile import EXISTING_ID_KEY, StripeProfile
from connectors.concurrent_calls import call_all

# A payload ready to send: its position in the call, revbridge's external id, the payload.
_Ready = tuple[int, str, Mapping[str, Any]]


class RecordWriter(Protocol):
    """A profile's single-record write (what a ``BillingProfile`` has)."""

    def write_record(
        self,
        client: BillingHttpClient,
        collection: str,
        external_id: str,
        payload: Mapping[str, Any],
        write_token: str,
    ) -> WriteResult:
        """Create or update one record; a record-level refusal comes back as REJECTED."""
        ...


class BillingWriter:
    """Writes one connector call's payloads with the profile's best call pattern."""

    def __init__(
        self, profile: RecordWriter, client: BillingHttpClient, max_concurrency: int
    ) -> None:
        self._profile = profile
        self._client = client
        self._limit = max_concurrency

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        """One result per payload, in order; one bad record never stops the others."""
        # One token per call: retries inside this call replay, a later call with the same
        # content (A -> B -> A) is a new request rather than a replay of the first A.
        write_token = uuid.uuid4().hex
        results: list[WriteResult | None] = [None] * len(payloads)
        ready: list[_Ready] = []
        for position, payload in enumerate(payloads):
            external_id = payload.get(spec.external_id_field)
            if not isinstance(external_id, str) or not external_id:
                results[position] = _missing_id(spec, external_id)
            else:
                wire = self._wire_payload(spec, external_id, payload)
                ready.append((position, external_id, wire))
        for position, result in self._send(spec.object_name, ready, write_token):
            results[position] = result
        return [result for result in results if result is not None]

    def _send(
        self, collection: str, ready: list[_Ready], write_token: str
    ) -> list[tuple[int, WriteResult]]:
        profile = self._profile
        size = profile.batch_size(collection) if isinstance(profile, JsonProfile) else None
        groups = _batches(ready, size) if size else _by_record(ready)
        send = self._send_batch if size else self._send_one_by_one
        calls: list[Callable[[], list[tuple[int, WriteResult]]]] = [
            partial(send, collection, group, write_token) for group in groups
        ]
        answered = call_all(calls, self._limit, name="billing-write")
        return [item for answer in answered for item in answer]

    def _send_batch(
        self, collection: str, group: list[_Ready], write_token: str
    ) -> list[tuple[int, WriteResult]]:
        assert isinstance(self._profile, JsonProfile)  # only JsonProfile collections batch
        records = [(external_id, payload) for _, external_id, payload in group]
        settings = self._profile.settings(collection)
        answers = write_batch(self._client, settings, collection, records, write_token)
        return [(position, answer) for (position, _, _), answer in zip(group, answers, strict=True)]

    def _send_one_by_one(
        self, collection: str, group: list[_Ready], write_token: str
    ) -> list[tuple[int, WriteResult]]:
        write = self._profile.write_record
        return [
            (position, write(self._client, collection, external_id, payload, write_token))
            for position, external_id, payload in group
        ]

    def _wire_payload(
        self, spec: WriteSpec, external_id: str, payload: Mapping[str, Any]
    ) -> Mapping[str, Any]:
        if not isinstance(self._profile, StripeProfile):
            return payload
        # Stripe has no external id field: the id travels as metadata[revbridge_id], and the
        # Stripe id revbridge already knows saves a metadata search.
        wire = {k: v for k, v in payload.items() if k != spec.external_id_field}
        if external_id in spec.known_target_ids:
            wire[EXISTING_ID_KEY] = spec.known_target_ids[external_id]
        return wire


def _batches(ready: list[_Ready], size: int) -> list[list[_Ready]]:
    return [ready[start : start + size] for start in range(0, len(ready), size)]


def _by_record(ready: list[_Ready]) -> list[list[_Ready]]:
    # Payloads of one external id go in one group, in order: concurrent writers never race
    # to create the same record (Stripe finds records by a search, not by a unique key).
    groups: dict[str, list[_Ready]] = {}
    for item in ready:
        groups.setdefault(item[1], []).append(item)
    return list(groups.values())


def _missing_id(spec: WriteSpec, external_id: Any) -> WriteResult:
    return WriteResult(
        str(external_id or ""),
        WriteOutcome.REJECTED,
        error_code="parameter_missing",
        error_message=f"the payload has no {spec.external_id_field}",
        error_fields=(spec.external_id_field,),
    )
