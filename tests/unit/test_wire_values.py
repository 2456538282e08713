"""What no wire can carry: XML 1.0's illegal characters, NaN and infinities, lone surrogates.

The connectors' check and the mappings' text guard keep their own copy of XML 1.0's character
class (mappings import no connector); both are held here to the XML specification and to lxml,
which is what refuses a NetSuite request.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree  # type: ignore[import-untyped]

from connectors.wire_values import (
    XML_ILLEGAL,
    json_payload_problem,
    xml_text_problem,
)
from mappings.coercion import ILLEGAL_TEXT, illegal_text_problem, strip_illegal_text


def _xml_char(code: int) -> bool:
    """XML 1.0, production [2]: Char."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def test_both_copies_of_the_illegal_class_are_exactly_xml_1_0_over_every_code_point() -> None:
    wrong = [
        hex(code)
        for code in range(0x110000)
        if bool(XML_ILLEGAL.match(chr(code))) == _xml_char(code)
        or bool(ILLEGAL_TEXT.match(chr(code))) == _xml_char(code)
    ]

    assert wrong == []


@pytest.mark.parametrize("code", [0x0, 0x8, 0xB, 0xC, 0x1B, 0x1F, 0xD800, 0xDFFF, 0xFFFE, 0xFFFF])
def test_lxml_refuses_what_the_class_calls_illegal(code: int) -> None:
    assert xml_text_problem(chr(code)) is not None
    with pytest.raises(ValueError):  # "All strings must be XML compatible", or UTF-8 refuses
        etree.Element("name").text = f"a{chr(code)}b"


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak\r", "emoji \U0001f600", "\ue000\ufffd"])
def test_lxml_takes_what_the_class_allows(text: str) -> None:
    assert xml_text_problem(text) is None
    etree.Element("name").text = text


def test_the_problem_names_each_character_and_its_one_based_position() -> None:
    assert xml_text_problem("Bad\x00Nul\x1bEsc") == (
        "contains control character U+0000 at position 4, control character U+001B at position 8"
    )
    assert xml_text_problem("a\ud800b\ufffe") == (
        "contains lone surrogate U+D800 at position 2, noncharacter U+FFFE at position 4"
    )


def test_a_long_run_of_bad_characters_names_three_and_counts_the_rest() -> None:
    assert xml_text_problem("\x01" * 10) == (
        "contains control character U+0001 at position 1, control character U+0001 at "
        "position 2, control character U+0001 at position 3 and 7 more"
    )


def test_the_mapping_guard_describes_and_strips_the_same_characters() -> None:
    text = "Bad\x00Nul\x1bEsc \U0001f600\ud83d"

    assert illegal_text_problem(text) == xml_text_problem(text)
    assert strip_illegal_text(text) == "BadNulEsc \U0001f600"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"amount": float("nan")}, ("amount", "is nan; JSON has no NaN or infinity")),
        ({"lines": [{"qty": 1}, {"qty": float("-inf")}]}, ("lines[1].qty", "is -inf; JSON")),
        ({"total": Decimal("Infinity")}, ("total", "is Infinity; JSON")),
        ({"address": {"city": "x\udc00"}}, ("address.city", "contains lone surrogate U+DC00")),
        ({"na\ud800me": "x"}, ("na\ud800me", "has a field name with a lone surrogate")),
    ],
)
def test_json_payload_problem_names_the_field_json_cannot_carry(
    payload: dict[str, object], expected: tuple[str, str]
) -> None:
    found = json_payload_problem(payload)

    assert found is not None
    assert found[0] == expected[0]
    assert found[1].startswith(expected[1])


def test_json_takes_control_characters_big_decimals_and_astral_text() -> None:
    payload = {
        "name": "Bad\x00Nul\x1bEsc \U0001f600",
        "total": Decimal("1234567890123456789012345678901234567890.12"),
        "lines": [{"qty": 1.5}],
    }

    assert json_payload_problem(payload) is None
