"""How the pages show values: stored JSON as indented text, and links into a source system.

Everything here returns plain text; the templates print it with autoescape on. A link is only
ever built from a URL the configuration gives and an id whose shape is checked first, so no
stored value can choose where a link goes.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from config.settings import Settings
from sync.store.schema import json_default

# Query and path text the pages accept: anything but NUL, which PostgreSQL text cannot hold
# (so no stored value has one, and a query naming one would fail instead of matching nothing).
NO_NUL = r"^[^\x00]*$"
# A Salesforce record id: 15 or 18 letters and digits, nothing else (so it is safe in a path).
_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def json_text(value: Any) -> str:
    """``value`` as indented JSON with sorted keys; control characters come out escaped."""
    return json.dumps(value, indent=2, sort_keys=True, default=json_default)


def value_text(value: Any) -> str:
    """One field's value as a person reads it: strings as they are, the rest as JSON."""
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return value
    return json_text(value)


def salesforce_record_url(settings: Settings, record_id: str) -> str | None:
    """The record's page in the org (its instance URL), or None when either part looks wrong."""
    if _SALESFORCE_ID.fullmatch(record_id) is None:
        return None
    base = settings.salesforce.instance_url or settings.salesforce.login_url
    parts = urlsplit(base)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}/{record_id}"


def source_record_url(settings: Settings, system: str, source_id: str) -> str | None:
    """A link to the record in the system it came from, where the product knows how to build one."""
    if system == "salesforce":
        return salesforce_record_url(settings, source_id)
    return None
