"""What the store can keep of a record's data: U+0000, lone surrogates and NaN can't be stored.

PostgreSQL refuses U+0000 in text and JSON (``\\u0000``), a lone surrogate has no UTF-8 form,
and JSON has no NaN or infinity (PostgreSQL's JSONB refuses the tokens ``json`` writes for
them). A source's copy of a record and an error-queue entry are diagnostics, so they are kept
with U+FFFD (or the number's name as text) in place of such a value rather than failing the
page's commit; the canonical record itself never holds one (the mappings' text guard and the
canonical model refuse them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from connectors.base import RawRecord
from sync.store.schema import JsonText, dump_json

_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")
REPLACEMENT = "\ufffd"
MESSAGE_LIMIT = 2000  # characters of an error message kept (a value may be 100 kB of text)


def storable(value: Any) -> Any:
    """``value`` with U+FFFD for U+0000 and lone surrogates, non-finite floats as text."""
    if isinstance(value, str):
        return value if _UNSTORABLE.search(value) is None else _UNSTORABLE.sub(REPLACEMENT, value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {storable(key): storable(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [storable(inner) for inner in value]
    return value


def storable_raw(raw: RawRecord) -> RawRecord:
    """``raw`` itself when the store can keep it as it is, else a cleaned copy."""
    return raw if _all_storable(raw) else storable(raw)


def stored_source(raw: RawRecord) -> RawRecord | JsonText:
    """A source record as the store will keep it: its JSON text, serialized once here.

    The store takes the text as is, so the one serialization it would do anyway also tells
    whether anything needs cleaning (rarely: then the cleaned copy is serialized later).
    """
    text = dump_json(raw)
    if _suspect(text) and not _all_storable(raw):
        return storable(raw)  # type: ignore[no-any-return]
    return JsonText(text)


def _suspect(text: str) -> bool:
    """Whether the store's JSON may hold an unstorable value. Each marker also turns up in
    harmless text now and then (an astral character's escape, "NaN" inside a string), which
    costs one walk of the record."""
    return "\\u0000" in text or "\\ud" in text or "NaN" in text or "Infinity" in text


def _all_storable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is None
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_all_storable(key) and _all_storable(inner) for key, inner in value.items())
    if isinstance(value, list | tuple):
        return all(_all_storable(inner) for inner in value)
    return True


def error_message(text: str) -> str:
    """An error message as the error queue keeps it: storable, at most MESSAGE_LIMIT long."""
    if len(text) > MESSAGE_LIMIT:
        suffix = f"... ({len(text)} characters)"
        text = text[: MESSAGE_LIMIT - len(suffix)] + suffix
    return _UNSTORABLE.sub(REPLACEMENT, text)
