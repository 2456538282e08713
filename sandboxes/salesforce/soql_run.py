"""Running parsed SOQL over the sandbox's records (``plan_query``).

A query is checked against the metadata once, then filters, sorts, limits and shapes rows.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from sandboxes.salesforce.cpq_seed import OBJECTS, ChildRelationship, FieldDef, ObjectDef
from sandboxes.salesforce.soql import (
    Comparison,
    Condition,
    FieldPath,
    InList,
    Junction,
    Negation,
    OrderBy,
    Query,
    SoqlError,
    parse_soql,
)

# A parent id's child records (of one relationship), deleted ones included.
ChildRows = Callable[[str], list[dict[str, Any]]]
_NUMERIC_TYPES = frozenset({"double", "currency", "int", "percent"})
_TYPE_CHECKS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "datetime": (datetime, "dateTime"),
    "date": (date, "date"),
    "boolean": (bool, "boolean"),
    **dict.fromkeys(_NUMERIC_TYPES, (Decimal, "number")),
}


class RecordStore(Protocol):
    """Where a query finds records."""

    def record(self, object_name: str, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None."""

    def records_of(self, object_name: str) -> Iterable[dict[str, Any]]:
        """Every record of one object, deleted ones included.

        A store may also offer ``children(object_name, field) -> ChildRows`` to look child
        records up by parent id itself; otherwise they are grouped from ``records_of``.
        """


def typed_value(field: FieldDef, raw: Any) -> Any:
    """A stored JSON value as a comparable Python value (datetimes as datetimes)."""
    if raw is None:
        return None
    if field.type == "datetime":
        # Stored stamps are ISO 8601 (SYSTEM_MODSTAMP_FORMAT): fromisoformat reads them ~50x
        # faster than strptime, which a million-record query paid twice a row.
        return datetime.fromisoformat(raw)
    if field.type == "date":
        return date.fromisoformat(raw)
    if field.type in _NUMERIC_TYPES:
        return Decimal(str(raw))
    return raw


@dataclass(frozen=True)
class ResolvedPath:
    """A field path checked against the metadata: the reference hops, then the field."""

    hops: tuple[tuple[FieldDef, ObjectDef], ...]
    field: FieldDef

    def value(self, record: dict[str, Any], store: RecordStore) -> Any:
        """The typed value at this path, or None when a parent is missing."""
        current: dict[str, Any] | None = record
        for reference, target in self.hops:
            parent_id = current[reference.name] if current else None
            current = store.record(target.name, parent_id) if parent_id else None
        return typed_value(self.field, current[self.field.name]) if current else None


def resolve_path(obj: ObjectDef, path: FieldPath) -> ResolvedPath:
    """Check ``path`` against ``obj``'s metadata; INVALID_FIELD when a part does not exist."""
    hops = []
    current = obj
    for part in path.parts[:-1]:
        reference = current.relationship(part)
        target = OBJECTS.get(reference.reference_to[0]) if reference else None
        if reference is None or target is None:
            raise _no_such_column(str(path), current)
        hops.append((reference, target))
        current = target
    field = current.field(path.parts[-1])
    if field is None:
        raise _no_such_column(str(path), current)
    return ResolvedPath(tuple(hops), field)


def _no_such_column(name: str, obj: ObjectDef) -> SoqlError:
    return SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'.")


def _check_literal(field: FieldDef, value: Any) -> None:
    """Refuse a literal of the wrong type, as Salesforce does, instead of comparing as text."""
    if value is None:
        return
    expected, label = _TYPE_CHECKS.get(field.type, (str, "string"))
    wrong_date = field.type == "date" and isinstance(value, datetime)
    if not isinstance(value, expected) or wrong_date:
        quoting = "be enclosed" if label == "string" else "not be enclosed"
        raise SoqlError(
            "INVALID_FIELD",
            f"value of filter criterion for field '{field.name}' must be of type {label} "
            f"and should {quoting} in quotes",
        )


Predicate = Callable[[dict[str, Any]], bool]
# Per child relationship of a query: its records of one parent id.
ChildIndex = list[ChildRows]
_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt,
    ">": operator.gt, "<=": operator.le, ">=": operator.ge,
}  # fmt: skip


def compile_condition(condition: Condition, obj: ObjectDef, store: RecordStore) -> Predicate:
    """Turn a WHERE condition into a predicate, validating fields and literal types first."""
    if isinstance(condition, Junction):
        parts = [compile_condition(c, obj, store) for c in condition.operands]
        combine = all if condition.operator == "AND" else any
        return lambda record: combine(part(record) for part in parts)
    if isinstance(condition, Negation):
        inner = compile_condition(condition.operand, obj, store)
        return lambda record: not inner(record)
    path = resolve_path(obj, condition.path)
    if isinstance(condition, InList):
        for value in condition.values:
            _check_literal(path.field, value)
        members, negated = set(condition.values), condition.negated
        return lambda record: (path.value(record, store) in members) != negated
    if condition.operator == "LIKE":
        return _like(path, str(condition.value), store)
    _check_literal(path.field, condition.value)
    compare, expected = _COMPARATORS[condition.operator], condition.value
    is_equality = condition.operator in ("=", "!=")

    def predicate(record: dict[str, Any]) -> bool:
        actual = path.value(record, store)
        if actual is not None and expected is not None:
            return bool(compare(actual, expected))
        # Only = and != are defined on null; a null never orders against a value.
        return is_equality and compare(actual is None, expected is None)

    return predicate


def _like(path: ResolvedPath, pattern: str, store: RecordStore) -> Predicate:
    """SOQL LIKE: case-insensitive, ``%`` any run of characters, ``_`` one character."""
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)

    def predicate(record: dict[str, Any]) -> bool:
        actual = path.value(record, store)
        return actual is not None and compiled.fullmatch(str(actual)) is not None

    return predicate


def _sort_key(path: ResolvedPath, order: OrderBy, store: RecordStore) -> Callable[[Any], Any]:
    # sorted(reverse=True) flips the null rank too, so pick the rank that lands nulls right.
    null_rank = 1 if order.nulls_last != order.descending else 0

    def key(record: dict[str, Any]) -> tuple[Any, ...]:
        value = path.value(record, store)
        return (null_rank,) if value is None else (1 - null_rank, value)

    return key


class QueryPlan:
    """A query checked against the metadata once, then run over candidate records."""

    def __init__(self, query: Query, obj: ObjectDef, store: RecordStore, version: str) -> None:
        self._query, self._obj, self._store, self._version = query, obj, store, version
        self._where = compile_condition(query.where, obj, store) if query.where else None
        self._order = [
            (_sort_key(resolve_path(obj, o.path), o, store), o.descending) for o in query.order_by
        ]
        self._fields: list[ResolvedPath] = []
        self._children: list[tuple[ChildRelationship, QueryPlan]] = []
        for item in query.items:
            if isinstance(item, FieldPath):
                self._fields.append(resolve_path(obj, item))
            else:
                self._children.append(self._child_plan(item))

    @property
    def object_name(self) -> str:
        """The object this plan reads."""
        return self._obj.name

    def _child_plan(self, subquery: Query) -> tuple[ChildRelationship, QueryPlan]:
        relationship = self._obj.child(subquery.object_name)
        if relationship is None:
            raise SoqlError(
                "INVALID_TYPE",
                f"Didn't understand relationship '{subquery.object_name}' in FROM part of "
                f"query call on entity '{self._obj.name}'.",
            )
        child_obj = OBJECTS[relationship.child_object]
        return relationship, QueryPlan(subquery, child_obj, self._store, self._version)

    def run(self, candidates: Iterable[dict[str, Any]], include_deleted: bool) -> list[Any]:
        """Filter, sort, limit and shape ``candidates`` into Salesforce's JSON records."""
        return self.shape(self.select(candidates, include_deleted), include_deleted)

    def select_ids(self, candidates: Iterable[dict[str, Any]], include_deleted: bool) -> list[str]:
        """The ids of the records :meth:`select` returns, in its order.

        Keeps each row's sort values and id, not the row: rows regenerated on demand
        (:mod:`sandboxes.salesforce.on_demand`) are let go of as the scan goes on.
        """
        keys = [key for key, _ in self._order]
        rows = [
            (tuple(key(r) for key in keys), r["Id"])
            for r in candidates
            if (include_deleted or not r["IsDeleted"]) and (self._where is None or self._where(r))
        ]
        for position in reversed(range(len(keys))):
            descending = self._order[position][1]
            rows.sort(key=lambda row: row[0][position], reverse=descending)
        return [record_id for _, record_id in rows[: self._query.limit]]

    def wanted_ids(self) -> list[str] | None:
        """The ids a query names (``Id IN (...)`` or ``Id = ...``, maybe within an AND), so
        only those records need reading; None when it reads any record."""
        conditions = [self._query.where] if self._query.where else []
        if isinstance(self._query.where, Junction) and self._query.where.operator == "AND":
            conditions = list(self._query.where.operands)
        for condition in conditions:
            path = getattr(condition, "path", None)
            if path is None or [p.lower() for p in path.parts] != ["id"]:
                continue
            if isinstance(condition, InList) and not condition.negated:
                return [str(value) for value in condition.values]
            if isinstance(condition, Comparison) and condition.operator == "=":
                return [str(condition.value)]
        return None

    def select(
        self, candidates: Iterable[dict[str, Any]], include_deleted: bool
    ) -> list[dict[str, Any]]:
        """The stored records the query returns, filtered, sorted and limited (not shaped)."""
        rows = [
            r
            for r in candidates
            if (include_deleted or not r["IsDeleted"]) and (self._where is None or self._where(r))
        ]
        for key, descending in reversed(self._order):
            rows.sort(key=key, reverse=descending)
        if self._query.limit is not None:
            rows = rows[: self._query.limit]
        return rows

    def shape(
        self,
        rows: Iterable[dict[str, Any]],
        include_deleted: bool,
        children: ChildIndex | None = None,
    ) -> list[Any]:
        """``rows`` (from :meth:`select`) as Salesforce's JSON records, subqueries included.

        ``children`` is :meth:`children_index`, built once when shaping in several parts.
        """
        if children is None:
            children = self.children_index()
        return [self._shape(row, include_deleted, children) for row in rows]

    def children_index(self) -> ChildIndex:
        """Each child relationship's records grouped by parent id (empty without subqueries)."""
        return self._children_by_parent() if self._children else []

    def _attributes(self, obj: ObjectDef, record: dict[str, Any]) -> dict[str, str]:
        url = f"/services/data/v{self._version}/sobjects/{obj.name}/{record['Id']}"
        return {"type": obj.name, "url": url}

    def _children_by_parent(self) -> ChildIndex:
        """Each child relationship's lookup of records by parent id, made once per run."""
        lookup: Callable[[str, str], ChildRows] | None = getattr(self._store, "children", None)
        indexes: ChildIndex = []
        for relationship, plan in self._children:
            if lookup is not None:
                indexes.append(lookup(plan.object_name, relationship.field))
                continue
            index: dict[str, list[dict[str, Any]]] = {}
            for child in self._store.records_of(plan.object_name):
                index.setdefault(child[relationship.field], []).append(child)
            indexes.append(partial(_children_of, index))
        return indexes

    def _shape(
        self,
        record: dict[str, Any],
        include_deleted: bool,
        children: ChildIndex,
    ) -> dict[str, Any]:
        shaped: dict[str, Any] = {"attributes": self._attributes(self._obj, record)}
        for path in self._fields:
            self._place(shaped, path, record)
        for (relationship, plan), index in zip(self._children, children, strict=True):
            rows = plan.run(index(record["Id"]), include_deleted)
            shaped[relationship.name] = (
                {"totalSize": len(rows), "done": True, "records": rows} if rows else None
            )
        return shaped

    def _place(self, shaped: dict[str, Any], path: ResolvedPath, record: dict[str, Any]) -> None:
        """Copy one field, nesting parent fields under their relationship name."""
        target, current = shaped, record
        for reference, parent_obj in path.hops:
            parent_id = current[reference.name]
            parent = self._store.record(parent_obj.name, parent_id) if parent_id else None
            name = reference.relationship_name or reference.name
            if parent is None:
                target[name] = None
                return
            nested = target.get(name) or {"attributes": self._attributes(parent_obj, parent)}
            target[name] = nested
            target, current = nested, parent
        target[path.field.name] = compound_value(path.field, current)


def _children_of(index: dict[str, list[dict[str, Any]]], parent_id: str) -> list[dict[str, Any]]:
    return index.get(parent_id, [])


def compound_value(field: FieldDef, record: dict[str, Any]) -> Any:
    """A stored value, or a compound field (address) built from its components."""
    if not field.components:
        return record[field.name]
    parts = {key: record[name] for key, name in field.components}
    if all(value is None for value in parts.values()):
        return None
    return {**parts, "geocodeAccuracy": None, "latitude": None, "longitude": None}


def plan_query(text: str, store: RecordStore, version: str) -> QueryPlan:
    """Parse and check a top-level query; INVALID_TYPE when its object does not exist."""
    query = parse_soql(text)
    obj = next((o for o in OBJECTS.values() if o.name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise SoqlError("INVALID_TYPE", f"sObject type '{query.object_name}' is not supported.")
    return QueryPlan(query, obj, store, version)
