"""Amendments written to NetSuite by the ERP connector, over real zeep and HTTP against the
loopback SuiteTalk sandbox: the original sales order changed in place, and a cancellation's
credit memo, with NetSuite failing the way it does (faults, lost replies, missing records)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import RetrySettings
from connectors.base import WriteOutcome, WriteResult, WriteSpec
from connectors.erp.connector import ErpConnector
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings

SALES_ORDERS = WriteSpec("SalesOrder", "externalId")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    running_sandbox.enter("Customer", {"externalId": "acc-1", "companyName": "Acme"})
    for item in ("prod-a", "prod-b", "prod-c"):
        running_sandbox.enter("ServiceSaleItem", {"externalId": item, "itemId": item})
    return running_sandbox


@pytest.fixture
def connector(sandbox: ErpSandbox) -> Iterator[ErpConnector]:
    erp = ErpConnector(
        erp_settings(sandbox), RetrySettings(attempts=3), wsdl_cache=None, sleep=lambda _: None
    )
    yield erp
    erp.close()


def _line(item: str, quantity: str, number: int, as_of: str, **extra: Any) -> dict[str, Any]:
    return {
        "item": {"externalId": item},
        "quantity": quantity,
        "rate": "40.0",
        "custcol_rb_line": number,
        "custcol_rb_as_of": as_of,
        **extra,
    }


def _original(connector: ErpConnector) -> str:
    """Sales order ``ord-1``: A at 10 (line 101) and B at 4 (line 102); its internalId."""
    order = {
        "externalId": "ord-1",
        "entity": {"externalId": "acc-1"},
        "tranDate": "2026-01-01",
        "itemList": {"item": [
            _line("prod-a", "10", 101, "2026-01-01"), _line("prod-b", "4", 102, "2026-01-01"),
        ]},
    }  # fmt: skip
    (result,) = connector.write(SALES_ORDERS, [order])
    assert result.ok
    assert result.target_id is not None
    return result.target_id


def _change(external_id: str, internal_id: str, *lines: dict[str, Any]) -> dict[str, Any]:
    """An amendment in the setting update_original, as erp.yaml builds it."""
    return {
        "externalId": external_id,
        "internalId": internal_id,
        "entity": {"externalId": "acc-1"},
        "tranDate": lines[0]["custcol_rb_as_of"],
        "itemList": {"item": list(lines)},
    }


def _revision(quantity: str, number: int, revises: int, as_of: str) -> dict[str, Any]:
    return _line("prod-a", quantity, number, as_of, custcol_rb_revises=revises)


def _stored_lines(sandbox: ErpSandbox) -> list[tuple[str, str, str, str]]:
    """(item, quantity, closed, as of) of each line of ``ord-1`` as NetSuite holds it."""
    order = sandbox.records[("SalesOrder", "ord-1")]
    lines = []
    for line in order["itemList"]["item"]:
        fields = {f["scriptId"]: f["value"] for f in line["customFieldList"]["customField"]}
        closed = str(line.get("isClosed", "false")).lower()
        lines.append(
            (line["item"]["externalId"], line["quantity"], closed, fields["custcol_rb_as_of"])
        )
    return lines


def _upserted(*external_ids: str) -> list[WriteResult]:
    return [WriteResult(e, WriteOutcome.UPSERTED) for e in external_ids]


def test_changes_set_the_original_lines_close_a_cancelled_one_and_add_add_ons(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    upsell = _change("amd-1", internal_id, _revision("15", 201, 101, "2026-03-01"))
    cancel = _change("amd-2", internal_id, _line("prod-b", "0", 202, "2026-07-01",
                                                 custcol_rb_revises=102))  # fmt: skip
    add_on = _change("amd-3", internal_id, _line("prod-c", "2", 203, "2026-04-01"))

    results = connector.write(SALES_ORDERS, [upsell, cancel, add_on])

    assert results == _upserted("amd-1", "amd-2", "amd-3")
    assert _stored_lines(sandbox) == [
        ("prod-a", "15", "false", "2026-03-01"),
        ("prod-b", "4", "true", "2026-07-01"),  # closed: it keeps what was sold
        ("prod-c", "2", "false", "2026-04-01"),
    ]
    # No sales order of their own, and the original's line numbers kept.
    assert {key for key in sandbox.records if key[0] == "SalesOrder"} == {("SalesOrder", "ord-1")}
    order = sandbox.records[("SalesOrder", "ord-1")]
    assert [line["line"] for line in order["itemList"]["item"]] == ["1", "2", "3"]


def test_an_older_change_arriving_after_a_newer_one_leaves_the_line_alone(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    downgrade = _change("amd-2", internal_id, _revision("12", 202, 101, "2026-05-01"))
    upsell = _change("amd-1", internal_id, _revision("15", 201, 101, "2026-03-01"))

    assert connector.write(SALES_ORDERS, [downgrade]) == _upserted("amd-2")
    assert connector.write(SALES_ORDERS, [upsell]) == _upserted("amd-1")

    assert _stored_lines(sandbox)[0] == ("prod-a", "12", "false", "2026-05-01")


def test_replaying_an_applied_change_changes_nothing(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    add_on = _change("amd-3", internal_id, _line("prod-c", "2", 203, "2026-04-01"))
    connector.write(SALES_ORDERS, [add_on])
    before = _stored_lines(sandbox)

    assert connector.write(SALES_ORDERS, [add_on]) == _upserted("amd-3")

    assert _stored_lines(sandbox) == before  # the add-on is not added twice


def test_a_reply_lost_after_the_change_is_retried_without_a_second_line(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    add_on = _change("amd-3", internal_id, _line("prod-c", "2", 203, "2026-04-01"))
    sandbox.script_faults([None, "lost_reply"])  # getList answers; the upsert's reply is lost

    assert connector.write(SALES_ORDERS, [add_on]) == _upserted("amd-3")

    assert [line[0] for line in _stored_lines(sandbox)] == ["prod-a", "prod-b", "prod-c"]
    assert sandbox.operations["upsertList"] == 3  # the original's, the lost one, its retry


def test_a_transient_fault_on_the_update_is_retried(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    sandbox.script_faults([None, "concurrency"])

    results = connector.write(
        SALES_ORDERS, [_change("amd-1", internal_id, _revision("15", 201, 101, "2026-03-01"))]
    )

    assert results == _upserted("amd-1")
    assert _stored_lines(sandbox)[0][:2] == ("prod-a", "15")


def test_a_soap_fault_refusing_the_update_rejects_the_amendment_and_changes_nothing(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    before = _stored_lines(sandbox)
    sandbox.poison("ord-1")  # NetSuite refuses any upsert of the original with a fault

    (result,) = connector.write(
        SALES_ORDERS, [_change("amd-1", internal_id, _revision("15", 201, 101, "2026-03-01"))]
    )

    assert result.outcome is WriteOutcome.REJECTED
    assert result.external_id == "amd-1"
    assert result.error_message
    assert _stored_lines(sandbox) == before


def test_a_line_the_original_does_not_have_is_refused_with_why(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    before = _stored_lines(sandbox)

    (result,) = connector.write(
        SALES_ORDERS, [_change("amd-9", internal_id, _revision("15", 209, 999, "2026-03-01"))]
    )

    assert (result.outcome, result.error_code) == (WriteOutcome.REJECTED, "INVALID_KEY_OR_REF")
    assert "has no line 999 (custcol_rb_line)" in (result.error_message or "")
    assert _stored_lines(sandbox) == before


def test_an_original_deleted_in_netsuite_is_refused_with_what_to_do(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    sandbox.delete("SalesOrder", "ord-1")

    (result,) = connector.write(
        SALES_ORDERS, [_change("amd-1", internal_id, _revision("15", 201, 101, "2026-03-01"))]
    )

    assert (result.outcome, result.error_code) == (WriteOutcome.REJECTED, "RCRD_DSNT_EXIST")
    assert f"the sales order {internal_id} this amendment changes is not in NetSuite" in (
        result.error_message or ""
    )


def _cancellation(item: str = "prod-b", credit: str | None = "80.00") -> dict[str, Any]:
    """A delta-setting cancellation order, its line marked with the credit erp.yaml computes."""
    line = _line(item, "-4", 202, "2026-07-01", custcol_rb_revises=102)
    if credit is not None:
        line |= {"custcol_rb_credit": credit, "custcol_rb_credit_quantity": "4"}
    return {
        "externalId": "amd-2",
        "entity": {"externalId": "acc-1"},
        "tranDate": "2026-07-01",
        "itemList": {"item": [line]},
    }


def test_a_cancellation_raises_its_credit_memo_once_even_when_the_reply_is_lost(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    sandbox.inject_fault("lost_reply")

    (result,) = connector.write(SALES_ORDERS, [_cancellation()])

    assert (result.external_id, result.outcome) == ("amd-2", WriteOutcome.UPSERTED)
    memos = [record for key, record in sandbox.records.items() if key[0] == "CreditMemo"]
    assert [(m["externalId"], m["tranDate"][:10], m["itemList"]["item"][0]["amount"])
            for m in memos] == [("amd-2-credit", "2026-07-01", "80.00")]  # fmt: skip


def test_an_order_cancelling_nothing_sends_no_credit_memo(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    (result,) = connector.write(SALES_ORDERS, [_cancellation(credit=None)])

    assert (result.external_id, result.outcome) == ("amd-2", WriteOutcome.UPSERTED)
    assert [key for key in sandbox.records if key[0] == "CreditMemo"] == []


def test_a_refused_credit_memo_keeps_its_order_in_the_error_queue(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    sandbox.poison("amd-2-credit")  # NetSuite refuses the memo (its call is split to find it)

    (result,) = connector.write(SALES_ORDERS, [_cancellation()])

    assert result.outcome is WriteOutcome.REJECTED
    assert (result.error_message or "").startswith(
        "the sales order landed but its credit memo did not: "
    )
    assert ("SalesOrder", "amd-2") in sandbox.records


@pytest.mark.parametrize("credit", ["NaN", "1E+400"])
def test_a_credit_no_netsuite_number_can_hold_refuses_the_order_and_raises_no_memo(
    sandbox: ErpSandbox, connector: ErpConnector, credit: str
) -> None:
    (result,) = connector.write(SALES_ORDERS, [_cancellation(credit=credit)])

    assert (result.outcome, result.error_code) == (WriteOutcome.REJECTED, "INVALID_PAYLOAD")
    assert (result.error_message or "").startswith(
        "the sales order landed but its credit memo did not: "
    )
    assert [key for key in sandbox.records if key[0] == "CreditMemo"] == []


def _original_payload() -> dict[str, Any]:
    return {
        "externalId": "ord-1",
        "entity": {"externalId": "acc-1"},
        "tranDate": "2026-01-01",
        "itemList": {"item": [
            _line("prod-a", "10", 101, "2026-01-01"), _line("prod-b", "4", 102, "2026-01-01"),
        ]},
    }  # fmt: skip


def test_an_original_sent_again_keeps_what_amendments_changed_on_it(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    connector.write(SALES_ORDERS, [
        _change("amd-2", internal_id, _revision("12", 202, 101, "2026-05-01")),
        _change("amd-3", internal_id, _line("prod-c", "2", 203, "2026-04-01")),
    ])  # fmt: skip
    resend = WriteSpec("SalesOrder", "externalId", known_target_ids={"ord-1": internal_id})
    original = _original_payload()
    original["itemList"]["item"][1]["rate"] = "45.0"  # the original itself changed too

    (result,) = connector.write(resend, [original])

    assert result.ok
    assert _stored_lines(sandbox) == [
        ("prod-a", "12", "false", "2026-05-01"),  # the downgrade kept
        ("prod-b", "4", "false", "2026-01-01"),
        ("prod-c", "2", "false", "2026-04-01"),  # the add-on kept
    ]
    order = sandbox.records[("SalesOrder", "ord-1")]
    assert order["itemList"]["item"][1]["rate"] == "45.0"


def test_an_original_no_amendment_touched_is_replaced_whole_when_sent_again(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    resend = WriteSpec("SalesOrder", "externalId", known_target_ids={"ord-1": internal_id})
    original = _original_payload()
    del original["itemList"]["item"][1]  # a line removed in the source goes in NetSuite too

    (result,) = connector.write(resend, [original])

    assert result.ok
    assert [line[0] for line in _stored_lines(sandbox)] == ["prod-a"]


def test_a_line_that_left_an_amended_original_is_closed_when_it_is_sent_again(
    sandbox: ErpSandbox, connector: ErpConnector
) -> None:
    internal_id = _original(connector)
    connector.write(SALES_ORDERS, [_change("amd-2", internal_id,
                                           _revision("12", 202, 101, "2026-05-01"))])  # fmt: skip
    resend = WriteSpec("SalesOrder", "externalId", known_target_ids={"ord-1": internal_id})
    original = _original_payload()
    del original["itemList"]["item"][1]

    (result,) = connector.write(resend, [original])

    assert result.ok
    assert _stored_lines(sandbox) == [
        ("prod-a", "12", "false", "2026-05-01"),
        ("prod-b", "4", "true", "2026-01-01"),
    ]
