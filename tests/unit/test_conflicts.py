"""Conflict detection and policies on plain payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from config.settings import ConflictSettings, EntityConflictSettings
from sync.engine.conflicts import (
    Decision,
    Policy,
    Sides,
    apply_decisions,
    carried_values,
    policy_for,
    review,
    same_value,
)

BASE = {"name": "Acme", "phone": "1", "address": {"city": "Paris", "country": "FR"}}
EARLY = datetime(2026, 1, 1, tzinfo=UTC)
LATE = datetime(2026, 1, 2, tzinfo=UTC)


def _sides(source: dict, target: dict, **times: datetime) -> Sides:
    return Sides(written=BASE, source_base=BASE, source=source, target=target, **times)


def _settings(policy: str = "source_wins", **entities: EntityConflictSettings) -> ConflictSettings:
    return ConflictSettings.model_validate({"policy": policy, "entities": entities})


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (Decimal("50"), "50.0"),
        ("2025-09-10", "2025-09-10T00:00:00"),
        ({"a": 1, "b": None}, {"a": 1}),
    ],
)
def test_values_spelled_differently_by_a_system_are_the_same(left: object, right: object) -> None:
    assert same_value(left, right)


def test_different_values_differ() -> None:
    assert not same_value("2025-09-10", "2025-09-11T00:00:00")
    assert not same_value("50.1", Decimal("50"))


def test_target_extra_fields_and_unchanged_fields_raise_no_conflict() -> None:
    target = {**BASE, "id": "cus_1", "updated": "2026-01-05T10:00:00Z"}
    assert review(_settings(), "account", _sides({**BASE, "name": "New"}, target)).conflicts == ()


def test_target_and_source_agreeing_is_no_conflict() -> None:
    both = {**BASE, "phone": "2"}
    assert review(_settings(), "account", _sides(both, both)).conflicts == ()


@pytest.mark.parametrize(
    ("policy", "source_changed", "decision"),
    [
        ("source_wins", False, Decision.SOURCE),
        ("target_wins", True, Decision.TARGET),
        ("merge", False, Decision.TARGET),
        ("merge", True, Decision.SOURCE),
        ("manual", True, Decision.HELD),
    ],
)
def test_each_policy_decides_a_conflicting_field(
    policy: str, source_changed: bool, decision: Decision
) -> None:
    source = {**BASE, "phone": "3"} if source_changed else {**BASE, "name": "New"}
    verdict = review(_settings(policy), "account", _sides(source, {**BASE, "phone": "2"}))
    (conflict,) = verdict.conflicts
    assert (conflict.field, conflict.base, conflict.target) == ("phone", "1", "2")
    assert (conflict.policy, conflict.decision) == (Policy(policy), decision)
    assert verdict.held is (decision is Decision.HELD)


@pytest.mark.parametrize(
    ("source_modified", "target_modified", "decision"),
    [(EARLY, LATE, Decision.TARGET), (LATE, EARLY, Decision.SOURCE), (LATE, None, Decision.SOURCE)],
)
def test_newest_wins_compares_modified_times(
    source_modified: datetime, target_modified: datetime | None, decision: Decision
) -> None:
    sides = Sides(BASE, BASE, {**BASE, "phone": "3"}, {**BASE, "phone": "2"},
                  source_modified, target_modified)  # fmt: skip
    (conflict,) = review(_settings("newest_wins"), "account", sides).conflicts
    assert conflict.decision is decision


def test_nested_field_policy_covers_children_and_beats_the_entity_policy() -> None:
    settings = _settings(
        "source_wins",
        account=EntityConflictSettings(policy="manual", fields={"address": "target_wins"}),
    )
    assert policy_for(settings, "account", "address.city") is Policy.TARGET_WINS
    assert policy_for(settings, "account", "phone") is Policy.MANUAL
    assert policy_for(settings, "order", "phone") is Policy.SOURCE_WINS


def test_target_decision_puts_the_target_value_back_without_touching_the_source() -> None:
    target = {**BASE, "address": {"city": "Lyon", "country": "FR"}}
    verdict = review(_settings("target_wins"), "account", _sides({**BASE, "name": "N"}, target))
    payload = apply_decisions({**BASE, "name": "N"}, verdict.conflicts)
    assert payload == {"name": "N", "phone": "1", "address": {"city": "Lyon", "country": "FR"}}
    assert BASE["address"] == {"city": "Paris", "country": "FR"}


def test_a_kept_target_value_is_carried_while_the_source_leaves_that_field_alone() -> None:
    written = {**BASE, "phone": "2"}  # the target's phone was kept at the last write
    sides = Sides(written, BASE, {**BASE, "name": "N"}, written)
    assert carried_values(sides) == {"phone": "2"}
    assert carried_values(Sides(written, BASE, {**BASE, "phone": "9"}, written)) == {}
