"""Python source for one field rule: the same steps as its closures, written out inline.

Covered: ``path``, ``const``, ``template`` and ``join`` rules with ``map``, ``default``,
``required``, ``type``/``format``, ``ref`` and the text check. A rule with ``when``, ``split``,
``each``, ``expr`` or type ``money`` raises :class:`NotGenerated` and keeps its closure: those
are rare, and their closures are already one call each. Every message and exception class is
the closure path's (:mod:`mappings.values`), so both paths fail a record the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from mappings.codegen_source import NotGenerated, Source
from mappings.coercion import (
    DATE_TYPES,
    ILLEGAL_TEXT,
    DateWriter,
    FieldType,
    date_text,
    datetime_text,
    decimal_text,
    to_date,
    to_datetime,
    to_decimal,
    to_integer,
    to_string,
    unchanged,
)
from mappings.errors import MappingError, UnresolvedReference
from mappings.expressions import compile_template
from mappings.fields import CanonicalField
from mappings.rule_kinds import ConstRule, ExprRule, JoinRule, PathRule, RuleBase, TemplateRule
from mappings.values import (
    CONVERSION_ERRORS,
    Side,
    ValueOf,
    checked_text,
    converted,
    converter_for,
    lookup_key,
    may_be_text,
    noting_stripped_text,
    unmapped_handler,
)

_MISSING = object()
# Names every generated function may use, bound once in its globals.
RUNTIME: dict[str, Any] = {
    "Mapping_": Mapping,
    "MappingError_": MappingError,
    "UnresolvedReference_": UnresolvedReference,
    "ERRORS_": CONVERSION_ERRORS,
    "MISSING_": _MISSING,
    "search_": ILLEGAL_TEXT.search,
    "checked_text_": checked_text,
    "lookup_key_": lookup_key,
    "to_string_": to_string,
    "to_decimal_": to_decimal,
    "to_date_": to_date,
    "to_integer_": to_integer,
    "date_fromisoformat_": date.fromisoformat,
    "to_datetime_": to_datetime,
}
# Converters whose body is written inline (a call or two fewer per field); the rest are
# called. Each takes the common exact type first, where the converter's result is known: an
# int is its own integer, ISO text its own first ten characters' date.
_DATE = "(date_fromisoformat_(v[:10]) if type(v) is str else to_date_(v))"
_INLINE: dict[Any, str] = {
    to_string: "v if type(v) is str else to_string_(v)",
    to_integer: "v if type(v) is int else to_integer_(v)",
    decimal_text: "str(to_decimal_(v))",
    date_text: f"{_DATE}.isoformat()",
    datetime_text: "to_datetime_(v).isoformat()",
}


def _inline(src: Source, convert: Any) -> str:
    known = _INLINE.get(convert)
    if known is not None:
        return known
    if isinstance(convert, DateWriter) and not convert.with_time:
        return f"{_DATE}.strftime({src.name(convert.pattern, 'pattern')})"
    return f"{src.name(convert, 'convert')}(v)"


def emit_get(src: Source, depth: int, path: str, into: str = "v") -> None:
    """``into = <path read from record>``, as :func:`mappings.rule_kinds.getter` reads it."""
    src.add(depth, f"{into} = {path_local(src, depth, path)}")


def path_local(src: Source, depth: int, path: str) -> str:
    """The local holding ``path``'s value, read once per record at the function's top level.

    A record is a Mapping, so its first step is a plain ``get``; deeper steps read only from a
    Mapping, and anything else reads as null, as the getter does.
    """
    known = src.paths.get(path)
    if known is not None:
        return known
    parent, _, last = path.rpartition(".")
    if parent:
        above = path_local(src, depth, parent)
        read = f"{above}.get({src.literal(last)}) if {_mapping_flag(src, depth, parent)} else None"
    else:
        read = f"record.get({src.literal(path)})"
    local = f"p{len(src.paths)}"
    src.add(depth, f"{local} = {read}")
    src.paths[path] = local
    return local


def _mapping_flag(src: Source, depth: int, path: str) -> str:
    """A local that says whether ``path``'s value is a Mapping, worked out once per record."""
    known = src.flags.get(path)
    if known is not None:
        return known
    value, flag = src.paths[path], f"m{len(src.flags)}"
    src.add(depth, f"{flag} = type({value}) is dict or isinstance({value}, Mapping_)")
    src.flags[path] = flag
    return flag


def _emit_template(src: Source, depth: int, text: str) -> None:
    """The template as one f-string: literals as constants, each slot as ``to_string`` does it."""
    pieces = []
    for literal, name in compile_template(text).parts:
        if literal:
            pieces.append(f"{{{src.name(literal, 'text')}}}")
        if name:
            slot = path_local(src, depth, name)
            pieces.append(
                f"{{('' if {slot} is None else 'true' if {slot} is True "
                f"else 'false' if {slot} is False else {slot})!s}}"
            )
    src.add(depth, f'v = f"{"".join(pieces)}".strip() or None')


def _emit_source(src: Source, depth: int, rule: RuleBase) -> None:
    if isinstance(rule, PathRule):
        emit_get(src, depth, rule.path)
    elif isinstance(rule, TemplateRule):
        _emit_template(src, depth, rule.template)
    elif isinstance(rule, JoinRule):
        src.add(depth, f"v = {src.name(rule.source(), 'join')}(record)")
    else:
        raise NotGenerated(rule.kind)


def _emit_convert(src: Source, depth: int, key: str, convert: Any) -> None:
    call = _inline(src, convert)
    src.add(
        depth,
        "try:",
        f"    v = {call}",
        "except ERRORS_ as error:",
        f"    raise MappingError_({src.literal(key)}, str(error)) from None",
    )


def _emit_pick(src: Source, depth: int, key: str, rule: RuleBase, convert: Any) -> None:
    """Raw ``v`` -> value: null to the default, else lookup table or converter; then required."""
    default = None if rule.default is None else converted(convert, key, rule.default)
    converts = convert is not unchanged
    branch = rule.lookup is not None or converts
    if default is not None:
        src.add(depth, "if v is None:", f"    v = {src.literal(default)}")
        if branch:
            src.add(depth, "else:")
    elif branch:
        src.add(depth, "if v is not None:")
    if rule.lookup is not None:
        table = {
            k: None if v is None else converted(convert, key, v) for k, v in rule.lookup.items()
        }
        unmapped = unmapped_handler(key, rule, convert, default)
        src.add(
            depth + 1,
            f"found = {src.name(table, 'table')}.get("
            "v if type(v) is str else lookup_key_(v), MISSING_)",
            f"v = {src.name(unmapped, 'unmapped')}(v) if found is MISSING_ else found",
        )
    elif converts:
        _emit_convert(src, depth + 1, key, convert)
    if rule.required:
        message = f"required, but {getattr(rule, rule.kind)} is empty"
        src.add(
            depth,
            "if v is None:",
            f"    raise MappingError_({src.literal(key)}, {src.literal(message)})",
        )


def _emit_resolve(src: Source, depth: int, key: str, entity: str, side: Side) -> None:
    method = "canonical_id" if side.inbound else "system_id"
    entity_text, system = src.literal(entity), src.literal(side.system)
    src.add(
        depth,
        "if v is not None:",
        f"    found = refs.{method}({entity_text}, {system}, v)",
        "    if found is None:",
        f"        raise UnresolvedReference_({src.literal(key)}, entity={entity_text}, "
        f"system={system}, key=str(v))",
        "    v = found",
    )


def emit_value(
    src: Source,
    depth: int,
    key: str,
    rule: RuleBase,
    field: CanonicalField | None,
    side: Side,
    value_of: ValueOf,
) -> None:
    """Lines that leave the rule's value in ``v``; NotGenerated for rules kept as closures."""
    split = isinstance(rule, PathRule) and (rule.split is not None or rule.each is not None)
    if rule.when is not None or split or isinstance(rule, ExprRule):
        raise NotGenerated(rule.kind)
    if rule.field_type is FieldType.MONEY:
        raise NotGenerated("money")
    convert = converter_for(rule, field, side)
    if isinstance(rule, ConstRule):
        _emit_const(src, depth, value_of)
        return
    _emit_source(src, depth, rule)
    if rule.ref is not None and not side.inbound:
        # Outbound refs take canonical ids as they are; `type` shapes what goes on the wire.
        _emit_resolve(src, depth, key, rule.ref, side)
    _emit_pick(src, depth, key, rule, convert)
    if rule.ref is not None and side.inbound:
        _emit_resolve(src, depth, key, rule.ref, side)
    if may_be_text(rule, field) and not _known_clean(key, rule, convert, side):
        label = f"{side.entity}.{key}" if side.entity else key
        strip = (rule.illegal_characters or side.illegal_characters) == "strip"
        src.add(
            depth,
            # Printable text holds none of the characters (they are all of categories Cc, Cs
            # or Cn); only other text pays for the search.
            "if v is not None and (type(v) is not str or not v.isprintable()"
            " and search_(v) is not None):",
            f"    v = checked_text_({src.literal(label)}, v, {strip!r})",
        )


def _known_clean(key: str, rule: RuleBase, convert: Any, side: Side) -> bool:
    """True when the rule's every outcome is known text without illegal characters.

    A ``map`` rule's value is a table value, the default, or null (an unmapped value fails, or
    takes the default); an outbound date ``format`` writes only its pattern and digits. Checking
    their text per record would find nothing. A resolved inbound ref is the resolver's answer.
    """
    if rule.ref is not None and side.inbound:
        return False
    if rule.lookup is None and not side.inbound and isinstance(rule.fmt, str):
        return rule.field_type in DATE_TYPES and ILLEGAL_TEXT.search(rule.fmt) is None
    if rule.lookup is None or rule.unmapped == "passthrough":
        return False
    default = None if rule.default is None else converted(convert, key, rule.default)
    outcomes = [None if v is None else converted(convert, key, v) for v in rule.lookup.values()]
    return all(
        value is None
        or (type(value) in (str, bool, int) and ILLEGAL_TEXT.search(str(value)) is None)
        for value in [*outcomes, default]
    )


def _emit_const(src: Source, depth: int, value_of: ValueOf) -> None:
    """A constant's value is worked out once, here, by its own closure: same value, same checks.

    Unless that fails or strips text: then the closure runs per record, to fail or note there.
    """
    try:
        with noting_stripped_text() as notes:
            value = value_of({}, _NO_REFS)
    except (MappingError, *CONVERSION_ERRORS) as error:
        raise NotGenerated("const") from error
    if notes:
        raise NotGenerated("const")
    src.add(depth, f"v = {src.literal(value)}")


class _NoRefs:
    """A constant's closure looks nothing up: it never reads the record or the refs."""

    def canonical_id(self, entity: str, system: str, system_id: str) -> str | None:
        """Never asked."""
        raise NotGenerated("ref")

    def system_id(self, entity: str, system: str, canonical_id: str) -> str | None:
        """Never asked."""
        raise NotGenerated("ref")


_NO_REFS = _NoRefs()
