"""The target sandboxes keep what was written packed: each record compressed on its own against
the first record stored, and read back as a fresh, equal copy."""

from __future__ import annotations

import pickle
from typing import Any

from sandboxes.packed import PackedRecords


def _order(number: int) -> dict[str, Any]:
    return {
        "externalId": f"rb-ord-{number}", "internalId": str(5000 + number),
        "entity": {"internalId": str(1000 + number % 300)}, "tranDate": "2026-01-05T10:00:00",
        "itemList": {"item": [{"item": {"internalId": str(2000 + line)}, "quantity": 3.0,
                               "rate": 99.0 + number, "line": line} for line in range(3)]},
    }  # fmt: skip


def test_similar_records_pack_to_a_fraction_of_their_pickles_and_read_back_equal() -> None:
    records: PackedRecords[str] = PackedRecords()
    originals = {f"k{n}": _order(n) for n in range(500)}
    for key, record in originals.items():
        records[key] = record
    assert dict(records.items()) == originals
    packed = sum(len(value) for value in records._packed.values())
    pickled = sum(
        len(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)) for r in originals.values()
    )
    assert packed * 3 < pickled
    copy = records["k7"]
    copy["externalId"] = "changed"
    assert records["k7"] == originals["k7"]  # a read is a copy, as with a real API


def test_hostile_and_unlike_records_round_trip_after_the_first_is_gone() -> None:
    records: PackedRecords[tuple[str, str]] = PackedRecords()
    records[("Customer", "first")] = _order(1)
    hostile = {
        "companyName": "\x00\x1b[31m<script>alert(1)</script>\u202e" + "x" * 1_000_000,
        "nested": {"list": [None, True, 1.5, -(10**30), "", b"\xff\x00".hex()]},
        "ünïcode": "日本語 🙂",
    }  # fmt: skip
    records[("Customer", "hostile")] = hostile
    records[("Customer", "empty")] = {}
    del records[("Customer", "first")]
    assert records[("Customer", "hostile")] == hostile
    assert records[("Customer", "empty")] == {}
    assert len(records) == 2
    assert ("Customer", "first") not in records
