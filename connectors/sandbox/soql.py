"""The SOQL subset the sandbox understands: a tokenizer and a recursive-descent parser.

Grammar (keywords case-insensitive)::

    query      := SELECT item ("," item)* FROM name [WHERE or] [ORDER BY order ("," order)*]
                  [LIMIT integer]
    item       := path | "(" query ")"                 child subquery, FROM a relationship
    or         := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | "(" or ")" | path op literal | path [NOT] IN "(" literal,... ")"
    order      := path [ASC | DESC] [NULLS (FIRST | LAST)]
    literal    := 'string' | number | true | false | null | date | datetime
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Protocol

from connectors.sandbox.cpq_seed import OBJECTS, ChildRelationship, FieldDef, ObjectDef


class SoqlError(Exception):
    """A query Salesforce would refuse; ``error_code`` is its errorCode."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def malformed(message: str) -> SoqlError:
    """A MALFORMED_QUERY error."""
    return SoqlError("MALFORMED_QUERY", message)


class Kind(Enum):
    """Token kinds."""

    NAME = "name"
    STRING = "string"
    LITERAL = "literal"  # number, date or datetime, already converted
    OPERATOR = "operator"
    PUNCT = "punct"
    END = "end"


@dataclass(frozen=True)
class Token:
    """One token and where it starts in the query text."""

    kind: Kind
    text: str
    position: int
    value: Any = None


_OPERATORS = ("!=", "<>", "<=", ">=", "=", "<", ">")
_PUNCTUATION = "(),."
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
_LITERAL_CHARS = frozenset("0123456789-+:.TZ")
_DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_literal_text(text: str) -> Decimal | date | datetime:
    """Convert an unquoted number, date or datetime literal."""
    for layout in _DATETIME_FORMATS:
        try:
            # strptime's %z takes Z, +0000 and +00:00 alike.
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    if len(text) == 10 and text[4:5] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError as error:
            raise malformed(f"invalid date literal {text!r}") from error
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise malformed(f"unexpected token: {text!r}") from error


class Tokenizer:
    """Turns query text into tokens, one pass, no backtracking."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._at = 0

    def tokens(self) -> list[Token]:
        """All tokens, ending with an END token."""
        found = []
        while (token := self._next()).kind is not Kind.END:
            found.append(token)
        found.append(token)
        return found

    def _next(self) -> Token:
        text = self._text
        while self._at < len(text) and text[self._at].isspace():
            self._at += 1
        start = self._at
        if start >= len(text):
            return Token(Kind.END, "", start)
        char = text[start]
        if char == "'":
            return self._string(start)
        if char.isalpha() or char == "_":
            return self._name(start)
        if char.isdigit() or (char == "-" and text[start + 1 : start + 2].isdigit()):
            return self._literal(start)
        operator = next((op for op in _OPERATORS if text.startswith(op, start)), None)
        if operator:
            self._at += len(operator)
            return Token(Kind.OPERATOR, "!=" if operator == "<>" else operator, start)
        if char in _PUNCTUATION:
            self._at += 1
            return Token(Kind.PUNCT, char, start)
        raise malformed(f"unexpected character {char!r} at position {start}")

    def _name(self, start: int) -> Token:
        end = start
        while end < len(self._text) and (self._text[end].isalnum() or self._text[end] == "_"):
            end += 1
        self._at = end
        return Token(Kind.NAME, self._text[start:end], start)

    def _literal(self, start: int) -> Token:
        end = start + 1
        while end < len(self._text) and self._text[end] in _LITERAL_CHARS:
            end += 1
        self._at = end
        text = self._text[start:end]
        return Token(Kind.LITERAL, text, start, parse_literal_text(text))

    def _string(self, start: int) -> Token:
        chars: list[str] = []
        at = start + 1
        while at < len(self._text):
            char = self._text[at]
            if char == "'":
                self._at = at + 1
                return Token(Kind.STRING, self._text[start : at + 1], start, "".join(chars))
            if char == "\\":
                at += 1
                escaped = self._text[at : at + 1]
                if not escaped:
                    break
                chars.append(_ESCAPES.get(escaped, escaped))
            else:
                chars.append(char)
            at += 1
        raise malformed(f"unterminated string starting at position {start}")


@dataclass(frozen=True)
class FieldPath:
    """A field, possibly through parent relationships: ``Account.Name`` is two parts."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class Comparison:
    """``path op value``."""

    path: FieldPath
    operator: str
    value: Any


@dataclass(frozen=True)
class InList:
    """``path [NOT] IN (values)``."""

    path: FieldPath
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True)
class Junction:
    """``AND`` or ``OR`` over two or more conditions."""

    operator: str
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    """``NOT condition``."""

    operand: Condition


Condition = Comparison | InList | Junction | Negation


@dataclass(frozen=True)
class OrderBy:
    """One ORDER BY key; SOQL puts nulls first when ascending, last when descending."""

    path: FieldPath
    descending: bool = False
    nulls_last: bool = False


@dataclass(frozen=True)
class Query:
    """A parsed SELECT; a child subquery's ``object_name`` is its relationship name."""

    items: tuple[FieldPath | Query, ...]
    object_name: str
    where: Condition | None = None
    order_by: tuple[OrderBy, ...] = ()
    limit: int | None = None


_KEYWORD_LITERALS = {"TRUE": True, "FALSE": False, "NULL": None}


class Parser:
    """Recursive descent over the token list; one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self._tokens = Tokenizer(text).tokens()
        self._at = 0

    def parse(self) -> Query:
        """Parse one complete query."""
        query = self._query()
        if self._peek().kind is not Kind.END:
            raise malformed(f"unexpected token: {self._peek().text!r}")
        return query

    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _advance(self) -> Token:
        token = self._tokens[self._at]
        if token.kind is not Kind.END:
            self._at += 1
        return token

    def _at_keyword(self, *words: str) -> bool:
        token = self._peek()
        return token.kind is Kind.NAME and token.text.upper() in words

    def _keyword(self, word: str) -> None:
        if not self._at_keyword(word):
            found = self._peek().text or "end of query"
            raise malformed(f"expected {word} but found {found!r}")
        self._advance()

    def _punct(self, char: str) -> bool:
        if self._peek().kind is Kind.PUNCT and self._peek().text == char:
            self._advance()
            return True
        return False

    def _expect_punct(self, char: str) -> None:
        if not self._punct(char):
            raise malformed(f"expected {char!r} but found {self._peek().text or 'end of query'!r}")

    def _name(self) -> str:
        token = self._advance()
        if token.kind is not Kind.NAME:
            raise malformed(f"expected a name but found {token.text or 'end of query'!r}")
        return token.text

    def _query(self) -> Query:
        self._keyword("SELECT")
        items = [self._item()]
        while self._punct(","):
            items.append(self._item())
        self._keyword("FROM")
        object_name = self._name()
        where = None
        if self._at_keyword("WHERE"):
            self._advance()
            where = self._or()
        order_by: list[OrderBy] = []
        if self._at_keyword("ORDER"):
            self._advance()
            self._keyword("BY")
            order_by.append(self._order())
            while self._punct(","):
                order_by.append(self._order())
        return Query(tuple(items), object_name, where, tuple(order_by), self._limit())

    def _item(self) -> FieldPath | Query:
        if self._punct("("):
            subquery = self._query()
            self._expect_punct(")")
            return subquery
        return self._path()

    def _path(self) -> FieldPath:
        parts = [self._name()]
        while self._punct("."):
            parts.append(self._name())
        return FieldPath(tuple(parts))

    def _limit(self) -> int | None:
        if not self._at_keyword("LIMIT"):
            return None
        self._advance()
        token = self._advance()
        if not isinstance(token.value, Decimal) or token.value != int(token.value):
            raise malformed(f"LIMIT needs a whole number, not {token.text!r}")
        return int(token.value)

    def _order(self) -> OrderBy:
        path = self._path()
        descending = False
        if self._at_keyword("ASC", "DESC"):
            descending = self._advance().text.upper() == "DESC"
        nulls_last = descending
        if self._at_keyword("NULLS"):
            self._advance()
            if not self._at_keyword("FIRST", "LAST"):
                raise malformed("NULLS must be followed by FIRST or LAST")
            nulls_last = self._advance().text.upper() == "LAST"
        return OrderBy(path, descending, nulls_last)

    def _or(self) -> Condition:
        operands = [self._and()]
        while self._at_keyword("OR"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else Junction("OR", tuple(operands))

    def _and(self) -> Condition:
        operands = [self._not()]
        while self._at_keyword("AND"):
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else Junction("AND", tuple(operands))

    def _not(self) -> Condition:
        if self._at_keyword("NOT"):
            self._advance()
            return Negation(self._not())
        if self._punct("("):
            condition = self._or()
            self._expect_punct(")")
            return condition
        return self._predicate()

    def _predicate(self) -> Condition:
        path = self._path()
        negated = self._at_keyword("NOT")
        if negated:
            self._advance()
        if self._at_keyword("IN"):
            self._advance()
            self._expect_punct("(")
            values = [self._literal()]
            while self._punct(","):
                values.append(self._literal())
            self._expect_punct(")")
            return InList(path, tuple(values), negated)
        if negated:
            raise malformed("NOT after a field must be followed by IN")
        token = self._advance()
        if token.kind is not Kind.OPERATOR:
            raise malformed(f"expected an operator after {path} but found {token.text!r}")
        return Comparison(path, token.text, self._literal())

    def _literal(self) -> Any:
        token = self._advance()
        if token.kind in (Kind.STRING, Kind.LITERAL):
            return token.value
        if token.kind is Kind.NAME and token.text.upper() in _KEYWORD_LITERALS:
            return _KEYWORD_LITERALS[token.text.upper()]
        raise malformed(f"expected a value but found {token.text or 'end of query'!r}")


def parse_soql(text: str) -> Query:
    """Parse ``text``; raise :class:`SoqlError` (MALFORMED_QUERY) when it is not valid SOQL."""
    return Parser(text).parse()


# --- running a parsed query over the sandbox's records ---------------------------------------

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
        """Every record of one object, deleted ones included."""


def typed_value(field: FieldDef, raw: Any) -> Any:
    """A stored JSON value as a comparable Python value (datetimes as datetimes)."""
    if raw is None:
        return None
    if field.type == "datetime":
        return datetime.strptime(raw, _DATETIME_FORMATS[1])
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
        rows = [
            r
            for r in candidates
            if (include_deleted or not r["IsDeleted"]) and (self._where is None or self._where(r))
        ]
        for key, descending in reversed(self._order):
            rows.sort(key=key, reverse=descending)
        if self._query.limit is not None:
            rows = rows[: self._query.limit]
        children = self._children_by_parent() if self._children else []
        return [self._shape(row, include_deleted, children) for row in rows]

    def _attributes(self, obj: ObjectDef, record: dict[str, Any]) -> dict[str, str]:
        url = f"/services/data/v{self._version}/sobjects/{obj.name}/{record['Id']}"
        return {"type": obj.name, "url": url}

    def _children_by_parent(self) -> list[dict[str, list[dict[str, Any]]]]:
        """Each child relationship's records grouped by parent id, built once per run."""
        indexes = []
        for relationship, plan in self._children:
            index: dict[str, list[dict[str, Any]]] = {}
            for child in self._store.records_of(plan.object_name):
                index.setdefault(child[relationship.field], []).append(child)
            indexes.append(index)
        return indexes

    def _shape(
        self,
        record: dict[str, Any],
        include_deleted: bool,
        children: list[dict[str, list[dict[str, Any]]]],
    ) -> dict[str, Any]:
        shaped: dict[str, Any] = {"attributes": self._attributes(self._obj, record)}
        for path in self._fields:
            self._place(shaped, path, record)
        for (relationship, plan), index in zip(self._children, children, strict=True):
            rows = plan.run(index.get(record["Id"], []), include_deleted)
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
        target[path.field.name] = current[path.field.name]


def plan_query(text: str, store: RecordStore, version: str) -> QueryPlan:
    """Parse and check a top-level query; INVALID_TYPE when its object does not exist."""
    query = parse_soql(text)
    obj = next((o for o in OBJECTS.values() if o.name.lower() == query.object_name.lower()), None)
    if obj is None:
        raise SoqlError("INVALID_TYPE", f"sObject type '{query.object_name}' is not supported.")
    return QueryPlan(query, obj, store, version)
