"""Mappings compiled to Python source: positions, tracebacks and admin text kept out of code."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import pytest

from mappings.codegen import closures_only, generating
from mappings.coercion import ILLEGAL_TEXT
from mappings.errors import MappingConfigError, MappingError
from mappings.loader import load_mapping_set
from mappings.mapping_set import EntityMapping

BROKEN = """\
version: 2
system: warehouse
entities:
  order_line:
    object: SalesLine
    key: lineId
    fields:
      qty: {path: quantity, type: decimal}
      startDate: {path: start_date, type: date, format: "%Q"}
"""

HOSTILE_KEYS = """\
version: 2
system: warehouse
entities:
  order_line:
    object: SalesLine
    key: lineId
    external_id: "ext'id"
    fields:
      "a'] = __import__('os') #": {path: order_id}
      "b\\"\\n)": {template: "x'}} {order_id} \\"\\"\\" \\\\"}
      amount: {path: total, type: decimal, required: true}
"""


def load(tmp_path: Path, text: str) -> EntityMapping:
    path = tmp_path / "warehouse.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping_set([path]).system("warehouse").entities["order_line"]


def problems(tmp_path: Path) -> list[str]:
    with pytest.raises(MappingConfigError) as caught:
        load(tmp_path, BROKEN)
    return [str(problem) for problem in caught.value.problems]


def test_mapping_file_problems_keep_their_file_line_and_column_on_both_paths(
    tmp_path: Path,
) -> None:
    generated = problems(tmp_path)
    with closures_only():
        closures = problems(tmp_path)

    assert generated == closures
    assert generated == [
        f"{tmp_path / 'warehouse.yaml'}:9:49: " + "format: invalid format "
        "'%Q': unknown directive %Q"
    ]


def test_closures_only_holds_within_its_block() -> None:
    with closures_only():
        assert not generating()
    assert generating()


def test_a_traceback_through_generated_code_names_the_mapping_and_shows_the_line(
    tmp_path: Path,
) -> None:
    mapping = load(tmp_path, HOSTILE_KEYS)

    with pytest.raises(MappingError) as caught:
        mapping.from_canonical({"id": "l-1", "order_id": "o-1", "total": None}, None)  # type: ignore[arg-type]

    shown = "".join(traceback.format_exception(caught.value))
    assert 'File "<mapping warehouse.order_line>"' in shown
    assert "raise MappingError_('amount', 'required, but total is empty')" in shown
    assert str(caught.value) == "amount: required, but total is empty"


def test_admin_written_keys_and_templates_stay_data_on_both_paths(tmp_path: Path) -> None:
    record = {"id": "l-1", "order_id": "o-1", "total": "2.50"}
    generated = load(tmp_path, HOSTILE_KEYS).from_canonical(record, None)  # type: ignore[arg-type]
    with closures_only():
        closures = load(tmp_path, HOSTILE_KEYS).from_canonical(record, None)  # type: ignore[arg-type]

    assert (
        generated
        == closures
        == {
            "ext'id": "l-1",
            "a'] = __import__('os') #": "o-1",
            'b"\n)': 'x\'} o-1 """ \\',
            "amount": "2.50",
        }
    )


def test_no_printable_character_is_one_xml_cannot_hold() -> None:
    """Generated code skips the character search for printable text; that must lose nothing."""
    printable_but_illegal = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if chr(code).isprintable() and ILLEGAL_TEXT.search(chr(code))
    ]

    assert printable_but_illegal == []
