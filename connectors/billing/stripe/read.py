"""Incremental reads of Stripe lists: invoices (with all their lines), payments, credit notes.

Stripe lists newest first and pages with ``starting_after``. revbridge walks back from the
newest object until it passes the cursor, then hands the new objects over oldest first, so the
cursor only ever moves forward. The cursor is ``(created, id)``: Stripe objects have no
last-modified stamp, so this reads objects *created* since the last run; invoices, payments and
credit notes are read by :mod:`connectors.billing.stripe.changes`, which adds the objects
Stripe's events say changed since (an invoice paid after it was first read). Expandable
references (``customer`` as an id or, expanded, as an object) come out as the id with the
object under ``<name>_object``; amounts come out as exact ``Decimal`` in major units and
Unix-second timestamps (``created``, ``due_date``, ...) as aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.base import Cursor, Page, RawRecord
from connectors.billing.http import ApiRequest, BillingHttpClient
from connectors.billing.json_profile import json_object
from connectors.billing.stripe.form import from_minor_units
from connectors.errors import ConfigError

SYSTEM = "billing"
_MAX_LIMIT = 100
# Readable collections: list path and what to expand. "payments" are Stripe charges.
_LISTS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "invoices": ("/v1/invoices", ("data.customer",)),
    "payments": ("/v1/charges", ()),
    "charges": ("/v1/charges", ()),
    "credit_notes": ("/v1/credit_notes", ()),
    "customers": ("/v1/customers", ()),
    "products": ("/v1/products", ()),
    "prices": ("/v1/prices", ()),
    "subscriptions": ("/v1/subscriptions", ()),
    "invoiceitems": ("/v1/invoiceitems", ()),
}
# Unix-second fields of the objects read, handed over as aware UTC datetimes.
_TIMESTAMPS = frozenset({"created", "due_date", "period_start", "period_end", "effective_at"})
_EXPANDABLE = ("customer", "invoice", "charge", "subscription", "payment_intent", "product")


def object_key(record: Mapping[str, Any]) -> tuple[int, str]:
    """``(created, id)``: the order Stripe objects are handed over in."""
    return int(record["created"]), str(record["id"])


def _cursor_key(cursor: Cursor) -> tuple[int, str]:
    try:
        stamp = datetime.fromisoformat(cursor.modified)
    except ValueError:
        raise ConfigError(f"unreadable cursor {cursor.modified!r}", system=SYSTEM) from None
    stamp = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp()), cursor.record_id


def _cursor(record: Mapping[str, Any]) -> Cursor:
    created, record_id = object_key(record)
    return Cursor(datetime.fromtimestamp(created, UTC).isoformat(), record_id)


def flatten_expandable(record: Mapping[str, Any]) -> RawRecord:
    """References as ids whether or not Stripe expanded them; the object kept beside."""
    flat = dict(record)
    for name in _EXPANDABLE:
        value = flat.get(name)
        if isinstance(value, Mapping) and "id" in value:
            flat[name] = str(value["id"])
            flat[f"{name}_object"] = dict(value)
    return flat


def with_datetimes(record: Any) -> Any:
    """A copy of a Stripe object with its Unix-second timestamps as aware UTC datetimes."""
    if isinstance(record, Mapping):
        return {
            key: datetime.fromtimestamp(value, UTC)
            if key in _TIMESTAMPS and isinstance(value, int) and not isinstance(value, bool)
            else with_datetimes(value)
            for key, value in record.items()
        }
    if isinstance(record, list):
        return [with_datetimes(item) for item in record]
    return record


def list_newer(
    client: BillingHttpClient, path: str, expand: tuple[str, ...], floor: tuple[int, str] | None
) -> tuple[list[RawRecord], int]:
    """Objects newer than ``floor`` (every one if None), newest first; and the calls it took."""
    params = [("limit", str(_MAX_LIMIT)), *(("expand[]", name) for name in expand)]
    found: list[RawRecord] = []
    calls = 0
    while True:
        answer = json_object(client.send(ApiRequest("GET", path, params=params)))
        calls += 1
        data = list(answer.get("data") or [])
        found += [record for record in data if floor is None or object_key(record) > floor]
        # Ties on `created` may straddle the cursor: stop only once strictly older.
        passed = floor is not None and data and int(data[-1]["created"]) < floor[0]
        if passed or not answer.get("has_more") or not data:
            return found, calls
        params = [*params[: 1 + len(expand)], ("starting_after", str(data[-1]["id"]))]


def _complete_lines(client: BillingHttpClient, invoice: RawRecord) -> tuple[RawRecord, int]:
    """The invoice with every line, fetching the pages its embedded list left out."""
    lines = invoice.get("lines")
    if not isinstance(lines, Mapping) or not lines.get("has_more"):
        return invoice, 0
    data = list(lines.get("data") or [])
    path = f"/v1/invoices/{quote(str(invoice['id']), safe='')}/lines"
    calls = 0
    more = True
    while more and data:
        params = {"limit": str(_MAX_LIMIT), "starting_after": str(data[-1]["id"])}
        answer = json_object(client.send(ApiRequest("GET", path, params=params)))
        calls += 1
        page = list(answer.get("data") or [])
        data += page
        more = bool(answer.get("has_more")) and bool(page)
    return {**invoice, "lines": {**lines, "data": data, "has_more": False}}, calls


def readable(collection: str) -> tuple[str, tuple[str, ...]]:
    """The list path of ``collection`` and what its list expands."""
    if collection not in _LISTS:
        known = ", ".join(sorted(_LISTS))
        raise ConfigError(f"Stripe profile can't read {collection!r}; use {known}", system=SYSTEM)
    return _LISTS[collection]


def as_record(client: BillingHttpClient, stripe_object: RawRecord) -> tuple[RawRecord, int]:
    """One Stripe object as revbridge reads it: every line, ids flattened, money and dates."""
    complete, calls = _complete_lines(client, stripe_object)
    return with_datetimes(from_minor_units(flatten_expandable(complete))), calls


def fetch_current(client: BillingHttpClient, collection: str, object_id: str) -> RawRecord | None:
    """The object with this Stripe id as it is now, as Stripe sends it; None if it is gone."""
    path, expand = readable(collection)
    # A list expands `data.customer`; a single object expands `customer`.
    params = [("expand[]", name.removeprefix("data.")) for name in expand]
    request = ApiRequest("GET", f"{path}/{quote(object_id, safe='')}", params=params)
    response = client.send(request, missing_ok=True)
    return None if response.status_code == 404 else json_object(response)


def fetch_stripe_objects(
    client: BillingHttpClient, collection: str, object_ids: Sequence[str]
) -> list[RawRecord]:
    """The objects with these Stripe ids as they are now (one GET each); missing left out."""
    found = (fetch_current(client, collection, object_id) for object_id in object_ids)
    return [as_record(client, raw)[0] for raw in found if raw is not None]


def read_stripe_list(
    client: BillingHttpClient, collection: str, since: Cursor | None, page_size: int
) -> Iterator[Page]:
    """Pages of objects created strictly after ``since``, oldest first."""
    path, expand = readable(collection)
    floor = _cursor_key(since) if since is not None else None
    records, calls = list_newer(client, path, expand, floor)
    records.sort(key=object_key)
    for start in range(0, len(records), page_size):
        page: list[RawRecord] = []
        for record in records[start : start + page_size]:
            converted, extra = as_record(client, record)
            calls += extra
            page.append(converted)
        yield Page(records=page, cursor=_cursor(records[start + len(page) - 1]), api_calls=calls)
        calls = 0
