"""NetSuite custom fields and custom records for the ERP connector.

A payload key that names a custom field (``custrecord_rb_start_date``, ``custbody_rb_quote``)
travels in the record's ``customFieldList``; its SuiteTalk type follows the value: text is a
``StringCustomFieldRef``, a number a ``DoubleCustomFieldRef``, true/false a
``BooleanCustomFieldRef``, a date a ``DateCustomFieldRef`` and a reference (``{externalId: ..}``
or ``{internalId: ..}``) a ``SelectCustomFieldRef``. Read back, each custom field is a key of the
record again, so conflict checks compare like with like.

A mapping whose ``object`` is a custom record type's script id (``customrecord_rb_contract``)
writes ``CustomRecord``s of that type; ``erp.custom_record_types`` gives the internal id of each
type in the account (it differs between a sandbox account and production, the script id not).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from connectors.base import WriteOutcome, WriteResult
from connectors.errors import ConfigError

SYSTEM = "erp"  # the system named in errors, as in connectors.erp.records
CUSTOM_FIELD_PREFIXES = ("custbody", "custcol", "custentity", "custitem", "custrecord")
CUSTOM_RECORD_PREFIX = "customrecord"
CUSTOM_RECORD_TYPE = "CustomRecord"
CUSTOM_FIELD_LIST = "customFieldList"
CORE_NAMESPACE = "urn:core_{v}.platform.webservices.netsuite.com"
TypeOf = Callable[[str, str], Any]  # (namespace template, type name) -> zeep type


def is_custom_field(name: str) -> bool:
    """True for a NetSuite custom field's script id."""
    return name.startswith(CUSTOM_FIELD_PREFIXES)


def is_custom_record(object_name: str) -> bool:
    """True for a custom record type's script id, such as ``customrecord_rb_contract``."""
    return object_name.startswith(CUSTOM_RECORD_PREFIX)


def record_type_name(object_name: str) -> str:
    """The SuiteTalk type an ERP mapping's ``object`` is written as."""
    return CUSTOM_RECORD_TYPE if is_custom_record(object_name) else object_name


def custom_record_type_id(types: Mapping[str, str], object_name: str) -> str:
    """The account's internal id of the custom record type ``object_name``."""
    type_id = types.get(object_name)
    if not type_id:
        raise ConfigError(
            f"set erp.custom_record_types.{object_name} to the internal id of that custom "
            "record type (Customization > Lists, Records & Fields > Record Types)",
            system=SYSTEM,
        )
    return type_id


def unset_type_result(payload: Mapping[str, Any], unset: ConfigError) -> WriteResult:
    """A record of a custom record type whose internal id is not configured: rejected with
    what to set, so it waits in the error queue while the rest of the run goes on."""
    return WriteResult(
        str(payload.get("externalId", "")),
        WriteOutcome.REJECTED,
        error_code="CUSTOM_RECORD_TYPE_UNSET",
        error_message=str(unset),
    )


def custom_field_value(value: Any) -> tuple[str, Any]:
    """The ``*CustomFieldRef`` type name ``value`` travels as, and the value to send."""
    if isinstance(value, bool):
        return "BooleanCustomFieldRef", value
    if isinstance(value, Mapping):
        return "SelectCustomFieldRef", {k: str(v) for k, v in value.items() if v is not None}
    if isinstance(value, dt.datetime):
        return "DateCustomFieldRef", value
    if isinstance(value, dt.date):
        return "DateCustomFieldRef", dt.datetime.combine(value, dt.time())
    if isinstance(value, int | float | Decimal):
        return "DoubleCustomFieldRef", Decimal(str(value))
    return "StringCustomFieldRef", str(value)


def unpacked(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with each entry of its ``customFieldList`` as a key of its own."""
    listing = record.pop(CUSTOM_FIELD_LIST, None)
    fields: Sequence[Any] = (listing or {}).get("customField") or []
    for field in fields:
        if isinstance(field, Mapping) and field.get("scriptId"):
            record[str(field["scriptId"])] = field.get("value")
    return record
