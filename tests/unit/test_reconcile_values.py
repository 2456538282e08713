"""Comparing what revbridge wrote with what a system shows, and totals in minor units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sync.assurance.amounts import amount_gap, target_total
from sync.assurance.values import same_value, to_minor
from sync.cli.reconcile import shown


@pytest.mark.parametrize(
    ("written", "current"),
    [
        ("54000.0", 54000),
        ("54000.0", "54000.00"),
        ("2025-05-04", "2025-05-04T00:00:00"),
        (None, ""),
        ({"city": "Lyon"}, {"city": "Lyon", "id": "added by the system"}),
        ([{"qty": "1.0"}], [{"qty": 1, "line": 1}]),
        (True, "true"),
        (False, False),
    ],
)
def test_the_same_value_in_another_spelling_is_not_drift(written: Any, current: Any) -> None:
    assert same_value(written, current)


@pytest.mark.parametrize(
    ("written", "current"),
    [
        ("54000.0", "54000.01"),
        ("Acme", "Acme Corp"),
        ("2025-05-04", "2025-05-05T00:00:00"),
        ({"city": "Lyon"}, "Lyon"),
        ([1, 2], [1]),
        ([1], "1"),
        (True, 1),
        (False, "true"),
        ("1", {"nested": 1}),
        ("NaN", "NaN "),
        ("Infinity", "1e999"),
    ],
)
def test_a_changed_value_or_a_wrong_type_is_drift(written: Any, current: Any) -> None:
    assert not same_value(written, current)


def test_minor_units_follow_the_currency() -> None:
    assert to_minor("12.345", "USD") == 1234  # half-even, as accountants round
    assert to_minor("12.355", "USD") == 1236
    assert to_minor("100", "JPY") == 100
    assert to_minor("1.2345", "KWD") == 1234
    assert to_minor("not money", "USD") is None
    assert to_minor(["1"], "USD") is None
    assert to_minor("1", "ZZZ") == 100  # unknown code: cents, the mapping check names it


def _order(total: str, lines: int) -> dict[str, Any]:
    return {"currency": "EUR", "total": total, "lines": [{}] * lines}


def test_totals_within_one_minor_unit_per_line_are_the_same_amount() -> None:
    # 3 lines: 100.00 vs 100.03 is rounding (3 cents), 100.04 is a mismatch of 4 cents.
    assert amount_gap("billing", _order("100.00", 3), {"total": "100.03"}) is None
    gap = amount_gap("billing", _order("100.00", 3), {"total": "100.04"})
    assert gap is not None
    assert (gap.expected_minor, gap.actual_minor, gap.at_risk_minor) == (10000, 10004, 4)


def test_an_order_without_lines_still_allows_one_minor_unit() -> None:
    assert amount_gap("billing", _order("5.00", 0), {"total": "5.01"}) is None
    assert amount_gap("billing", _order("5.00", 0), {"total": "5.02"}) is not None


def test_a_target_total_that_is_no_number_puts_the_whole_amount_at_risk() -> None:
    gap = amount_gap("billing", _order("250.00", 1), {"total": "<b>lots</b>"})
    assert gap is not None
    assert gap.at_risk_minor == 25000


def test_netsuite_totals_are_the_sum_of_its_item_lines() -> None:
    record = {"itemList": {"item": [{"amount": "44400.0"}, {"amount": "9600.0"}]}}
    assert target_total("erp", record) == Decimal("54000.0")
    assert target_total("erp", {"itemList": {"item": [{"amount": "x"}]}}) is None
    assert target_total("erp", {}) is None


def test_shown_values_escape_terminal_control_and_bidi_characters() -> None:
    text = shown("a\x1b[2J\u202eb\nc")
    assert text == "a\\u001b[2J\\u202eb\\u000ac"
    assert shown({"k": [1, None]}) == '{"k": [1, null]}'
    assert len(shown("x" * 10_000)) == 120


def test_a_block_written_empty_is_the_same_as_none_shown() -> None:
    # A conditional block whose condition was false: written as empty containers, not shown.
    assert same_value({"itemList": {"item": [{}, {}]}}, None)
    assert same_value([], None)
    assert not same_value({"itemList": {"item": [{"amount": "1"}]}}, None)


def test_netsuite_custom_fields_are_compared_with_their_custom_field_list_entry() -> None:
    current = {
        "quantity": "37.0",
        "customFieldList": {
            "customField": [
                {"scriptId": "custcol_rb_line", "value": "1.0"},
                {"scriptId": "custcol_rb_as_of", "value": "2025-03-05"},
            ]
        },
    }
    written = {"quantity": "37", "custcol_rb_line": 1, "custcol_rb_as_of": "2025-03-05"}
    assert same_value(written, current)
    assert not same_value({**written, "custcol_rb_line": 2}, current)
    assert not same_value({"custcol_missing": "x"}, current)
    assert not same_value({"custcol_rb_line": 1}, {"customFieldList": {"customField": "junk"}})


@pytest.mark.parametrize("huge", ["9" * 400, "1e30", "-92233720368547758.08"])
def test_amounts_past_64_bits_of_minor_units_are_no_money(huge: str) -> None:
    assert to_minor(huge, "USD") is None
    assert to_minor("92233720368547758.07", "USD") == 2**63 - 1
