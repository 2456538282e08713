"""SOQL for revbridge's reads: named fields only, (SystemModstamp, Id) order, quoted values.

Names come from mappings (admin configuration) and are checked as API names before they are
placed in a query; values (cursor ids, record ids) are quoted by simple-salesforce's
``format_soql``, never by string formatting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from simple_salesforce.format import format_soql

from connectors.base import Cursor, ReadSpec
from connectors.errors import ConfigError
from connectors.salesforce.login import SYSTEM

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")
_STAMP_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z")


def checked_name(name: str) -> str:
    """An API name safe to place in SOQL; config typos fail here, not as injected SOQL."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{name!r} is not a valid Salesforce API name", system=SYSTEM)
    return name


def unique_names(names: Sequence[str]) -> list[str]:
    """Checked names without case-insensitive duplicates, first spelling kept."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(checked_name(name).lower(), name)
    return list(seen.values())


def soql_datetime(stamp: str) -> str:
    """A SystemModstamp string as a SOQL datetime literal, keeping its milliseconds.

    ``format_soql`` drops fractional seconds from datetimes; a cursor that lost them would
    re-read the same records forever, so the literal is rendered here from a parsed datetime.
    """
    for layout in _STAMP_FORMATS:
        try:
            parsed = datetime.strptime(stamp, layout).astimezone(UTC)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
    raise ConfigError(f"cursor stamp {stamp!r} is not a Salesforce datetime", system=SYSTEM)


def read_field_names(spec: ReadSpec) -> list[str]:
    """The parent's own fields of a read: key, cursor, IsDeleted, then the mapping's."""
    return unique_names([spec.key_field, spec.cursor_field, "IsDeleted", *spec.fields])


def _select(spec: ReadSpec, with_children: bool = True) -> str:
    """``SELECT <fields and child subqueries> FROM <object>``, names checked."""
    fields = read_field_names(spec)
    for child in spec.children if with_children else ():
        child_fields = ", ".join(unique_names(["Id", *child.fields]))
        relationship = checked_name(child.relationship)
        fields.append(
            format_soql("(SELECT {:literal} FROM {:literal})", child_fields, relationship)
        )
    # Names are checked API names, placed as literals; values are quoted by format_soql.
    return format_soql(
        "SELECT {:literal} FROM {:literal}", ", ".join(fields), checked_name(spec.object_name)
    )


def _where(conditions: Sequence[str]) -> str:
    return (
        " WHERE " + " AND ".join(f"({condition})" for condition in conditions) if conditions else ""
    )


def _read_conditions(spec: ReadSpec, since: Cursor | None) -> list[str]:
    conditions = [spec.filter] if spec.filter else []
    if since is not None:
        conditions.append(
            format_soql(
                "{stamp_field:literal} > {stamp:literal} OR "
                "({stamp_field:literal} = {stamp:literal} AND {key_field:literal} > {record_id})",
                stamp_field=spec.cursor_field,
                stamp=soql_datetime(since.modified),
                key_field=spec.key_field,
                record_id=since.record_id,
            )
        )
    if spec.until is not None:
        conditions.append(
            format_soql(
                "{stamp_field:literal} <= {until:literal}",
                stamp_field=spec.cursor_field,
                until=soql_datetime(spec.until),
            )
        )
    return conditions


def build_read_soql(spec: ReadSpec, since: Cursor | None, *, with_children: bool = True) -> str:
    """SOQL for one incremental read: named fields, child subqueries, (stamp, id) order."""
    where = _where(_read_conditions(spec, since))
    order = f" ORDER BY {spec.cursor_field}, {spec.key_field}"
    return f"{_select(spec, with_children)}{where}{order}"


def build_fetch_soql(spec: ReadSpec, record_ids: Sequence[str]) -> str:
    """SOQL reading the given records by id (the mapping's filter does not apply)."""
    condition = format_soql("{:literal} IN {}", spec.key_field, list(record_ids))
    return f"{_select(spec)}{_where([condition])}"


def build_existing_soql(object_name: str, external_id_field: str, keys: Sequence[str]) -> str:
    """SOQL finding which of ``keys`` already exist (to leave create-only fields off updates)."""
    field = checked_name(external_id_field)
    return format_soql(
        "SELECT {:literal} FROM {:literal} WHERE {:literal} IN {}",
        field,
        checked_name(object_name),
        field,
        list(keys),
    )
