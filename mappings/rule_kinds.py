"""Field rule kinds: one pydantic model per way of producing a value, in one registry.

A rule has exactly one *source* key, which names its kind (``path``, ``const``, ``template``,
``expr``, ``join``), plus optional modifiers shared by every kind (``type``, ``format``,
``map``, ``default``, ``required``, ``when``, ``ref``...). Adding a kind means adding a model
here with ``names()`` and ``source()`` and listing it in ``KINDS``; the schema, the loader's
checks and the compiler pick it up from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mappings.coercion import DATE_TYPES, NUMBER_TYPES, FieldType, date_format_problem, to_string
from mappings.expressions import compile_expression, compile_template

Scalar = str | bool | int | float | None
IllegalCharacterPolicy = Literal["reject", "strip"]
Record = Mapping[str, Any]
Source = Callable[[Record], Any]
TAG_PREFIX = "rule:"


class Spec(BaseModel):
    """Base of every mapping spec model: unknown keys are errors, specs are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class NumberFormat(Spec):
    """How a number is written as text, e.g. ``{decimal: ",", thousands: "."}`` for 1.234,56."""

    decimal: Literal[".", ","] = Field(".", description="decimal mark")
    thousands: Literal["", ",", ".", " ", "'"] = Field("", description="thousands separator")

    @model_validator(mode="after")
    def _distinct(self) -> NumberFormat:
        if self.decimal == self.thousands:
            raise ValueError("decimal mark and thousands separator must differ")
        return self


class SplitText(Spec):
    """Split text on a separator into sub-keys; the last one keeps the rest."""

    separator: str = Field(min_length=1, description="e.g. a newline")
    into: list[str] = Field(min_length=1, description="sub-keys, in order")


def getter(path: str) -> Source:
    """Reads a dotted path (``Account.Owner.Email``) from a record; null when any step is."""
    parts = tuple(path.split("."))
    if len(parts) == 1:
        name = parts[0]
        return lambda record: record.get(name)

    def get(record: Record) -> Any:
        value: Any = record
        for part in parts:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return get


class RuleBase(Spec):
    """Modifiers every rule kind takes, applied in this order: when, map, default, type."""

    kind: ClassVar[str]

    when: str | None = Field(None, description="condition; the field is left out when false")
    lookup: dict[str, Scalar] | None = Field(None, alias="map", description="lookup table")
    unmapped: Literal["error", "default", "passthrough"] = Field(
        "error", description="what an unmapped value does: fail the record, use default, keep"
    )
    default: Scalar = Field(None, description="used when the value is null")
    field_type: FieldType | None = Field(None, alias="type", description="convert the value")
    fmt: str | NumberFormat | None = Field(
        None, alias="format", description="strptime pattern for dates, marks for numbers"
    )
    currency: str | None = Field(None, description="path of the currency of a money value")
    required: bool = Field(False, description="a null result fails the record")
    ref: str | None = Field(None, description="canonical entity whose id the value is")
    illegal_characters: IllegalCharacterPolicy | None = Field(
        None,
        description="text with characters XML 1.0 can't hold (control characters, lone "
        "surrogates, U+FFFE/U+FFFF): reject the record (default) or strip them, with a warning; "
        "unset: the file's text.illegal_characters",
    )

    @field_validator("when")
    @classmethod
    def _when_compiles(cls, text: str | None) -> str | None:
        if text is not None:
            compile_expression(text)
        return text

    @field_validator("fmt")
    @classmethod
    def _format_fits_type(
        cls, fmt: str | NumberFormat | None, info: ValidationInfo
    ) -> str | NumberFormat | None:
        field_type = info.data.get("field_type")
        if fmt is None:
            return fmt
        if isinstance(fmt, str):
            if field_type not in DATE_TYPES:
                raise ValueError("a text format goes with type date or datetime")
            problem = date_format_problem(field_type, fmt)
            if problem:
                raise ValueError(problem)
        elif field_type not in NUMBER_TYPES:
            raise ValueError("a number format goes with type integer, decimal or money")
        return fmt

    @model_validator(mode="after")
    def _modifiers_fit(self) -> RuleBase:
        given = self.model_fields_set
        if "unmapped" in given and self.lookup is None:
            raise ValueError("unmapped only goes with map")
        if self.unmapped == "default" and "default" not in given:
            raise ValueError("unmapped: default needs a default")
        if (self.field_type is FieldType.MONEY) != (self.currency is not None):
            raise ValueError("type money and currency go together")
        return self

    @property
    def has_default(self) -> bool:
        """True when the rule names a default (which may be null)."""
        return "default" in self.model_fields_set

    def reads(self) -> dict[str, frozenset[str]]:
        """Field paths of the record this rule reads, by the YAML key that names them."""
        found: dict[str, frozenset[str]] = {}
        if self.when:
            found["when"] = compile_expression(self.when).names
        if self.currency:
            found["currency"] = frozenset({self.currency})
        return found

    def names(self) -> frozenset[str]:
        """Every field path of the record this rule reads."""
        return frozenset().union(*self.reads().values())

    def source(self) -> Source:
        """The raw value of this rule for a record, before modifiers."""
        raise NotImplementedError


class PathRule(RuleBase):
    """Read a field by dotted path; ``each`` maps a child list, ``split`` a compound value."""

    kind: ClassVar[str] = "path"
    path: str = Field(min_length=1, description="dotted field path")
    each: str | dict[str, FieldRule] | None = Field(
        None, description="child mapping name, or inline rules for each item (outbound)"
    )
    parent_key: str | None = Field(None, description="child field set to the parent's id")
    split: dict[str, str] | SplitText | None = Field(
        None, description="{sub-key: component} of a compound value, or text split"
    )

    @model_validator(mode="after")
    def _each_alone(self) -> PathRule:
        given = self.model_fields_set
        if "parent_key" in given and self.each is None:
            raise ValueError("parent_key only goes with each")
        shaping = {"field_type", "lookup", "default", "ref", "fmt", "currency"}
        extra = shaping & given
        if self.each is not None and "illegal_characters" in given:
            raise ValueError("illegal_characters doesn't go with each; set it on the child rules")
        for key, other in (("each", self.each), ("split", self.split)):
            if other is not None and extra:
                names = sorted(type(self).model_fields[name].alias or name for name in extra)
                raise ValueError(f"{names} don't go with {key}")
        if self.each is not None and self.split is not None:
            raise ValueError("each and split don't go together")
        return self

    def reads(self) -> dict[str, frozenset[str]]:
        """The path itself, plus what the modifiers read."""
        return {"path": frozenset({self.path}), **super().reads()}

    def source(self) -> Source:
        """Reads the path."""
        return getter(self.path)


class ConstRule(RuleBase):
    """A fixed value."""

    kind: ClassVar[str] = "const"
    const: Scalar = Field(description="the value")

    def source(self) -> Source:
        """Always the constant (converted once by the compiler)."""
        value = self.const
        return lambda record: value


class TemplateRule(RuleBase):
    """Text built from fields: ``"{FirstName} {LastName}"``; null fields read as empty."""

    kind: ClassVar[str] = "template"
    template: str = Field(description="text with {field.path} slots")

    @field_validator("template")
    @classmethod
    def _compiles(cls, text: str) -> str:
        compile_template(text)
        return text

    def reads(self) -> dict[str, frozenset[str]]:
        """The slots' field paths."""
        return {"template": compile_template(self.template).names, **super().reads()}

    def source(self) -> Source:
        """Renders the template; surrounding blanks are trimmed and empty text is null."""
        parts = tuple(
            (literal, getter(name) if name else None)
            for literal, name in compile_template(self.template).parts
        )

        def render(record: Record) -> str | None:
            pieces: list[str] = []
            for literal, get in parts:
                pieces.append(literal)
                if get is not None:
                    value = get(record)
                    if value is not None:
                        pieces.append(to_string(value))
            return "".join(pieces).strip() or None

        return render


class ExprRule(RuleBase):
    """The escape hatch: a safe expression over the record's fields (simpleeval)."""

    kind: ClassVar[str] = "expr"
    expr: str = Field(description="e.g. round(Quantity * UnitPrice, 2)")

    @field_validator("expr")
    @classmethod
    def _compiles(cls, text: str) -> str:
        compile_expression(text)
        return text

    def reads(self) -> dict[str, frozenset[str]]:
        """Field paths the expression reads."""
        return {"expr": compile_expression(self.expr).names, **super().reads()}

    def source(self) -> Source:
        """Evaluates the expression."""
        return compile_expression(self.expr).evaluate


class JoinRule(RuleBase):
    """Several fields into one: a list joins text, a mapping builds a compound value."""

    kind: ClassVar[str] = "join"
    join: list[str] | dict[str, str] = Field(
        min_length=1, description="[paths] joined by separator, or {component: path}"
    )
    separator: str = Field("\n", description="between joined texts; empty ones are skipped")

    def reads(self) -> dict[str, frozenset[str]]:
        """The joined paths."""
        paths = self.join.values() if isinstance(self.join, dict) else self.join
        return {"join": frozenset(paths), **super().reads()}

    def source(self) -> Source:
        """Joins the texts, or builds the compound value (null when every part is)."""
        if isinstance(self.join, dict):
            components = [(key, getter(path)) for key, path in self.join.items()]

            def build(record: Record) -> dict[str, Any] | None:
                value = {key: get(record) for key, get in components}
                return value if any(part is not None for part in value.values()) else None

            return build
        gets, separator = [getter(path) for path in self.join], self.separator

        def join(record: Record) -> str | None:
            texts = [to_string(value) for get in gets if (value := get(record)) not in (None, "")]
            return separator.join(texts) if texts else None

        return join


KINDS: dict[str, type[RuleBase]] = {
    model.kind: model for model in (PathRule, ConstRule, TemplateRule, ExprRule, JoinRule)
}


def _kind_of(value: Any) -> str | None:
    if isinstance(value, RuleBase):
        return TAG_PREFIX + value.kind
    if isinstance(value, dict):
        return next((TAG_PREFIX + kind for kind in KINDS if kind in value), None)
    return None


NO_SOURCE = f"a rule needs one of {', '.join(KINDS)} (for example {{path: Name}})"

if TYPE_CHECKING:
    FieldRule = RuleBase
else:
    # One tagged union member per registered kind; the tag is the kind's source key.
    FieldRule = Annotated[
        Union[tuple(Annotated[model, Tag(TAG_PREFIX + kind)] for kind, model in KINDS.items())],  # noqa: UP007
        Discriminator(_kind_of, custom_error_type="rule_source", custom_error_message=NO_SOURCE),
    ]

for _model in KINDS.values():
    _model.model_rebuild()
