"""Safe expressions (``expr``, ``when``) on simpleeval, and ``template`` strings.

Both compile once, at load time: syntax errors, unknown functions and attribute access become
load problems, and each record only walks an already-checked tree. Names are field paths of
the record being mapped (``Account.Owner.Email``); a missing field reads as null, and JSON
floats read as exact decimals so amounts add up to the cent.
"""

from __future__ import annotations

import ast
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from simpleeval import EvalWithCompoundTypes

from mappings.coercion import to_date, to_decimal, to_string

Reader = Callable[[Any], Any]
_NONE: Mapping[str, Reader] = {}


class ExpressionProblem(ValueError):
    """An expression or template that can never run; the loader reports it with its place."""


def _round(value: Any, places: int = 0) -> Any:
    return None if value is None else round(to_decimal(value), places)


def _text(function: Callable[[str], str]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else function(to_string(value))


def _concat(*parts: Any) -> str:
    return "".join(to_string(part) for part in parts if part is not None)


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None and value != ""), None)


def _date(value: Any, pattern: str | None = None) -> date | None:
    if value is None:
        return None
    if pattern is None:
        return to_date(value)
    return datetime.strptime(str(value), pattern).date()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "round": _round,
    "abs": abs,
    "min": min,
    "max": max,
    "upper": _text(str.upper),
    "lower": _text(str.lower),
    "strip": _text(str.strip),
    "concat": _concat,
    "coalesce": _coalesce,
    "date": _date,
    "decimal": lambda value: None if value is None else to_decimal(value),
    "text": lambda value: None if value is None else to_string(value),
    "len": len,
}

# Anything else (comprehensions, lambdas, f-strings, walrus, subscripts) is refused at load.
_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Tuple,
    ast.List,
    ast.operator,
    ast.unaryop,
    ast.boolop,
    ast.cmpop,
)


class _FieldPaths(ast.NodeTransformer):
    """Turns ``Account.Owner.Email`` into one name, so no attribute is ever looked up."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        parts = [node.attr]
        value: ast.expr = node.value
        while isinstance(value, ast.Attribute):
            parts.append(value.attr)
            value = value.value
        if not isinstance(value, ast.Name):
            raise ExpressionProblem("attribute access is only allowed on field paths")
        parts.append(value.id)
        return ast.copy_location(ast.Name(id=".".join(reversed(parts)), ctx=ast.Load()), node)


class _Fields:
    """The record as simpleeval names: dotted paths, null when missing, floats as decimals."""

    __slots__ = ("readers", "record")

    def __init__(self, record: Mapping[str, Any], readers: Mapping[str, Reader]) -> None:
        self.record = record
        self.readers = readers

    def __getitem__(self, path: str) -> Any:
        value: Any = self.record
        for part in path.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        if value is None:
            return None
        read = self.readers.get(path)
        if read is not None:
            return read(value)
        return Decimal(repr(value)) if isinstance(value, float) else value


_local = threading.local()


def _evaluator() -> Any:
    # One evaluator per thread: simpleeval keeps the current names on the instance.
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        # A copy: simpleeval adds dict/list/set/tuple to the mapping it is given, which would
        # widen the whitelist that load-time checks use.
        evaluator = EvalWithCompoundTypes(functions=dict(FUNCTIONS), names={}, allowed_attrs={})
        _local.evaluator = evaluator
    return evaluator


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate against records."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    def evaluate(self, record: Mapping[str, Any], readers: Mapping[str, Reader] = _NONE) -> Any:
        """The expression's value for ``record``; errors propagate to the caller.

        ``readers`` turn named fields into typed values first (canonical amounts arrive as
        JSON text on the way out, and should compare as numbers).
        """
        fields = _Fields(record, readers)
        if isinstance(self.tree, ast.Name):
            # A bare field path (`when: revised_order_id`) is most conditions in the shipped
            # mappings: read it directly, as simpleeval would, without building an evaluation.
            return fields[self.tree.id]
        evaluator = _evaluator()
        evaluator.names = fields
        return evaluator.eval(self.text, previously_parsed=self.tree)


def compile_expression(text: str) -> Expression:
    """Parse and check ``text``; ExpressionProblem says what is wrong with it."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        where = f" at character {error.offset}" if error.offset else ""
        raise ExpressionProblem(f"syntax error{where}: {error.msg}") from None
    tree = _FieldPaths().visit(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionProblem(f"{type(node).__name__} is not allowed in an expression")
        if isinstance(node, ast.Call):
            _check_call(node)
        elif isinstance(node, ast.Name) and node.id not in FUNCTIONS:
            names.add(node.id)
    body = tree.body
    return Expression(text, body, frozenset(names))


def _check_call(node: ast.Call) -> None:
    if node.keywords:
        raise ExpressionProblem("functions take positional arguments only")
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        name = node.func.id if isinstance(node.func, ast.Name) else "?"
        known = ", ".join(sorted(FUNCTIONS))
        raise ExpressionProblem(f"unknown function {name!r}; available: {known}")


@dataclass(frozen=True)
class Template:
    """A checked ``template``: literal text and field paths, rendered without str.format."""

    parts: tuple[tuple[str, str | None], ...]

    @property
    def names(self) -> frozenset[str]:
        """Field paths the template reads."""
        return frozenset(name for _, name in self.parts if name is not None)


def compile_template(text: str) -> Template:
    """Split ``text`` into literals and ``{field.path}`` slots; no format specs, no indexing."""
    try:
        pieces = list(string.Formatter().parse(text))
    except ValueError as error:
        raise ExpressionProblem(f"{text!r}: {error}") from None
    parts: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in pieces:
        if name is not None and (not name or spec or conversion or "[" in name):
            message = "a slot is a field path like {FirstName}; use expr to compute or format"
            raise ExpressionProblem(f"{text!r}: {message}")
        parts.append((literal, name))
    if not any(name for _, name in parts):
        raise ExpressionProblem(f"{text!r} has no {{field}} slot; use const for fixed text")
    return Template(tuple(parts))
