"""Delivery to one target: skip unchanged payloads, map per-record results, never stop a batch."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.base import Connector, Cursor, Page, ReadSpec, WriteOutcome, WriteResult, WriteSpec
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.capture import CapturedRecord, CaptureFailure, capture_record
from sync.engine.deliver import Delivery
from sync.engine.deliver_targets import deliver_to_targets
from sync.store.records import XrefEntry
from sync.store.schema import ErrorStage


class FakeTarget:
    """A target that answers each payload with a scripted outcome and remembers what it got."""

    system = "billing"

    def __init__(self, outcomes: Sequence[WriteOutcome]) -> None:
        self.outcomes = list(outcomes)
        self.received: list[dict[str, Any]] = []
        self.known_target_ids: dict[str, str] = {}

    def check(self) -> None:
        """Nothing to check."""

    def read(self, spec: ReadSpec, since: Cursor | None) -> Iterator[Page]:
        raise NotImplementedError

    def write(self, spec: WriteSpec, payloads: Sequence[Mapping[str, Any]]) -> list[WriteResult]:
        self.received.extend(dict(payload) for payload in payloads)
        self.known_target_ids.update(spec.known_target_ids)
        results = []
        for payload, outcome in zip(payloads, self.outcomes, strict=False):
            external_id = str(payload[spec.external_id_field])
            if outcome is WriteOutcome.REJECTED:
                results.append(
                    WriteResult(
                        external_id,
                        outcome,
                        error_code="parameter_invalid",
                        error_message="name is too long",
                    )
                )
            else:
                results.append(
                    WriteResult(external_id, outcome, target_id=f"cus_{external_id[:6]}")
                )
        return results

    def close(self) -> None:
        """Nothing to close."""


class NoRefs:
    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return None

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return None


def _account(mapping_set: MappingSet, number: int) -> CapturedRecord:
    raw = {
        "Id": f"0015g00000ACCT{number:04d}",
        "SystemModstamp": "2026-01-05T10:00:00.000+0000",
        "Name": f"Account {number}",
        "CurrencyIsoCode": "USD",
        "AccountNumber": None, "Type": None, "Phone": None, "Website": None,
        "BillingStreet": None, "BillingCity": None, "BillingState": None,
        "BillingPostalCode": None, "BillingCountry": None,
    }  # fmt: skip
    captured = capture_record(mapping_set.system("salesforce").entities["account"], raw, NoRefs())
    assert isinstance(captured, CapturedRecord), captured
    return captured


def deliver(
    target: EntityMapping,
    records: Sequence[CapturedRecord],
    connector: Connector,
    written: Mapping[str, XrefEntry],
    refs: NoRefs,
) -> Delivery:
    """Deliver to one target the way a run does (review, then write)."""
    system = target.system
    (delivery,) = deliver_to_targets(
        [target], records, {system: connector}, {system: written}, refs
    )
    return delivery


def test_rejected_record_is_reported_and_the_rest_of_the_batch_lands(
    mapping_set: MappingSet,
) -> None:
    target = mapping_set.system("billing").entities["account"]
    records = [_account(mapping_set, n) for n in range(3)]
    fake = FakeTarget([WriteOutcome.CREATED, WriteOutcome.REJECTED, WriteOutcome.UPDATED])

    delivery = deliver(target, records, fake, {}, NoRefs())

    assert (delivery.created, delivery.updated, len(delivery.failures)) == (1, 1, 1)
    failure = delivery.failures[0]
    assert failure.captured is records[1]
    assert failure.stage is ErrorStage.WRITE
    assert failure.code == "parameter_invalid"
    assert failure.payload is not None
    assert failure.payload["name"] == "Account 1"
    assert {x.canonical_id for x in delivery.xrefs} == {records[0].record.id, records[2].record.id}


def test_unchanged_payload_is_not_sent_again(mapping_set: MappingSet) -> None:
    target = mapping_set.system("billing").entities["account"]
    records = [_account(mapping_set, n) for n in range(2)]
    first = deliver(target, records, FakeTarget([WriteOutcome.CREATED] * 2), {}, NoRefs())
    written = {x.canonical_id: x for x in first.xrefs}
    fake = FakeTarget([WriteOutcome.UPDATED] * 2)

    second = deliver(target, records, fake, written, NoRefs())

    assert fake.received == []
    assert second.unchanged == 2


def test_upserted_counts_as_created_only_without_a_previous_write(mapping_set: MappingSet) -> None:
    target = mapping_set.system("billing").entities["account"]
    old, new = _account(mapping_set, 1), _account(mapping_set, 2)
    prior = XrefEntry("billing", old.record.id, "account", "customers", "cus_old", "stale-hash")
    fake = FakeTarget([WriteOutcome.UPSERTED, WriteOutcome.UPSERTED])

    delivery = deliver(target, [old, new], fake, {old.record.id: prior}, NoRefs())

    assert (delivery.created, delivery.updated) == (1, 1)
    # The target learns the id it gave the record before, for systems without upsert by key.
    assert fake.known_target_ids == {old.record.id: "cus_old"}


def test_unknown_status_stops_the_order_at_the_map_stage(mapping_set: MappingSet) -> None:
    order_mapping = mapping_set.system("salesforce").entities["order"]
    raw = {
        "Id": "8015g00000ORDER001",
        "SystemModstamp": "2026-01-05T10:00:00.000+0000",
        "AccountId": None,
        "Status": "Pending",
        "EffectiveDate": "2026-02-01",
        "CurrencyIsoCode": "USD",
        "TotalAmount": 10.0,
        "OrderItems": None,
    }
    outcome = capture_record(order_mapping, raw, NoRefs())
    assert isinstance(outcome, CaptureFailure)
    assert outcome.stage is ErrorStage.MAP
    assert "Pending" in outcome.message
    assert outcome.raw is raw
