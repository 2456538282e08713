"""Building SuiteTalk records for the ERP connector: ``RecordBuilder`` and payload conversions.

Values are converted per the record's XSD type; a value that does not fit is a ``PayloadError``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from zeep.xsd import ComplexType
from zeep.xsd.types import builtins as xsd_builtins

from connectors.errors import ConfigError

SYSTEM = "erp"  # the system named in errors; connectors.erp uses the same constant


class PayloadError(ValueError):
    """One payload value does not fit its XSD type; the record is rejected, the batch goes on."""

    def __init__(self, path: Sequence[str], problem: str) -> None:
        self.field = ".".join(path)
        super().__init__(f"{self.field}: {problem}")


class RecordBuilder:
    """Builds typed zeep records from nested payload dicts, converting values per the XSD."""

    def __init__(self) -> None:
        # zeep recomputes a type's element list on every access; one plan per type is enough.
        self._fields: dict[Any, dict[str, tuple[Any, bool]]] = {}

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
        for name, raw in payload.items():
            if raw is None:
                continue
            if name not in fields:
                raise _UnknownField((*path, name), "unknown field")
            field_type, repeated = fields[name]
            values[name] = self._convert(field_type, repeated, raw, (*path, name))
        return xsd_type(**values)

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


class _UnknownField(PayloadError):
    """A mapping bug rather than bad data: surfaced as a ConfigError by RecordBuilder.build."""


def convert_simple(field_type: Any, raw: Any, path: Sequence[str]) -> Any:
    """Convert one plain value to what zeep renders correctly for ``field_type``."""
    if isinstance(raw, Mapping | list):
        raise PayloadError(path, "expected a single value")
    if isinstance(field_type, xsd_builtins.Boolean):
        return _to_bool(raw, path)
    if isinstance(field_type, xsd_builtins.Integer):
        return int(_to_decimal(raw, path))
    if isinstance(field_type, xsd_builtins.Decimal | xsd_builtins.Double | xsd_builtins.Float):
        # Decimal renders exactly (``"1200.00"``), where float could round.
        return _to_decimal(raw, path)
    if isinstance(field_type, xsd_builtins.DateTime):
        return _to_datetime(raw, path)
    if isinstance(field_type, xsd_builtins.Date):
        return _to_datetime(raw, path).date()
    return raw if isinstance(raw, str) else str(raw)


def _to_bool(raw: Any, path: Sequence[str]) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in {"true", "false"}:
        return raw.lower() == "true"
    raise PayloadError(path, f"expected true or false, got {raw!r}")


def _to_decimal(raw: Any, path: Sequence[str]) -> Decimal:
    try:
        value = Decimal(str(raw)) if not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise PayloadError(path, f"expected a decimal number, got {raw!r}")
    return value


def _to_datetime(raw: Any, path: Sequence[str]) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, dt.date):
        return dt.datetime.combine(raw, dt.time())
    try:
        return dt.datetime.fromisoformat(str(raw))
    except ValueError:
        raise PayloadError(path, f"expected a date (YYYY-MM-DD), got {raw!r}") from None
