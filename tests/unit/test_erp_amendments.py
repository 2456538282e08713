"""The pure side of connectors.erp.amendments: which payloads change an original, the credit
memo split off an order, and how an amendment's lines merge into the original's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import WriteOutcome, WriteResult
from connectors.erp.amendments import (
    apply_changes,
    changes_original,
    combined,
    credit_memo_of,
)

OK = WriteResult("ord-2", WriteOutcome.UPSERTED, target_id="1002")
REFUSED = WriteResult("ord-2-credit", WriteOutcome.REJECTED, error_code="X", error_message="no")


@pytest.mark.parametrize(
    ("object_name", "payload", "expected"),
    [
        ("SalesOrder", {"externalId": "a", "internalId": "1001"}, True),
        ("SalesOrder", {"externalId": "a"}, False),
        ("SalesOrder", {"externalId": "a", "internalId": None}, False),
        ("Estimate", {"externalId": "a", "internalId": "1001"}, False),
    ],
)
def test_only_a_sales_order_naming_an_internal_id_changes_an_original(
    object_name: str, payload: Mapping[str, Any], expected: bool
) -> None:
    assert changes_original(object_name, payload) is expected


def _order(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"externalId": "ord-2", "entity": {"externalId": "acc-1"},
            "currency": {"internalId": "1"}, "itemList": {"item": list(lines)}}  # fmt: skip


def test_a_cancelled_line_raises_a_credit_memo_beside_its_order() -> None:
    cancelled = {"item": {"externalId": "prod-b"}, "quantity": "-4.0", "custcol_rb_line": 202,
                 "custcol_rb_as_of": "2026-07-01", "custcol_rb_credit": Decimal("80.00"),
                 "custcol_rb_credit_quantity": Decimal("4.0")}  # fmt: skip
    kept = {"item": {"externalId": "prod-a"}, "quantity": "-3.0", "custcol_rb_as_of": "2026-05-01"}

    memo = credit_memo_of("SalesOrder", _order(kept, cancelled))

    assert memo == {
        "externalId": "ord-2-credit",
        "entity": {"externalId": "acc-1"},
        "tranDate": "2026-07-01",
        "memo": "Unused part of cancelled subscriptions",
        "itemList": {"item": [
            {"item": {"externalId": "prod-b"}, "amount": "80.00", "quantity": "4.0", "rate": "20"}
        ]},
        "currency": {"internalId": "1"},
    }  # fmt: skip


def test_a_credit_without_units_credits_the_amount_alone() -> None:
    line = {"item": {"externalId": "prod-b"}, "custcol_rb_credit": "12.5",
            "custcol_rb_as_of": "2026-07-01"}  # fmt: skip

    memo = credit_memo_of("SalesOrder", _order(line))

    assert memo is not None
    assert memo["itemList"]["item"] == [{"item": {"externalId": "prod-b"}, "amount": "12.5"}]


@pytest.mark.parametrize(
    ("object_name", "line"),
    [
        ("SalesOrder", {"item": {"externalId": "prod-a"}, "quantity": "5"}),
        ("SalesOrder", {"item": {"externalId": "prod-a"}, "custcol_rb_credit": None}),
        ("Estimate", {"item": {"externalId": "prod-a"}, "custcol_rb_credit": "80"}),
    ],
)
def test_no_credit_memo_without_a_credited_sales_order_line(
    object_name: str, line: dict[str, Any]
) -> None:
    assert credit_memo_of(object_name, _order(line)) is None


def test_a_refused_credit_memo_refuses_its_landed_order_and_a_held_one_holds_it() -> None:
    refused = combined(OK, REFUSED)

    assert refused is not None
    assert (refused.external_id, refused.outcome, refused.error_code) == (
        "ord-2", WriteOutcome.REJECTED, "X"
    )  # fmt: skip
    assert refused.error_message == "the sales order landed but its credit memo did not: no"
    assert combined(OK, None) is None
    assert combined(None, OK) is None
    assert combined(OK, WriteResult("ord-2-credit", WriteOutcome.UPSERTED)) == OK
    order_refused = WriteResult("ord-2", WriteOutcome.REJECTED, error_message="order")
    assert combined(order_refused, REFUSED) == order_refused


ORIGINAL = {
    "internalId": "1001",
    "externalId": "ord-1",
    "itemList": {"item": [
        # As read back: custom fields in the line's customFieldList, numbers as text.
        {"line": "1", "item": {"externalId": "prod-a"}, "quantity": "10.0",
         "customFieldList": {"customField": [
             {"scriptId": "custcol_rb_line", "value": "101.0"},
             {"scriptId": "custcol_rb_as_of", "value": "2026-01-01T00:00:00"},
         ]}},
    ]},
}  # fmt: skip


def _change(external_id: str, quantity: str, as_of: str, revises: int | None = 101,
            number: int = 201, item: str = "prod-a") -> dict[str, Any]:  # fmt: skip
    line: dict[str, Any] = {"item": {"externalId": item}, "quantity": quantity,
                            "custcol_rb_line": number, "custcol_rb_as_of": as_of}  # fmt: skip
    if revises is not None:
        line["custcol_rb_revises"] = revises
    return {"externalId": external_id, "internalId": "1001", "itemList": {"item": [line]}}


def _applied(*payloads: dict[str, Any]) -> tuple[list[WriteResult], list[Mapping[str, Any]]]:
    sent: list[Mapping[str, Any]] = []

    def fetch(internal_ids: Sequence[str]) -> list[dict[str, Any]]:
        return [ORIGINAL] if "1001" in internal_ids else []

    def upsert(body: Mapping[str, Any]) -> WriteResult:
        sent.append(body)
        return WriteResult(str(body["externalId"]), WriteOutcome.UPSERTED, target_id="1001")

    return apply_changes(payloads, fetch, upsert), sent


def test_amendments_of_one_original_merge_oldest_first_into_one_upsert() -> None:
    results, sent = _applied(
        _change("amd-2", "12", "2026-05-01", number=202),
        _change("amd-1", "15", "2026-03-01"),
    )

    assert [(r.external_id, r.outcome, r.target_id) for r in results] == [
        ("amd-2", WriteOutcome.UPSERTED, None), ("amd-1", WriteOutcome.UPSERTED, None)
    ]  # fmt: skip
    assert sent == [{"externalId": "ord-1", "itemList": {"replaceAll": False, "item": [
        {"quantity": "12", "custcol_rb_as_of": "2026-05-01", "line": "1", "isClosed": False}
    ]}}]  # fmt: skip


def test_a_change_older_than_the_line_lands_without_sending_anything() -> None:
    results, sent = _applied(_change("amd-0", "9", "2025-12-01"))

    assert (results[0].external_id, results[0].outcome) == ("amd-0", WriteOutcome.UPSERTED)
    assert sent == []


def test_a_change_to_zero_closes_the_line_and_keeps_what_was_sold() -> None:
    _, sent = _applied(_change("amd-3", "0", "2026-07-01"))

    assert sent[0]["itemList"]["item"] == [
        {"custcol_rb_as_of": "2026-07-01", "line": "1", "isClosed": True}
    ]


def test_an_add_on_is_a_new_line_with_its_own_number() -> None:
    _, sent = _applied(_change("amd-4", "2", "2026-04-01", revises=None, number=204,
                               item="prod-c"))  # fmt: skip

    assert sent[0]["itemList"]["item"] == [{
        "item": {"externalId": "prod-c"}, "quantity": "2", "custcol_rb_line": 204,
        "custcol_rb_as_of": "2026-04-01", "isClosed": False,
    }]  # fmt: skip


def test_an_amendment_naming_a_line_the_original_lacks_is_refused_alone() -> None:
    results, sent = _applied(
        _change("amd-9", "15", "2026-03-01", revises=999),
        _change("amd-1", "15", "2026-03-01"),
    )

    assert [(r.external_id, r.outcome) for r in results] == [
        ("amd-9", WriteOutcome.REJECTED), ("amd-1", WriteOutcome.UPSERTED)
    ]  # fmt: skip
    assert "has no line 999" in results[0].error_message
    assert len(sent) == 1


def test_an_original_netsuite_no_longer_has_refuses_its_amendments_and_sends_nothing() -> None:
    missing = {**_change("amd-1", "15", "2026-03-01"), "internalId": "4040"}

    results, sent = _applied(missing)

    assert (results[0].outcome, results[0].error_code) == (
        WriteOutcome.REJECTED, "RCRD_DSNT_EXIST"
    )  # fmt: skip
    assert sent == []
