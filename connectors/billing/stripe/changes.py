"""Incremental reads of invoices, payments and credit notes: new objects, and changed ones.

Stripe objects carry no last-modified stamp. A read therefore has two halves, kept in one
cursor (:mod:`connectors.billing.stripe.position`):

1. the events since the newest event read (:mod:`connectors.billing.stripe.events`) name the
   objects that changed (an invoice paid, voided or marked uncollectible, a charge refunded, a
   credit note voided); each is fetched once, as it is now (``GET /v1/invoices/{id}``);
2. the objects created since the newest object read, listed as before
   (:mod:`connectors.billing.stripe.read`).

Events are listed first, so a change made while the read goes on shows in a later event and is
read next time. The changed objects come first, under the old cursor, so a read interrupted among
them lists the same events again (fetching an object twice is harmless: the engine skips what
did not change); then the new ones, each page moving the object half and carrying the new event
half. A read with nothing to hand over still yields one empty page when the event half
moved, so the next read starts from there.

Stripe keeps events for 30 days. When the events were last listed longer ago than that (or
never, under a cursor written before revbridge read events), some may be gone: the read logs a
warning and re-reads the whole collection. Every invoice, not only the open ones: an invoice
paid or voided during the gap is no longer open, and only a full read finds it. Unchanged
objects cost a read and nothing downstream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from connectors.base import Cursor, Page, RawRecord
from connectors.billing.http import BillingHttpClient
from connectors.billing.stripe.events import EventsRead, newest_event, read_events
from connectors.billing.stripe.position import StripePosition
from connectors.billing.stripe.read import (
    as_record,
    fetch_current,
    list_newer,
    object_key,
    readable,
)

_log = logging.getLogger(__name__)

DAY = 86400
EVENT_RETENTION_SECONDS = 30 * DAY
# Start over a day before Stripe's limit: listing takes time and clocks drift.
STALE_AFTER_SECONDS = EVENT_RETENTION_SECONDS - DAY
# On a quiet account, note at least daily that events were read, or the position would age.
_REFRESH_AFTER_SECONDS = DAY

Clock = Callable[[], float]


@dataclass(frozen=True)
class _Chunk:
    """One page to hand over: changed objects by id, or new objects as listed."""

    changed_ids: Sequence[str] = ()
    listed: Sequence[RawRecord] = ()


def read_changes(
    client: BillingHttpClient,
    collection: str,
    since: Cursor | None,
    page_size: int,
    clock: Clock,
) -> Iterator[Page]:
    """Pages of objects changed (by events) or created since ``since``; see the module."""
    position = StripePosition.from_cursor(since)
    now = int(clock())
    events, floor = _events_since(client, collection, since, position, now)
    path, expand = readable(collection)
    listed, calls = list_newer(client, path, expand, floor)
    listed.sort(key=object_key)
    seen = {str(record["id"]) for record in listed}
    changed = [object_id for object_id in events.object_ids if object_id not in seen]
    chunks = [
        _Chunk(changed_ids=changed[i : i + page_size]) for i in range(0, len(changed), page_size)
    ]
    chunks += [_Chunk(listed=listed[i : i + page_size]) for i in range(0, len(listed), page_size)]
    end = replace(position, last_event=events.newest, events_read_at=now)
    calls += events.api_calls
    if not chunks:
        if _worth_saving(position, end):
            yield Page(records=[], cursor=end.to_cursor(), api_calls=calls)
        return
    current, changed_left = position, len(changed)
    for chunk in chunks:
        records, extra = _records(client, collection, chunk)
        changed_left -= len(chunk.changed_ids)
        if chunk.listed:
            current = current.after_object(*object_key(chunk.listed[-1]))
        # Once every changed object is handed over, the page also moves the event half.
        done = replace(current, last_event=end.last_event, events_read_at=now)
        cursor = (current if changed_left else done).to_cursor()
        yield Page(records=records, cursor=cursor, api_calls=calls + extra)
        calls = 0


def _events_since(
    client: BillingHttpClient,
    collection: str,
    since: Cursor | None,
    position: StripePosition,
    now: int,
) -> tuple[EventsRead, tuple[int, str] | None]:
    """The changes events name and the floor of the created half (None: read everything)."""
    if since is None or (position.events_read_at is None and not position.object_id):
        # A first read (or a backfill window's start) reads by created; events from now on.
        mark, calls = newest_event(client, collection)
        return EventsRead([], mark, calls), None if since is None else position.object_key
    read_at = position.events_read_at
    if read_at is None or now - read_at > STALE_AFTER_SECONDS:
        _log.warning(
            "Stripe %s: %s; Stripe keeps events 30 days, so changes may have been missed: "
            "re-reading every one",
            collection,
            "events were never read under this cursor"
            if read_at is None
            else f"events were last read {(now - read_at) // DAY} days ago",
        )
        mark, calls = newest_event(client, collection)
        return EventsRead([], mark, calls), None
    return read_events(client, collection, position.last_event), position.object_key


def _records(
    client: BillingHttpClient, collection: str, chunk: _Chunk
) -> tuple[list[RawRecord], int]:
    raws: list[RawRecord] = list(chunk.listed)
    calls = 0
    for object_id in chunk.changed_ids:
        raw = fetch_current(client, collection, object_id)
        calls += 1
        if raw is not None:  # a deleted draft invoice: nothing left to read
            raws.append(raw)
    records = []
    for raw in raws:
        record, extra = as_record(client, raw)
        records.append(record)
        calls += extra
    return records, calls


def _worth_saving(before: StripePosition, after: StripePosition) -> bool:
    if before.events_read_at is None or after.last_event != before.last_event:
        return True
    return (after.events_read_at or 0) - before.events_read_at > _REFRESH_AFTER_SECONDS
