"""Packing records of several types into upsertList calls: full calls, parents before children."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from connectors.erp.packing import pack_calls, referenced_external_ids, waves


def test_references_are_the_nested_external_ids_not_the_records_own() -> None:
    order = {
        "externalId": "order-1",
        "entity": {"externalId": "account-1"},
        "currency": {"internalId": "1"},
        "itemList": {"item": [{"item": {"externalId": "p-1"}}, {"item": {"externalId": "p-2"}}]},
    }
    assert referenced_external_ids(order) == {"account-1", "p-1", "p-2"}
    assert referenced_external_ids({"externalId": "a", "companyName": "Acme"}) == set()


def test_independent_records_of_two_types_share_full_calls() -> None:
    accounts = [(f"a{n}", set(), f"a{n}") for n in range(130)]
    products = [(f"p{n}", set(), f"p{n}") for n in range(70)]

    calls = pack_calls([*accounts, *products], batch_size=100)

    assert [len(call.items) for call in calls] == [100, 100]
    assert [call.wave for call in calls] == [0, 0], "nothing to wait for: sent at once"


def test_a_child_never_shares_a_call_with_its_parent_and_waits_for_it() -> None:
    accounts = [(f"a{n}", set(), f"a{n}") for n in range(130)]
    # The first contacts belong to accounts in the second call, so they cannot join it.
    contacts = [(f"c{n}", {f"a{120 + n}"}, f"c{n}") for n in range(10)]
    contacts += [(f"c{n}", {f"a{n % 100}"}, f"c{n}") for n in range(10, 200)]

    calls = pack_calls([*accounts, *contacts], batch_size=100)

    call_of = {item: index for index, call in enumerate(calls) for item in call.items}
    for external_id, refs, _ in contacts:
        assert all(call_of[external_id] > call_of[parent] for parent in refs)
    assert [len(call.items) for call in calls] == [100, 100, 100, 30], "330 records, 4 calls"
    assert calls[1].items[30:] == [f"c{n}" for n in range(10, 80)]
    assert calls[2].items[:10] == [f"c{n}" for n in range(10)]
    # The third call waits for the second (the first contacts' accounts), the fourth only for
    # the first.
    assert [call.wave for call in calls] == [0, 1, 2, 1]


def test_a_second_copy_of_a_record_goes_after_the_first() -> None:
    calls = pack_calls([("a1", set(), "old"), ("a1", set(), "new")], batch_size=100)

    assert [call.items for call in calls] == [["old"], ["new"]]
    assert [[call.items for call in wave] for wave in waves(calls)] == [[["old"]], [["new"]]]


@given(
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50)), min_size=1, max_size=400),
    st.integers(1, 100),
)
def test_packing_keeps_every_record_once_in_bounded_calls_after_its_parents(
    records: list[tuple[int, int]], batch_size: int
) -> None:
    # Four levels of entities; a record of level L refers to one record of level L-1.
    items = []
    for position, (level, parent) in enumerate(sorted(records, key=lambda r: r[0])):
        refs = {f"{level - 1}:{parent}"} if level else set()
        items.append((f"{level}:{position % 60}", refs, position))

    calls = pack_calls(items, batch_size)

    placed = sorted(item for call in calls for item in call.items)
    assert placed == list(range(len(items)))
    assert all(0 < len(call.items) <= batch_size for call in calls)
    call_of = {item: index for index, call in enumerate(calls) for item in call.items}
    seen: dict[str, int] = {}
    for external_id, refs, position in items:
        for ref in refs | {external_id}:
            if ref in seen:
                assert call_of[position] > seen[ref]
                assert calls[call_of[position]].wave > calls[seen[ref]].wave
        seen[external_id] = call_of[position]
    # Only references can add calls beyond a full packing.
    if not any(refs for _, refs, _ in items) and len({e for e, _, _ in items}) == len(items):
        assert len(calls) == math.ceil(len(items) / batch_size)
