"""One record's data never fails an ERP write for the others, and the ERP's own failures still do.

A value XML 1.0 can't carry (a control character, a lone surrogate) or a number a double would
round is refused before zeep renders the call, so the other 99 records of an ``upsertList`` go
out; a value zeep refuses anyway is isolated by splitting the call. A SOAP fault for the whole
call, or a rejection of every record, stays per record; a WSDL that does not parse stays a
ConfigError.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.erp.connector import ErpConnector
from connectors.erp.records import RecordBuilder
from connectors.errors import ConfigError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

CUSTOMERS = WriteSpec("Customer", "externalId")
ORDERS = WriteSpec("SalesOrder", "externalId")
ITEMS = WriteSpec("ServiceSaleItem", "externalId")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    return running_sandbox


def _connector(sandbox: ErpSandbox, **overrides: Any) -> ErpConnector:
    settings = erp_settings(sandbox, **overrides)
    return ErpConnector(settings, RetrySettings(attempts=2), wsdl_cache=None, sleep=lambda _: None)


def _customers(count: int) -> list[dict[str, Any]]:
    return [{"externalId": f"c{n}", "companyName": f"Customer {n}"} for n in range(count)]


def _rejected(results: list[WriteResult]) -> dict[str, WriteResult]:
    return {r.external_id: r for r in results if r.outcome is WriteOutcome.REJECTED}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("companyName", "Bad\x00Nul\x1bEsc", "control character U+0000 at position 4"),
        ("phone", "555\ud800", "lone surrogate U+D800 at position 4"),
        ("url", "https://x/\uffff", "noncharacter U+FFFF"),
    ],
)
def test_one_record_with_text_xml_cannot_carry_is_left_out_of_a_full_call(
    sandbox: ErpSandbox, field: str, value: str, reason: str
) -> None:
    erp = _connector(sandbox)
    payloads = _customers(100)
    payloads[41] = {**payloads[41], field: value}

    results = erp.write(CUSTOMERS, payloads)
    erp.close()

    rejected = _rejected(results)
    assert list(rejected) == ["c41"]
    assert rejected["c41"].error_code == "INVALID_PAYLOAD"
    assert rejected["c41"].error_fields == (field,)
    assert reason in rejected["c41"].error_message
    assert len([key for key in sandbox.records if key[0] == "Customer"]) == 99
    assert sandbox.operations["upsertList"] == 1  # the 99 others went in one call


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1234567890123456789012345678901234567891", "has 40 significant digits"),
        ("NaN", "expected a finite decimal number"),
        ("-Infinity", "expected a finite decimal number"),
        ("1E+400", "beyond the largest double"),
    ],
)
def test_a_number_a_double_cannot_hold_exactly_rejects_only_its_record(
    sandbox: ErpSandbox, value: str, reason: str
) -> None:
    erp = _connector(sandbox)
    erp.write(CUSTOMERS, _customers(1))
    erp.write(ITEMS, [{"externalId": "p0", "itemId": "SKU-0"}])
    orders = [
        {"externalId": f"o{n}", "entity": {"externalId": "c0"}, "tranDate": "2026-01-05",
         "itemList": {"item": [{"item": {"externalId": "p0"}, "quantity": "1",
                                "amount": value if n == 1 else "10.00"}]}}
        for n in range(3)
    ]  # fmt: skip

    results = erp.write(ORDERS, orders)
    erp.close()

    rejected = _rejected(results)
    assert list(rejected) == ["o1"]
    assert rejected["o1"].error_fields == ("itemList.item.amount",)
    assert reason in rejected["o1"].error_message


def test_a_value_zeep_cannot_render_is_isolated_by_splitting_the_call(
    sandbox: ErpSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past the builder's checks (as a value nobody foresaw would be), zeep refuses the whole
    # request: the writer splits it until the record is alone, and the others still land.
    build = RecordBuilder.build

    def unchecked(self: RecordBuilder, record_type: Any, payload: Any) -> Any:
        record = build(self, record_type, {**payload, "companyName": "ok"})
        record["companyName"] = payload["companyName"]
        return record

    monkeypatch.setattr(RecordBuilder, "build", unchecked)
    erp = _connector(sandbox)
    payloads = _customers(8)
    payloads[5]["companyName"] = "Bad\x00Nul"

    results = erp.write(CUSTOMERS, payloads)
    erp.close()

    rejected = _rejected(results)
    assert list(rejected) == ["c5"]
    assert rejected["c5"].error_code == "INVALID_XML"
    assert "can't be written as SuiteTalk XML" in rejected["c5"].error_message
    assert sorted(key[1] for key in sandbox.records if key[0] == "Customer") == [
        f"c{n}" for n in (0, 1, 2, 3, 4, 6, 7)
    ]


def test_a_rejection_of_every_record_of_a_call_is_still_one_result_per_record(
    sandbox: ErpSandbox,
) -> None:
    erp = _connector(sandbox)
    orders = [
        {"externalId": f"o{n}", "entity": {"externalId": "nobody"}, "tranDate": "2026-01-05"}
        for n in range(5)
    ]

    results = erp.write(ORDERS, orders)
    erp.close()

    assert [r.outcome for r in results] == [WriteOutcome.REJECTED] * 5
    assert {r.error_code for r in results} == {"INVALID_KEY_OR_REF"}


def test_a_schema_fault_for_the_whole_call_rejects_only_the_records_it_blames(
    sandbox: ErpSandbox,
) -> None:
    erp = _connector(sandbox)
    sandbox.poison("c2", "c6")

    results = erp.write(CUSTOMERS, _customers(8))
    erp.close()

    assert sorted(_rejected(results)) == ["c2", "c6"]
    assert len([key for key in sandbox.records if key[0] == "Customer"]) == 6


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("", "WSDL or response unusable .*XMLSyntaxError"),
        ("not xml at all {", "WSDL at .* could not be read"),
        ("<definitions><unclosed></definitions>", "not a NetSuite SuiteTalk WSDL"),
    ],
)
def test_a_wsdl_that_does_not_parse_stays_a_config_error_even_on_a_write(
    sandbox: ErpSandbox, tmp_path: Path, document: str, reason: str
) -> None:
    broken = tmp_path / "netsuite.wsdl"
    broken.write_text(document, encoding="utf-8")
    erp = _connector(sandbox, wsdl_url=str(broken))

    with pytest.raises(ConfigError, match=reason):
        erp.write(CUSTOMERS, _customers(2))
    erp.close()
