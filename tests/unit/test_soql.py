"""The sandbox's SOQL subset: parsing, refusing bad queries, and running queries over records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from sandboxes.salesforce.cpq_seed import OBJECTS, new_record
from sandboxes.salesforce.soql import (
    Comparison,
    FieldPath,
    InList,
    Junction,
    Negation,
    OrderBy,
    Query,
    SoqlError,
    parse_soql,
)
from sandboxes.salesforce.soql_run import plan_query

STAMP = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2026-01-05T10:00:00Z", STAMP),
        ("2026-01-05T10:00:00.000+0000", STAMP),
        ("2026-01-05T11:00:00+01:00", STAMP),
        ("2026-01-05", date(2026, 1, 5)),
        ("42", Decimal(42)),
        ("-1.5", Decimal("-1.5")),
        ("'it\\'s'", "it's"),
        ("'a\\nb\\\\c'", "a\nb\\c"),
        ("true", True),
        ("FALSE", False),
        ("null", None),
    ],
)
def test_literals_parse_to_typed_values(literal: str, expected: Any) -> None:
    query = parse_soql(f"SELECT Id FROM Account WHERE Name = {literal}")
    assert query.where == Comparison(FieldPath(("Name",)), "=", expected)


def test_full_query_parses_into_its_parts() -> None:
    query = parse_soql(
        "select Id, Account.Name, (SELECT Id FROM OrderItems ORDER BY Id LIMIT 2) from Order "
        "where Status in ('Draft', 'Activated') and not (TotalAmount < 10 or EndDate = null) "
        "order by SystemModstamp desc nulls first, Id limit 5"
    )
    assert query.items[:2] == (FieldPath(("Id",)), FieldPath(("Account", "Name")))
    assert query.items[2] == Query(
        (FieldPath(("Id",)),), "OrderItems", None, (OrderBy(FieldPath(("Id",))),), 2
    )
    assert query.where == Junction(
        "AND",
        (
            InList(FieldPath(("Status",)), ("Draft", "Activated")),
            Negation(
                Junction(
                    "OR",
                    (
                        Comparison(FieldPath(("TotalAmount",)), "<", Decimal(10)),
                        Comparison(FieldPath(("EndDate",)), "=", None),
                    ),
                )
            ),
        ),
    )
    assert query.order_by == (
        OrderBy(FieldPath(("SystemModstamp",)), descending=True, nulls_last=False),
        OrderBy(FieldPath(("Id",))),
    )
    assert query.limit == 5


def test_and_binds_tighter_than_or() -> None:
    query = parse_soql("SELECT Id FROM Account WHERE Name = 'a' OR Name = 'b' AND Phone = 'c'")
    assert isinstance(query.where, Junction)
    assert query.where.operator == "OR"
    assert isinstance(query.where.operands[1], Junction)


def test_not_in_and_not_equal_spellings_parse() -> None:
    query = parse_soql("SELECT Id FROM Account WHERE Type NOT IN ('x') AND Name <> 'y'")
    assert query.where == Junction(
        "AND",
        (
            InList(FieldPath(("Type",)), ("x",), negated=True),
            Comparison(FieldPath(("Name",)), "!=", "y"),
        ),
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SELECT FROM Account",
        "SELECT Id Account",
        "SELECT Id, FROM Account",
        "SELECT Id FROM",
        "SELECT Id FROM Account WHERE",
        "SELECT Id FROM Account WHERE Name = ",
        "SELECT Id FROM Account WHERE Name 'x'",
        "SELECT Id FROM Account WHERE Name = 'unterminated",
        "SELECT Id FROM Account WHERE (Name = 'x'",
        "SELECT Id FROM Account WHERE Name IN ()",
        "SELECT Id FROM Account WHERE Name NOT = 'x'",
        "SELECT Id FROM Account ORDER Id",
        "SELECT Id FROM Account ORDER BY Id NULLS",
        "SELECT Id FROM Account LIMIT many",
        "SELECT Id FROM Account LIMIT 1.5",
        "SELECT Id FROM Account WHERE CreatedDate > 2026-13-45",
        "SELECT Id FROM Account extra",
        "SELECT Id FROM Account WHERE Name = 'x' ; DROP",
    ],
)
def test_malformed_queries_are_refused(text: str) -> None:
    with pytest.raises(SoqlError) as raised:
        parse_soql(text)
    assert raised.value.error_code == "MALFORMED_QUERY"


class _Store:
    """An in-memory record store for running plans without a server."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}

    def add(self, object_name: str, record_id: str, stamp: str, **values: Any) -> None:
        record = new_record(object_name, record_id, stamp)
        record.update(values)
        self.data[object_name][record_id] = record

    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        return self.data[object_name].get(record_id)

    def records_of(self, object_name: str) -> list[dict[str, Any]]:
        return list(self.data[object_name].values())


@pytest.fixture
def store() -> _Store:
    store = _Store()
    store.add("Account", "001A", "2026-01-05T10:00:00.000+0000", Name="Acme", Phone=None)
    store.add("Account", "001B", "2026-01-05T09:59:59.000+0000", Name="Globex", Phone="1")
    store.add("Account", "001C", "2026-01-05T10:00:00.000+0000", Name="Hooli", IsDeleted=True)
    store.add("Order", "801A", "2026-01-05T10:00:01.000+0000", AccountId="001A", TotalAmount=5.0)
    store.add("OrderItem", "802A", "2026-01-05T10:00:01.000+0000", OrderId="801A", Quantity=2.0)
    return store


def _run(store: _Store, text: str, include_deleted: bool = False) -> list[Any]:
    plan = plan_query(text, store, "60.0")
    return plan.run(store.records_of(plan.object_name), include_deleted)


def test_datetimes_compare_as_datetimes_across_offsets(store: _Store) -> None:
    # 11:00+01:00 is 10:00Z: as text it would sort after 10:00Z and match nothing.
    rows = _run(store, "SELECT Id FROM Account WHERE SystemModstamp >= 2026-01-05T11:00:00+01:00")
    assert [r["Id"] for r in rows] == ["001A"]


def test_cursor_condition_orders_by_stamp_then_id(store: _Store) -> None:
    rows = _run(
        store,
        "SELECT Id FROM Account WHERE SystemModstamp > 2026-01-05T09:59:59Z OR "
        "(SystemModstamp = 2026-01-05T09:59:59Z AND Id > '001') ORDER BY SystemModstamp, Id",
        include_deleted=True,
    )
    assert [r["Id"] for r in rows] == ["001B", "001A", "001C"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("'ac%'", ["001A"]),
        ("'%O%'", ["001B"]),
        ("'Gl_bex'", ["001B"]),
        ("'Acme_'", []),
        ("'100%'", []),
    ],
)
def test_like_matches_case_insensitively_with_percent_and_underscore(
    store: _Store, pattern: str, expected: list[str]
) -> None:
    rows = _run(store, f"SELECT Id FROM Account WHERE Name LIKE {pattern} ORDER BY Id")
    assert [r["Id"] for r in rows] == expected


def test_like_needs_a_quoted_pattern() -> None:
    with pytest.raises(SoqlError, match="LIKE"):
        parse_soql("SELECT Id FROM Account WHERE Name LIKE 5")


def test_query_hides_deleted_rows_unless_included(store: _Store) -> None:
    assert [r["Id"] for r in _run(store, "SELECT Id FROM Account ORDER BY Id")] == ["001A", "001B"]


def test_nulls_sort_first_ascending_and_last_descending(store: _Store) -> None:
    ascending = _run(store, "SELECT Id FROM Account ORDER BY Phone")
    descending = _run(store, "SELECT Id FROM Account ORDER BY Phone DESC")
    assert [r["Id"] for r in ascending] == ["001A", "001B"]
    assert [r["Id"] for r in descending] == ["001B", "001A"]


def test_parent_fields_nest_and_child_subqueries_wrap_records(store: _Store) -> None:
    rows = _run(store, "SELECT Id, Account.Name, (SELECT Quantity FROM OrderItems) FROM Order")
    assert rows[0]["Account"]["Name"] == "Acme"
    assert rows[0]["Account"]["attributes"]["type"] == "Account"
    assert rows[0]["OrderItems"]["totalSize"] == 1
    assert rows[0]["OrderItems"]["records"][0]["Quantity"] == 2.0


def test_empty_child_subquery_is_null(store: _Store) -> None:
    store.add("Order", "801B", "2026-01-05T10:00:02.000+0000", AccountId="001B")
    rows = _run(store, "SELECT Id, (SELECT Id FROM OrderItems) FROM Order WHERE Id = '801B'")
    assert rows[0]["OrderItems"] is None


def test_null_comparisons_follow_soql(store: _Store) -> None:
    assert [r["Id"] for r in _run(store, "SELECT Id FROM Account WHERE Phone = null")] == ["001A"]
    assert [r["Id"] for r in _run(store, "SELECT Id FROM Account WHERE Phone != '1'")] == ["001A"]
    assert _run(store, "SELECT Id FROM Account WHERE Phone < '9' AND Phone = null") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Owner.Name FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Nope = 1", "INVALID_FIELD"),
        ("SELECT Id FROM Account ORDER BY Nope", "INVALID_FIELD"),
        ("SELECT Id, (SELECT Id FROM Nopes) FROM Order", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Nope FROM OrderItems) FROM Order", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE SystemModstamp > '2026-01-05'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Order WHERE EffectiveDate = 2026-01-05T10:00:00Z", "INVALID_FIELD"),
    ],
)
def test_unknown_objects_fields_and_mistyped_literals_are_refused(
    store: _Store, text: str, code: str
) -> None:
    with pytest.raises(SoqlError) as raised:
        plan_query(text, store, "60.0")
    assert raised.value.error_code == code
