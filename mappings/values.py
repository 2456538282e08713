"""One field rule compiled into a value function: ``(record, refs) -> value``.

Everything a rule says is decided here, once: the source, lookup table, default, converter,
currency, ref direction and condition. Per record only the chosen closures run, and the common
case (a plain field converted when present) is a single call past the getter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mappings.checks import DEFAULT_TYPE
from mappings.coercion import (
    ILLEGAL_TEXT,
    Converter,
    FieldType,
    NumberStyle,
    illegal_text_problem,
    inbound_converter,
    outbound_converter,
    strip_illegal_text,
    to_date,
    to_datetime,
    to_decimal,
    to_integer,
    to_money,
)
from mappings.errors import IllegalCharacters, MappingError, UnresolvedReference
from mappings.expressions import compile_expression
from mappings.fields import CanonicalField, FieldKind
from mappings.mapping_set import RefResolver
from mappings.rule_kinds import (
    ConstRule,
    ExprRule,
    IllegalCharacterPolicy,
    NumberFormat,
    PathRule,
    RuleBase,
    SplitText,
)
from mappings.rule_kinds import getter as make_getter

Record = Mapping[str, Any]
ValueOf = Callable[[Record, RefResolver], Any]

# A value function returns SKIP when its `when` is false: the field is left out entirely.
SKIP: Any = object()
_MISSING = object()
CONVERSION_ERRORS = (ValueError, TypeError, ArithmeticError)
# Values of these types are numbers, booleans or dates, never text to check for characters.
_NOT_TEXT_TYPES = frozenset(
    {FieldType.INTEGER, FieldType.DECIMAL, FieldType.MONEY, FieldType.BOOLEAN, FieldType.DATE,
     FieldType.DATETIME}
)  # fmt: skip
_NOT_TEXT_KINDS = frozenset(
    {FieldKind.DECIMAL, FieldKind.INTEGER, FieldKind.BOOLEAN, FieldKind.DATE, FieldKind.DATETIME}
)
# While a record is mapped, what `illegal_characters: strip` removed (see noting_stripped_text).
_stripped_notes: ContextVar[list[str] | None] = ContextVar("stripped_notes", default=None)


@dataclass(frozen=True)
class Side:
    """Which way a rule maps: into canonical (inbound) or onto a system (outbound).

    ``readers`` type the canonical fields that expressions read on the way out; ``entity``
    names the fields in messages (``account.name``); ``illegal_characters`` is the file's
    policy for rules that set none.
    """

    inbound: bool
    system: str
    readers: Mapping[str, Converter] = field(default_factory=dict)
    entity: str = ""
    illegal_characters: IllegalCharacterPolicy = "reject"


_READERS: dict[FieldKind, Converter] = {
    FieldKind.DECIMAL: to_decimal,
    FieldKind.INTEGER: to_integer,
    FieldKind.DATE: to_date,
    FieldKind.DATETIME: to_datetime,
}


def outbound_side(
    system: str,
    fields: Mapping[str, CanonicalField],
    entity: str = "",
    illegal_characters: IllegalCharacterPolicy = "reject",
) -> Side:
    """The outbound side for records of a model with these canonical fields."""
    readers = {path: _READERS[f.kind] for path, f in fields.items() if f.kind in _READERS}
    return Side(False, system, readers, entity, illegal_characters)


@contextmanager
def noting_stripped_text() -> Iterator[list[str]]:
    """Collect, while mapping one record, a note for each field whose text was stripped."""
    notes: list[str] = []
    token = _stripped_notes.set(notes)
    try:
        yield notes
    finally:
        _stripped_notes.reset(token)


def lookup_key(value: Any) -> Any:
    """The key a value is looked up under in a ``map`` table (YAML keys are strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def converted(convert: Converter, field: str, value: Any) -> Any:
    """``convert(value)``, its failure a MappingError naming the field."""
    try:
        return convert(value)
    except CONVERSION_ERRORS as error:
        raise MappingError(field, str(error)) from None


def converter_for(rule: RuleBase, field: CanonicalField | None, side: Side) -> Converter:
    """The rule's converter: its ``type`` and ``format``, else the canonical field's type."""
    fmt = rule.fmt
    style = NumberStyle(fmt.decimal, fmt.thousands) if isinstance(fmt, NumberFormat) else fmt
    if not side.inbound:
        if rule.field_type is FieldType.MONEY:
            return outbound_converter(FieldType.DECIMAL, style)
        return outbound_converter(rule.field_type, style)
    field_type = rule.field_type or (DEFAULT_TYPE.get(field.kind) if field else None)
    convert = inbound_converter(field_type, style)
    enum = field.enum if field is not None else None
    if field_type is FieldType.ENUM and enum is not None:
        members = frozenset(member.value for member in enum)

        def member(value: Any) -> str:
            text = convert(value)
            if text not in members:
                raise ValueError(f"{text!r} is not one of {', '.join(sorted(members))}")
            return str(text)

        return member
    return convert


def compile_value(key: str, rule: RuleBase, field: CanonicalField | None, side: Side) -> ValueOf:
    """The value function of one (non-``each``) rule."""
    convert = converter_for(rule, field, side)
    money = rule.field_type is FieldType.MONEY
    # Outbound money is checked against its currency as a number, then written.
    value_convert = to_decimal if money and not side.inbound else convert
    pick = _picker_for(key, rule, value_convert)
    if isinstance(rule, ConstRule):
        const = rule.const
        value_of: ValueOf = lambda record, refs: pick(const)  # noqa: E731
    elif isinstance(rule, PathRule) and rule.split is not None:
        value_of = _splitter(rule.split, rule.source())
    else:
        value_of = _valued(key, rule, pick, side)
    if money:
        value_of = _money(key, rule, value_of, convert, side)
    if may_be_text(rule, field):
        label = f"{side.entity}.{key}" if side.entity else key
        policy = rule.illegal_characters or side.illegal_characters
        value_of = _text_guarded(label, policy == "strip", value_of)
    return _conditional(key, rule.when, value_of, side)


def may_be_text(rule: RuleBase, field: CanonicalField | None) -> bool:
    """False when the rule's value is surely a number, boolean or date."""
    if rule.field_type is not None:
        return rule.field_type not in _NOT_TEXT_TYPES or isinstance(rule.fmt, str)
    return field is None or field.kind not in _NOT_TEXT_KINDS


def _text_guarded(label: str, strip: bool, value_of: ValueOf) -> ValueOf:
    """Reject (or strip) characters XML 1.0 can't hold in the text a value function returns."""

    def guarded(record: Record, refs: RefResolver) -> Any:
        value = value_of(record, refs)
        if type(value) is str and ILLEGAL_TEXT.search(value) is None:
            return value  # the common case, one search
        return checked_text(label, value, strip)

    return guarded


def checked_text(label: str, value: Any, strip: bool) -> Any:
    if isinstance(value, str):
        problem = illegal_text_problem(value)
        if problem is None:
            return value
        if not strip:
            raise IllegalCharacters(label, problem)
        notes = _stripped_notes.get()
        if notes is not None:
            notes.append(f"{label}: stripped {problem.removeprefix('contains ')}")
        return strip_illegal_text(value)
    if isinstance(value, Mapping):
        return {key: checked_text(f"{label}.{key}", inner, strip) for key, inner in value.items()}
    if isinstance(value, list):
        return [checked_text(f"{label}[{at}]", inner, strip) for at, inner in enumerate(value)]
    return value


def compile_ref_lookup(
    key: str, rule: RuleBase, field: CanonicalField | None, side: Side
) -> Callable[[Record], Any]:
    """The id a ``ref`` rule looks up for a record, unresolved: what a batch can prefetch.

    It is the value :func:`compile_value`'s function hands the resolver (``when`` aside:
    prefetching a key the condition later skips costs nothing but a row).
    """
    pick = _picker_for(key, rule, converter_for(rule, field, side))
    get = _source(key, rule, side)

    def lookup(record: Record) -> Any:
        try:
            return pick(get(record))
        except (MappingError, *CONVERSION_ERRORS):
            return None  # the record fails with this error when it is mapped

    return lookup


def _picker_for(key: str, rule: RuleBase, convert: Converter) -> Callable[[Any], Any]:
    default = None if rule.default is None else converted(convert, key, rule.default)
    return _picker(key, rule, convert, default)


def _source(key: str, rule: RuleBase, side: Side) -> Callable[[Record], Any]:
    if not isinstance(rule, ExprRule):
        return rule.source()
    expression, readers = compile_expression(rule.expr), side.readers

    def evaluate(record: Record) -> Any:
        try:
            return expression.evaluate(record, readers)
        except Exception as error:  # simpleeval and the functions raise many kinds
            raise MappingError(key, f"expr {rule.expr!r} failed: {error}") from None

    return evaluate


def _valued(key: str, rule: RuleBase, pick: Callable[[Any], Any], side: Side) -> ValueOf:
    get = _source(key, rule, side)
    if rule.ref is None:
        return lambda record, refs: pick(get(record))
    resolve = _resolver(key, rule.ref, side)
    if side.inbound:
        return lambda record, refs: resolve(pick(get(record)), refs)
    # Outbound refs take canonical ids as they are; `type` shapes what goes on the wire.
    return lambda record, refs: pick(resolve(get(record), refs))


def _picker(key: str, rule: RuleBase, convert: Converter, default: Any) -> Callable[[Any], Any]:
    """Raw value -> value: lookup table or converter, then default, then required."""
    table = None
    if rule.lookup is not None:
        table = {
            k: None if v is None else converted(convert, key, v) for k, v in rule.lookup.items()
        }
    if table is None and not rule.required and default is None:
        # The common case, kept to one call: a plain field converted when present.
        def pick_plain(value: Any) -> Any:
            if value is None:
                return None
            try:
                return convert(value)
            except CONVERSION_ERRORS as error:
                raise MappingError(key, str(error)) from None

        return pick_plain
    unmapped = unmapped_handler(key, rule, convert, default)
    required, what = rule.required, getattr(rule, rule.kind)

    def pick(value: Any) -> Any:
        if value is None:
            value = default
        elif table is None:
            value = converted(convert, key, value)
        else:
            found = table.get(lookup_key(value), _MISSING)
            value = unmapped(value) if found is _MISSING else found
        if value is None and required:
            raise MappingError(key, f"required, but {what} is empty")
        return value

    return pick


def unmapped_handler(
    key: str, rule: RuleBase, convert: Converter, default: Any
) -> Callable[[Any], Any]:
    if rule.unmapped == "default":
        return lambda value: default
    if rule.unmapped == "passthrough":
        return lambda value: converted(convert, key, value)
    known = ", ".join(sorted(rule.lookup or {}))
    what = getattr(rule, rule.kind)

    def fail(value: Any) -> Any:
        raise MappingError(
            key,
            f"{what} value {value!r} has no entry in the lookup table (known: {known}); "
            "add it to the map, or set unmapped: default with a default",
        )

    return fail


def _splitter(split: dict[str, str] | SplitText, get: Callable[[Record], Any]) -> ValueOf:
    if isinstance(split, SplitText):
        into, separator = split.into, split.separator

        def split_text(record: Record, refs: RefResolver) -> dict[str, Any] | None:
            value = get(record)
            if value is None:
                return None
            parts = str(value).split(separator, len(into) - 1)
            return dict(zip(into, parts + [None] * (len(into) - len(parts)), strict=True))

        return split_text
    pairs = tuple(split.items())

    def split_compound(record: Record, refs: RefResolver) -> dict[str, Any] | None:
        value = get(record)
        if not isinstance(value, Mapping):
            return None
        return {key: value.get(component) for key, component in pairs}

    return split_compound


def _money(key: str, rule: RuleBase, value_of: ValueOf, convert: Converter, side: Side) -> ValueOf:
    currency_of = make_getter(rule.currency or "")

    def money(record: Record, refs: RefResolver) -> Any:
        amount = value_of(record, refs)
        if amount is None:
            return None
        exact = converted(lambda value: to_money(value, currency_of(record)), key, amount)
        return exact if side.inbound else convert(exact)

    return money


def _conditional(key: str, when: str | None, value_of: ValueOf, side: Side) -> ValueOf:
    if when is None:
        return value_of
    condition, readers = compile_expression(when), side.readers

    def guarded(record: Record, refs: RefResolver) -> Any:
        try:
            holds = condition.evaluate(record, readers)
        except Exception as error:  # simpleeval and the functions raise many kinds
            raise MappingError(key, f"when {when!r} failed: {error}") from None
        return value_of(record, refs) if holds else SKIP

    return guarded


def _resolver(key: str, entity: str, side: Side) -> Callable[[Any, RefResolver], Any]:
    system, inbound = side.system, side.inbound

    def resolve(value: Any, refs: RefResolver) -> Any:
        if value is None:
            return None
        found = (
            refs.canonical_id(entity, system, value)
            if inbound
            else refs.system_id(entity, system, value)
        )
        if found is None:
            raise UnresolvedReference(key, entity=entity, system=system, key=str(value))
        return found

    return resolve
