"""Capture and delivery never hand the store what it can't keep, and never raise for a record.

PostgreSQL refuses U+0000 in JSON and text, and a lone surrogate has no UTF-8 form: the
source's copy of a record and an error's payload keep U+FFFD in their place. A 100 kB value
in an error message is cut short; a stripped field is noted on the captured record.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mappings.loader import load_mapping_set, shipped_mapping_files
from mappings.mapping_set import EntityMapping, MappingSet
from sync.engine.capture import CapturedRecord, CaptureFailure, capture_record
from sync.engine.deliver import Delivery, review_delivery
from sync.engine.storable import MESSAGE_LIMIT, storable
from sync.store.schema import ErrorStage, JsonText, dump_json

RAW = {
    "Id": "0015g00000ACCT0001",
    "SystemModstamp": "2026-01-05T10:00:00.000+0000",
    "Name": "Acme",
    "CurrencyIsoCode": "USD",
    "AccountNumber": None, "Type": None, "Phone": None, "Website": None,
    "BillingStreet": None, "BillingCity": None, "BillingState": None,
    "BillingPostalCode": None, "BillingCountry": None,
}  # fmt: skip


STRIP = "text: {illegal_characters: strip}"


class NoRefs:
    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        return None

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        return None


def _accounts(mapping_set: MappingSet) -> EntityMapping:
    return mapping_set.system("salesforce").entities["account"]


def _stripping_accounts(tmp_path: Path) -> EntityMapping:
    shipped = {path.name: path for path in shipped_mapping_files()}
    text = shipped["salesforce.yaml"].read_text(encoding="utf-8")
    stripping = tmp_path / "salesforce.yaml"
    stripping.write_text(
        text.replace(
            "system: salesforce\n", "system: salesforce\ntext: {illegal_characters: strip}\n"
        ),
        encoding="utf-8",
    )
    paths = [stripping if name == "salesforce.yaml" else path for name, path in shipped.items()]
    return load_mapping_set(paths).system("salesforce").entities["account"]


def test_a_rejected_record_is_queued_with_a_storable_copy_of_its_source(
    mapping_set: MappingSet,
) -> None:
    raw = {**RAW, "Name": "Bad\x00Nul\x1bEsc", "Website": "x\ud800"}

    outcome = capture_record(_accounts(mapping_set), raw, NoRefs())

    assert isinstance(outcome, CaptureFailure)
    assert outcome.stage is ErrorStage.MAP
    assert outcome.message.startswith(
        "account.name contains control character U+0000 at position 4, control character "
        "U+001B at position 8"
    )
    assert outcome.raw["Name"] == "Bad\ufffdNul\x1bEsc"
    assert outcome.raw["Website"] == "x\ufffd"
    json.dumps(outcome.raw, ensure_ascii=False).encode("utf-8")  # storable as UTF-8


def test_a_100_kb_value_leaves_a_short_message(mapping_set: MappingSet) -> None:
    outcome = capture_record(_accounts(mapping_set), {**RAW, "Name": "x" * 100_000}, NoRefs())

    assert isinstance(outcome, CaptureFailure)
    assert outcome.stage is ErrorStage.VALIDATE
    assert "name: String should have at most 255 characters" in outcome.message
    assert len(outcome.message) <= MESSAGE_LIMIT


def test_stripped_text_lands_and_each_field_is_noted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw = {**RAW, "Name": "Bad\x00Nul\x1bEsc", "Phone": "+1\x0b555"}

    with caplog.at_level(logging.WARNING, logger="revbridge.sync"):
        outcome = capture_record(_stripping_accounts(tmp_path), raw, NoRefs())

    assert isinstance(outcome, CapturedRecord)
    assert outcome.record.name == "BadNulEsc"  # type: ignore[attr-defined]
    assert outcome.stripped == (
        "account.name: stripped control character U+0000 at position 4, control character "
        "U+001B at position 8",
        "account.phone: stripped control character U+000B at position 3",
    )
    assert isinstance(outcome.raw, dict)  # cleaned, so not the store's text of the original
    assert outcome.raw["Name"] == "Bad\ufffdNul\x1bEsc"
    assert [r.getMessage() for r in caplog.records] == [
        f"account 0015g00000ACCT0001 from salesforce: {note}" for note in outcome.stripped
    ]


def test_a_clean_source_record_is_kept_as_the_store_writes_it(mapping_set: MappingSet) -> None:
    outcome = capture_record(_accounts(mapping_set), RAW, NoRefs())

    assert isinstance(outcome, CapturedRecord)
    assert isinstance(outcome.raw, JsonText)
    assert outcome.raw == dump_json(RAW)


def test_a_captured_record_whose_source_holds_nan_or_nul_keeps_a_storable_copy(
    mapping_set: MappingSet,
) -> None:
    # Type is looked up with `unmapped: default`: the record lands with the default status.
    for odd, kept in ((float("nan"), "nan"), (float("-inf"), "-inf"), ("Cust\x00", "Cust\ufffd")):
        outcome = capture_record(_accounts(mapping_set), {**RAW, "Type": odd}, NoRefs())

        assert isinstance(outcome, CapturedRecord)
        assert outcome.raw == {**RAW, "Type": kept}


def test_a_delivery_failure_keeps_a_storable_payload_and_message(mapping_set: MappingSet) -> None:
    captured = capture_record(_accounts(mapping_set), RAW, NoRefs())
    assert isinstance(captured, CapturedRecord)
    delivery = Delivery(system="billing")

    delivery.fail(captured, ErrorStage.WRITE, "RecordRejected", "bad \x00" * 2000, {"n": "a\udc00"})

    failure = delivery.failures[0]
    assert failure.payload == {"n": "a\ufffd"}
    assert "\x00" not in failure.message
    assert len(failure.message) <= MESSAGE_LIMIT


def test_outbound_text_a_target_cannot_take_fails_that_target_only(
    tmp_path: Path, mapping_set: MappingSet
) -> None:
    billing = mapping_set.system("billing").entities["account"]
    captured = capture_record(_accounts(mapping_set), RAW, NoRefs())
    assert isinstance(captured, CapturedRecord)
    json_form: dict[str, Any] = {**captured.canonical_json, "phone": "+1\x0b555"}
    object.__setattr__(captured, "given_json", json_form)

    delivery, pending = review_delivery(billing, [captured], object(), {}, NoRefs())  # type: ignore[arg-type]

    assert pending == []
    assert delivery.failures[0].stage is ErrorStage.MAP
    assert delivery.failures[0].message.startswith("account.phone contains control character")


def test_storable_cleans_keys_and_nested_lists() -> None:
    assert storable({"a\x00": [{"b": "\ud800"}, 1.5, None]}) == {
        "a\ufffd": [{"b": "\ufffd"}, 1.5, None]
    }
