"""The SOQL subset the sandbox understands: a tokenizer and a recursive-descent parser.

Grammar (keywords case-insensitive)::

    query      := SELECT item ("," item)* FROM name [WHERE or] [ORDER BY order ("," order)*]
                  [LIMIT integer]
    item       := path | "(" query ")"                 child subquery, FROM a relationship
    or         := and (OR and)*
    and        := not (AND not)*
    not        := NOT not | "(" or ")" | path op literal | path [NOT] IN "(" literal,... ")"
                | path LIKE string
    order      := path [ASC | DESC] [NULLS (FIRST | LAST)]
    literal    := 'string' | number | true | false | null | date | datetime

Running a parsed query over the sandbox's records is ``soql_run``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any


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
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z")


def parse_literal_text(text: str) -> Decimal | date | datetime:
    """Convert an unquoted number, date or datetime literal."""
    for layout in DATETIME_FORMATS:
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
        if self._at_keyword("LIKE"):
            self._advance()
            pattern = self._literal()
            if not isinstance(pattern, str):
                raise malformed(f"LIKE on {path} needs a quoted pattern")
            return Comparison(path, "LIKE", pattern)
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
