"""A captured record carries the store's JSON text and hash; its dict is built when asked for."""

from __future__ import annotations

from mappings.canonical import Account
from mappings.mapping_set import MappingSet
from sync.engine.capture import CapturedRecord, capture_record
from sync.engine.change import content_hash
from sync.store.schema import plain_json_text


class NoRefs:
    """Accounts refer to nothing (a parent account is left empty here)."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return None

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return None


RAW = {
    "Id": "0015g00000ACCT0001",
    "SystemModstamp": "2026-01-05T10:00:00.000+0000",
    "Name": 'Zoë "Quoted" \\ Co',
    "CurrencyIsoCode": "USD",
    "AccountNumber": None, "Type": None, "Phone": None, "Website": None,
    "BillingStreet": "1 Main St", "BillingCity": "Zürich", "BillingState": None,
    "BillingPostalCode": None, "BillingCountry": None,
}  # fmt: skip


def _captured(mapping_set: MappingSet) -> CapturedRecord:
    captured = capture_record(mapping_set.system("salesforce").entities["account"], RAW, NoRefs())
    assert isinstance(captured, CapturedRecord), captured
    return captured


def test_captured_record_text_and_hash_are_those_of_its_canonical_dict(
    mapping_set: MappingSet,
) -> None:
    captured = _captured(mapping_set)

    assert isinstance(captured.record, Account)
    assert captured.canonical_text == plain_json_text(captured.record.model_dump(mode="json"))
    assert captured.content_hash == content_hash(captured.record)
    assert captured.canonical_json == captured.record.model_dump(mode="json")


def test_canonical_json_is_built_once_and_kept(mapping_set: MappingSet) -> None:
    captured = _captured(mapping_set)

    assert captured.canonical_json is captured.canonical_json


def test_a_record_given_its_dict_stores_that_dict(mapping_set: MappingSet) -> None:
    record = _captured(mapping_set).record
    stored = {**record.model_dump(mode="json"), "name": "as stored earlier"}

    given = CapturedRecord("0015g00000ACCT0001", record, stored, "h1")

    assert given.canonical_json is stored
    assert given.canonical_text == plain_json_text(stored)
