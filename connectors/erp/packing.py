"""Packing records of several types into ``upsertList`` calls that never hold a record and its
parent together.

NetSuite takes up to 100 records of any types in one ``upsertList``, but does not promise to
save them in the order given, so a sales order sent in the same call as its new customer may
find no customer. A record therefore goes in a later call than every record of the same
request it refers to by externalId (and than an earlier copy of itself), and calls go in
waves: a wave starts once every call it depends on has answered. Calls fill first-fit, so a
run of parents and children still takes ceil(n / batch) calls but for a few at the joins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

_Item = TypeVar("_Item")


@dataclass
class PackedCall(Generic[_Item]):
    """The records of one call, and the calls (by index) that must answer before it is sent."""

    items: list[_Item] = field(default_factory=list)
    after: set[int] = field(default_factory=set)
    wave: int = 0


def referenced_external_ids(payload: Mapping[str, Any]) -> set[str]:
    """The externalIds a payload's RecordRefs point at (its own top-level one left out)."""
    found: set[str] = set()
    for name, value in payload.items():
        if name != "externalId":
            _collect(value, found)
    return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, Mapping):
        for name, inner in value.items():
            if name == "externalId" and isinstance(inner, str) and inner:
                found.add(inner)
            else:
                _collect(inner, found)
    elif isinstance(value, list | tuple):
        for inner in value:
            _collect(inner, found)


def pack_calls(
    items: Sequence[tuple[str, set[str], _Item]], batch_size: int
) -> list[PackedCall[_Item]]:
    """Calls for ``(externalId, referenced externalIds, item)`` in order, first-fit.

    Each item goes in the first call with room that comes after the calls of the items it
    refers to; each call's ``wave`` is one more than the latest wave it waits for.
    """
    calls: list[PackedCall[_Item]] = []
    call_of: dict[str, int] = {}
    first_with_room = 0
    for external_id, refs, item in items:
        waits_for = {call_of[ref] for ref in refs if ref in call_of}
        if external_id in call_of:  # a second copy of a record lands after the first
            waits_for.add(call_of[external_id])
        index = max(first_with_room, max(waits_for, default=-1) + 1)
        while index < len(calls) and len(calls[index].items) >= batch_size:
            index += 1
        if index == len(calls):
            calls.append(PackedCall())
        call = calls[index]
        call.items.append(item)
        call.after |= waits_for
        call_of[external_id] = index
        while first_with_room < len(calls) and len(calls[first_with_room].items) >= batch_size:
            first_with_room += 1
    for call in calls:
        call.wave = max((calls[before].wave + 1 for before in call.after), default=0)
    return calls


def waves(calls: Sequence[PackedCall[_Item]]) -> Iterator[list[PackedCall[_Item]]]:
    """The calls grouped by wave, earliest first: each group may go out at once."""
    by_wave: dict[int, list[PackedCall[_Item]]] = {}
    for call in calls:
        by_wave.setdefault(call.wave, []).append(call)
    for wave in sorted(by_wave):
        yield by_wave[wave]
