"""Building SuiteTalk records for the ERP connector: ``RecordBuilder`` and payload conversions.

Values are converted per the record's XSD type; a value that does not fit is a ``PayloadError``.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from zeep.helpers import serialize_object
from zeep.xsd import ComplexType, CompoundValue
from zeep.xsd.types import builtins as xsd_builtins

from connectors.erp.custom import (
    CUSTOM_FIELD_LIST,
    CUSTOM_RECORD_TYPE,
    TypeOf,
    custom_field_value,
    is_custom_field,
    is_custom_record,
    unpacked,
)
from connectors.errors import ConfigError
from connectors.wire_values import xml_text_problem

SYSTEM = "erp"  # the system named in errors; connectors.erp.connector uses the same constant
NULL_FIELD_LIST = "nullFieldList"
# Identity attributes: a missing one means "not given", never "clear it".
_NEVER_CLEARED = frozenset({"internalId", "externalId", NULL_FIELD_LIST})
_LONG_LIMIT = 2**63
# A double holds 15 to 17 significant decimal digits; more would be rounded by NetSuite.
_DOUBLE_DIGITS = 17
_DOUBLE_MAX = Decimal("1.7976931348623157E+308")


@dataclass(frozen=True)
class RecordKind:
    """How one SuiteTalk record type is named, referenced and searched."""

    namespace: str  # ``{v}`` stands for the WSDL's version, e.g. ``2023_2``
    ref_type: str  # RecordRef ``type`` (getList, getDeleted)
    search_type: str  # the *SearchBasic type in the common namespace
    search_kind: str | None = None  # value of the search's ``type`` filter, if it needs one


_LISTS = "urn:{area}_{{v}}.lists.webservices.netsuite.com"
_TRANSACTIONS = "urn:{area}_{{v}}.transactions.webservices.netsuite.com"
COMMON_NAMESPACE = "urn:common_{v}.platform.webservices.netsuite.com"
CORE_NAMESPACE = "urn:core_{v}.platform.webservices.netsuite.com"
MESSAGES_NAMESPACE = "urn:messages_{v}.platform.webservices.netsuite.com"
RECORD_KINDS = {
    "Customer": RecordKind(_LISTS.format(area="relationships"), "customer", "CustomerSearchBasic"),
    "ServiceSaleItem": RecordKind(
        _LISTS.format(area="accounting"), "serviceSaleItem", "ItemSearchBasic", "_service"
    ),
    "InventoryItem": RecordKind(
        _LISTS.format(area="accounting"), "inventoryItem", "ItemSearchBasic", "_inventoryItem"
    ),
    "SalesOrder": RecordKind(
        _TRANSACTIONS.format(area="sales"), "salesOrder", "TransactionSearchBasic", "_salesOrder"
    ),
    "Invoice": RecordKind(
        _TRANSACTIONS.format(area="sales"), "invoice", "TransactionSearchBasic", "_invoice"
    ),
    "CustomerPayment": RecordKind(
        _TRANSACTIONS.format(area="customers"),
        "customerPayment",
        "TransactionSearchBasic",
        "_customerPayment",
    ),
    "Contact": RecordKind(_LISTS.format(area="relationships"), "contact", "ContactSearchBasic"),
    "Estimate": RecordKind(
        _TRANSACTIONS.format(area="sales"), "estimate", "TransactionSearchBasic", "_estimate"
    ),
    "CreditMemo": RecordKind(
        _TRANSACTIONS.format(area="customers"),
        "creditMemo",
        "TransactionSearchBasic",
        "_creditMemo",
    ),
    # Written only: a custom record's type is its mapping's object (see connectors.erp.custom).
    CUSTOM_RECORD_TYPE: RecordKind(
        "urn:customization_{v}.setup.webservices.netsuite.com",
        "customRecord",
        "CustomRecordSearchBasic",
    ),
}
# Record type -> its SuiteTalk namespace; ``{v}`` is the WSDL's version (e.g. ``2023_2``).
RECORD_NAMESPACES = {name: kind.namespace for name, kind in RECORD_KINDS.items()}


def record_kind(object_name: str) -> RecordKind:
    """The SuiteTalk record type ``object_name``, or a ConfigError naming the supported ones."""
    kind = RECORD_KINDS.get(CUSTOM_RECORD_TYPE if is_custom_record(object_name) else object_name)
    if kind is None:
        raise ConfigError(
            f"unsupported ERP record type {object_name!r}; expected one of {sorted(RECORD_KINDS)}",
            system=SYSTEM,
        )
    return kind


def line_record_type(type_of: TypeOf, type_name: str) -> Any:
    """The line type ``type_name`` (``InvoiceItem``) in a record type's namespace, if any."""
    for namespace in dict.fromkeys(kind.namespace for kind in RECORD_KINDS.values()):
        try:
            return type_of(namespace, type_name)
        except ConfigError:
            continue
    return None


class PayloadError(ValueError):
    """One payload value does not fit its XSD type; the record is rejected, the batch goes on."""

    def __init__(self, path: Sequence[str], problem: str) -> None:
        self.field = ".".join(path)
        super().__init__(f"{self.field}: {problem}")


class BuiltValue(dict[str, Any], CompoundValue):
    """A built record, line or reference: the values set on it, and the XSD type it renders as.

    zeep renders a value by walking its type's elements and asking ``name in value`` and
    ``value[name]``; on zeep's own value objects each ask goes through a Python-level
    ``__getattribute__``, and they hold every element of the type, set or not. A dict answers
    in C, and zeep renders a missing element as it renders a None one. Being a
    ``CompoundValue`` too, zeep passes it through as a typed value (a plain dict would be
    re-built as the abstract ``Record``). Fields read as attributes, as on zeep's values.
    """

    __getattribute__ = object.__getattribute__
    __setattr__ = object.__setattr__
    __dir__ = object.__dir__

    def __init__(self, xsd_type: Any = None, values: Mapping[str, Any] | None = None) -> None:
        dict.__init__(self, values or {})
        self._xsd_type = xsd_type

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __deepcopy__(self, memo: dict[int, Any]) -> BuiltValue:
        return BuiltValue(self._xsd_type, copy.deepcopy(dict(self), memo))


class RecordBuilder:
    """Builds typed zeep records from nested payload dicts, converting values per the XSD."""

    def __init__(self, type_of: TypeOf | None = None) -> None:
        """``type_of`` looks up the ``*CustomFieldRef`` types; without it no custom fields."""
        # zeep recomputes a type's element list on every access; one plan per type is enough.
        self._fields: dict[Any, dict[str, tuple[Any, bool]]] = {}
        self._type_of = type_of
        # type -> the values its schema gives by default (rarely any)
        self._defaults: dict[Any, dict[str, Any]] = {}

    def build(self, record_type: Any, payload: Mapping[str, Any]) -> Any:
        """Return a ``record_type`` value; a field the type lacks is a ConfigError."""
        try:
            return self._complex(record_type, payload, ())
        except _UnknownField as unknown:
            message = f"{record_type.name} has no field {unknown.field!r}; fix the ERP mapping"
            raise ConfigError(message, system=SYSTEM) from None

    def _complex(self, xsd_type: Any, payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
        fields = self._fields.get(xsd_type) or self._plan(xsd_type)
        values: dict[str, Any] = {}
        # Only a record (not a line or a reference) carries nullFieldList: there a None clears
        # the field in NetSuite; leaving it out would keep the old value.
        cleared: list[str] | None = [] if NULL_FIELD_LIST in fields and not path else None
        custom: list[Any] = []
        for name, raw in payload.items():
            if name not in fields and not self._takes_custom(fields, name):
                raise _UnknownField((*path, name), "unknown field")
            if _is_empty(raw):
                if cleared is not None and name not in _NEVER_CLEARED:
                    cleared.append(name)
                continue
            if name not in fields:
                custom.append(self._custom(name, raw, (*path, name)))
                continue
            field_type, repeated = fields[name]
            values[name] = self._convert(field_type, repeated, raw, (*path, name))
        if custom:
            custom_list = fields[CUSTOM_FIELD_LIST][0]
            values[CUSTOM_FIELD_LIST] = self._value(custom_list, {"customField": custom})
        if cleared:
            values[NULL_FIELD_LIST] = self._value(fields[NULL_FIELD_LIST][0], {"name": cleared})
        return self._value(xsd_type, values)

    def _value(self, xsd_type: Any, values: Mapping[str, Any]) -> Any:
        """``xsd_type(**values)`` for values already checked and converted, far cheaper.

        zeep's constructor parses its keyword arguments against every element of the type (a
        record has a hundred) and re-converts nested values; these are checked against the
        plan and converted already. The value is a :class:`BuiltValue` holding only what is
        set, plus any defaults the schema gives; it renders the same XML
        (tests/unit/test_erp_wsdl_parity.py compares the two).
        """
        defaults = self._defaults.get(xsd_type)
        if defaults is None:
            defaults = self._defaults[xsd_type] = {
                name: default
                for name, default in xsd_type().__values__.items()
                if default is not None and default != []
            }
        return BuiltValue(xsd_type, {**defaults, **values} if defaults else values)

    def _takes_custom(self, fields: Mapping[str, Any], name: str) -> bool:
        return self._type_of is not None and CUSTOM_FIELD_LIST in fields and is_custom_field(name)

    def _custom(self, name: str, raw: Any, path: tuple[str, ...]) -> Any:
        assert self._type_of is not None
        if isinstance(raw, list):
            raise PayloadError(path, "expected a single value or a reference")
        type_name, value = custom_field_value(raw)
        ref_type = self._type_of(CORE_NAMESPACE, type_name)
        return self._complex(ref_type, {"scriptId": name, "value": value}, path)

    def _plan(self, xsd_type: Any) -> dict[str, tuple[Any, bool]]:
        plan = {name: (attribute.type, False) for name, attribute in xsd_type.attributes}
        for name, element in xsd_type.elements:
            plan[name] = (element.type, element.max_occurs != 1)
        self._fields[xsd_type] = plan
        return plan

    def _convert(self, field_type: Any, repeated: bool, raw: Any, path: tuple[str, ...]) -> Any:
        if repeated:
            if not isinstance(raw, list):
                raise PayloadError(path, "expected a list")
            return [self._convert(field_type, False, item, path) for item in raw]
        if isinstance(field_type, ComplexType):
            if not isinstance(raw, Mapping):
                raise PayloadError(path, "expected an object")
            return self._complex(field_type, raw, path)
        return convert_simple(field_type, raw, path)


def _is_empty(raw: Any) -> bool:
    """None, or a reference whose every value is None (``currency: {internalId: None}``)."""
    if raw is None:
        return True
    return isinstance(raw, Mapping) and bool(raw) and all(_is_empty(v) for v in raw.values())


def plain_record(value: Any) -> dict[str, Any]:
    """A zeep record as plain data: dicts and lists, ISO dates, decimal strings, no Nones.

    Custom fields are keys of the record again, and of each line of its sublists (an item
    line's ``custcol_*``), so a record read back compares like with what was written.
    """
    plain = _plain(serialize_object(value, dict))  # type: ignore[no-untyped-call]
    if not isinstance(plain, dict):
        return {}
    for sublist in plain.values():
        for lines in sublist.values() if isinstance(sublist, dict) else ():
            for line in lines if isinstance(lines, list) else ():
                if isinstance(line, dict):
                    unpacked(line)
    return unpacked(plain)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        # zeep keeps elements its schema lacks in ``_raw_elements``; they are not data here.
        return {
            k: _plain(v)
            for k, v in value.items()
            if v is not None and v != [] and k != "_raw_elements"
        }
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return str(value)
    return value


class _UnknownField(PayloadError):
    """A mapping bug rather than bad data: surfaced as a ConfigError by RecordBuilder.build."""


def convert_simple(field_type: Any, raw: Any, path: Sequence[str]) -> Any:
    """Convert one plain value to what zeep renders correctly for ``field_type``."""
    if isinstance(raw, Mapping | list):
        raise PayloadError(path, "expected a single value")
    if isinstance(field_type, xsd_builtins.Boolean):
        return _to_bool(raw, path)
    if isinstance(field_type, _NUMBER_TYPES):
        return _to_number(field_type, raw, path)
    if isinstance(field_type, xsd_builtins.DateTime):
        return _to_datetime(raw, path)
    if isinstance(field_type, xsd_builtins.Date):
        return _to_datetime(raw, path).date()
    text = raw if isinstance(raw, str) else str(raw)
    # lxml refuses a whole request over one such character; only this record is refused.
    problem = xml_text_problem(text)
    if problem is not None:
        raise PayloadError(path, f"{problem}, which XML 1.0 cannot carry")
    return text


def _to_bool(raw: Any, path: Sequence[str]) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in {"true", "false"}:
        return raw.lower() == "true"
    raise PayloadError(path, f"expected true or false, got {_shown(raw)}")


def _to_decimal(raw: Any, path: Sequence[str]) -> Decimal:
    try:
        value = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise PayloadError(path, f"expected a finite decimal number, got {_shown(raw)}")
    return value


_NUMBER_TYPES = (xsd_builtins.Decimal, xsd_builtins.Double, xsd_builtins.Float)


def _to_number(field_type: Any, raw: Any, path: Sequence[str]) -> int | Decimal:
    if isinstance(field_type, xsd_builtins.Integer):  # zeep's Integer is a Decimal
        return _to_integer(raw, path)
    if isinstance(field_type, xsd_builtins.Decimal):
        # Decimal renders exactly (``"1200.00"``), where float could round.
        return _to_decimal(raw, path)
    return _to_double(raw, path)


def _to_integer(raw: Any, path: Sequence[str]) -> int:
    value = _to_decimal(raw, path)
    if value != value.to_integral_value():
        raise PayloadError(path, f"expected a whole number, got {raw!r}")
    if not -_LONG_LIMIT <= value < _LONG_LIMIT:
        raise PayloadError(path, f"{value} is outside the range of a 64-bit whole number")
    return int(value)


def _to_double(raw: Any, path: Sequence[str]) -> Decimal:
    """A decimal NetSuite stores as an xsd:double without rounding it."""
    value = _to_decimal(raw, path)
    digits = "".join(map(str, value.as_tuple().digits)).strip("0")
    if len(digits) > _DOUBLE_DIGITS:
        raise PayloadError(
            path,
            f"{_shown(raw)} has {len(digits)} significant digits; NetSuite keeps numbers as "
            f"doubles ({_DOUBLE_DIGITS} digits) and would round it",
        )
    if abs(value) > _DOUBLE_MAX:
        raise PayloadError(path, f"{_shown(raw)} is beyond the largest double")
    return value


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _to_datetime(raw: Any, path: Sequence[str]) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, dt.date):
        return dt.datetime.combine(raw, dt.time())
    try:
        return dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise PayloadError(path, f"expected a date (YYYY-MM-DD), got {_shown(raw)}") from None
