"""Values no wire can carry, found in one record before any call is built.

XML 1.0 (NetSuite's SOAP) allows only ``#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
[#x10000-#x10FFFF]``: C0 controls, lone surrogates and U+FFFE/U+FFFF can't be written at all,
not even as character references, and lxml refuses the whole document. JSON has no NaN or
infinity, and a lone surrogate can't be encoded as UTF-8. Each check names the field and the
problem in plain words (``name contains control character U+001B at position 8``), so the
record goes to the error queue while the others of its call are sent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

# What XML 1.0's Char production leaves out (the mappings' text guard keeps its own copy,
# mappings.coercion.ILLEGAL_TEXT; tests/unit/test_wire_values.py holds the two equal).
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN = 3  # characters named in a message; the rest are counted


def character_name(char: str) -> str:
    """``control character U+001B``, ``lone surrogate U+D800``, ``noncharacter U+FFFE``."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:
        kind = "lone surrogate"
    elif code in (0xFFFE, 0xFFFF):
        kind = "noncharacter"
    else:
        kind = "control character"
    return f"{kind} U+{code:04X}"


def describe_characters(text: str, pattern: re.Pattern[str]) -> str | None:
    """``contains control character U+001B at position 8`` (1-based), or None when clean."""
    found = [(match.start(), match.group()) for match in pattern.finditer(text)]
    if not found:
        return None
    shown = [f"{character_name(char)} at position {at + 1}" for at, char in found[:_SHOWN]]
    more = f" and {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
    return "contains " + ", ".join(shown) + more


def xml_text_problem(text: str) -> str | None:
    """Why ``text`` can't be written in XML 1.0, or None."""
    if XML_ILLEGAL.search(text) is None:
        return None
    return describe_characters(text, XML_ILLEGAL)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _leaves(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, inner in enumerate(value):
            yield from _leaves(inner, f"{path}[{index}]")
    else:
        yield path, value


def json_value_problem(value: Any) -> str | None:
    """Why one scalar can't travel in JSON as UTF-8, or None."""
    if isinstance(value, str):
        found = describe_characters(value, _LONE_SURROGATE)
        return None if found is None else f"{found} (not encodable as UTF-8)"
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value}; JSON has no NaN or infinity"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"is {value}; JSON has no NaN or infinity"
    return None


def json_payload_problem(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(field, why)`` for the first value of ``payload`` JSON can't carry, or None.

    Keys are checked too: a key with a lone surrogate can't be encoded either.
    """
    for path, value in _leaves(payload, ""):
        problem = json_value_problem(value)
        if problem is None and _LONE_SURROGATE.search(path):
            problem = "has a field name with a lone surrogate"
        if problem is not None:
            return path or "(record)", problem
    return None
