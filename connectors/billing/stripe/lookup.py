"""Finding an object revbridge created before, by its ``metadata[revbridge_id]``.

Stripe has no upsert by external id. When revbridge's xref holds no Stripe id for a record (a
first run, a lost store), the profile looks for the object it may have created earlier, as
``billing.lookup`` says:

- ``search``: ``GET /v1/{collection}/search?query=metadata['revbridge_id']:'...'``. Stripe's
  search is eventually consistent: an object created in the last minute may not show yet;
- ``list``: one pass over ``GET /v1/{collection}`` (100 a page, ``starting_after``) the first
  time a run needs that collection, kept as an index for the rest of the run;
- ``none``: never look; stored ids and idempotency keys only;
- ``auto`` (the default): ``search`` until a search endpoint answers 404 (a Stripe-compatible
  server without the Search API) or refuses the metadata query; from then on ``list`` for the
  rest of the run. ``revbridge check`` probes ``/v1/customers/search`` to show which it is; a
  run needs no probe of its own, its first search is one.

A 404 says which endpoint is missing and what to set: a missing search endpoint with ``search``
asks for ``list``; a missing list endpoint is a wrong ``billing.base_url`` or asks for ``none``.

Whatever the mode, the objects this run created are remembered, so a later write of the same
record in the run finds them without asking a lagging search. One :class:`StripeLookup` lives
as long as its connector, that is one run; writer threads share it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from config.settings import BillingLookup
from connectors.billing.http import ApiRequest, BillingHttpClient, api_error
from connectors.billing.json_profile import json_object
from connectors.errors import ConfigError

SYSTEM = "billing"
REVBRIDGE_ID = "revbridge_id"
SEARCHABLE = frozenset({"customers", "products", "prices", "subscriptions"})
PROBE_COLLECTION = "customers"
_PAGE = "100"
# Answers that say "this server has no such endpoint" rather than "no such record".
_MISSING = frozenset({404, 405, 501})
# Subscriptions are listed without the canceled ones unless asked (Stripe's default).
_LIST_PARAMS: Mapping[str, Mapping[str, str]] = {"subscriptions": {"status": "all"}}
_log = logging.getLogger(__name__)

Way = Literal["search", "list", "none"]


@dataclass(frozen=True)
class LookupChoice:
    """How this run finds objects, and why (what ``revbridge check`` shows)."""

    way: Way
    detail: str
    fell_back: bool = False


def search_query(external_id: str) -> str:
    """Stripe search query matching ``metadata['revbridge_id']`` exactly (quotes escaped)."""
    escaped = external_id.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['{REVBRIDGE_ID}']:'{escaped}'"


class StripeLookup:
    """Finds Stripe objects by ``metadata[revbridge_id]`` the way ``billing.lookup`` says."""

    def __init__(self, mode: BillingLookup = "auto") -> None:
        self._mode = mode
        self._choice: LookupChoice | None = _FIXED.get(mode)
        self._indexes: dict[str, dict[str, str]] = {}
        self._created: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._index_locks: dict[str, threading.Lock] = {}

    def choose(self, client: BillingHttpClient) -> LookupChoice:
        """The run's way of looking up; for ``auto`` and ``search``, probes the server once.

        ``revbridge check`` calls it; a run does not need to: its first search is the probe.
        """
        with self._probe_lock:
            return self._choice or self._probe(client)

    def find(self, client: BillingHttpClient, collection: str, external_id: str) -> str | None:
        """The Stripe id of the object tagged ``external_id``, if one exists."""
        with self._lock:
            known = self._created.get((collection, external_id))
        if known is not None or collection not in SEARCHABLE:
            return known
        if self._choice is None:
            with self._probe_lock:  # the run's first search settles the way; writers wait
                if self._choice is None:
                    return self._look(client, collection, external_id, "search")
        return self._look(client, collection, external_id, self._choice.way)

    def _look(
        self, client: BillingHttpClient, collection: str, external_id: str, way: Way
    ) -> str | None:
        if way == "search":
            try:
                return self._search(client, collection, external_id)
            except _NoSearch:
                way = "list"
        if way == "list":
            return self._indexed(client, collection, external_id)
        return None

    def remember(self, collection: str, external_id: str, object_id: str) -> None:
        """Note an object this run created, so the run finds it whatever search shows."""
        with self._lock:
            self._created[(collection, external_id)] = object_id
            index = self._indexes.get(collection)
            if index is not None:
                index.setdefault(external_id, object_id)

    def _probe(self, client: BillingHttpClient) -> LookupChoice:
        path = f"/v1/{PROBE_COLLECTION}/search"
        params = {"query": search_query("revbridge-lookup-probe"), "limit": "1"}
        response = client.send(ApiRequest("GET", path, params=params), missing_ok=True)
        if response.status_code < 300:
            choice = LookupChoice("search", f"search: GET {path} answers")
        else:
            choice = self._search_failed(client, PROBE_COLLECTION, response)
            _require_list(client, PROBE_COLLECTION)
        with self._lock:
            self._choice = choice
        return choice

    def _search(self, client: BillingHttpClient, collection: str, external_id: str) -> str | None:
        path = f"/v1/{collection}/search"
        params = {"query": search_query(external_id), "limit": "1"}
        response = client.send(ApiRequest("GET", path, params=params), missing_ok=True)
        if response.status_code >= 300:
            self._search_failed(client, collection, response)
            raise _NoSearch
        with self._lock:
            if self._choice is None:
                self._choice = LookupChoice("search", f"search: GET {path} answers")
        found = json_object(response).get("data") or []
        return str(found[0]["id"]) if found else None

    def _search_failed(
        self, client: BillingHttpClient, collection: str, response: requests.Response
    ) -> LookupChoice:
        """Fall back to ``list`` for the run (``auto``), or say what to set (``search``)."""
        status = response.status_code
        where = f"GET {client.base_url}/v1/{collection}/search"
        said = api_error(response).get("message") or response.reason
        if self._mode == "search":
            if status in _MISSING:
                raise _search_missing(where, status, collection)
            raise ConfigError(f"{where} answered HTTP {status}: {said}", system=SYSTEM)
        detail = (
            f"list (auto): {where} answered HTTP {status} ({said}), so this server has no "
            "usable Search API; each collection a run needs is listed once. Set "
            "billing.lookup: list to skip the probe"
        )
        with self._lock:
            if self._choice is None or self._choice.way == "search":
                _log.warning("billing lookup falls back to list: %s", detail)
                self._choice = LookupChoice("list", detail, fell_back=True)
            return self._choice

    def _indexed(self, client: BillingHttpClient, collection: str, external_id: str) -> str | None:
        with self._lock:
            lock = self._index_locks.setdefault(collection, threading.Lock())
        with lock:  # one pass per collection, however many writers ask at once
            with self._lock:
                built = collection in self._indexes
            if not built:
                index = _build_index(client, collection)
                with self._lock:
                    for (kind, tag), object_id in self._created.items():
                        if kind == collection:
                            index.setdefault(tag, object_id)
                    self._indexes[collection] = index
        with self._lock:
            return self._indexes[collection].get(external_id)


class _NoSearch(Exception):
    """The server has no usable search endpoint; ``auto`` lists the collection instead."""


_FIXED: Mapping[str, LookupChoice] = {
    "none": LookupChoice("none", "none: stored ids and idempotency keys only, never a lookup"),
    "list": LookupChoice("list", "list: each collection a run needs is listed once"),
}


def _build_index(client: BillingHttpClient, collection: str) -> dict[str, str]:
    """``revbridge_id -> Stripe id`` of every tagged object; the oldest wins a duplicate tag."""
    index: dict[str, str] = {}
    for stripe_object in list_objects(client, f"/v1/{collection}", _LIST_PARAMS.get(collection)):
        tag = (stripe_object.get("metadata") or {}).get(REVBRIDGE_ID)
        if tag:
            # Lists come newest first: a later (older) object with the same tag replaces it.
            index[str(tag)] = str(stripe_object["id"])
    return index


def list_objects(
    client: BillingHttpClient, path: str, params: Mapping[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every object of a cursor-paged list; a missing list endpoint is named as such."""
    query = {**(params or {}), "limit": _PAGE}
    while True:
        response = client.send(ApiRequest("GET", path, params=query), missing_ok=True)
        where = f"GET {client.base_url}{path}"
        if response.status_code == 404:
            raise _list_missing(where)
        if response.status_code >= 300:
            # Not one record's problem: a list that can't be read can't be trusted to be whole.
            said = api_error(response).get("message") or response.reason
            message = f"{where} answered HTTP {response.status_code}: {said}"
            raise ConfigError(message, system=SYSTEM)
        answer = json_object(response)
        data = list(answer.get("data") or [])
        yield from data
        if not answer.get("has_more") or not data:
            return
        query["starting_after"] = str(data[-1]["id"])


def _require_list(client: BillingHttpClient, collection: str) -> None:
    path = f"/v1/{collection}"
    request = ApiRequest("GET", path, params={"limit": "1"})
    if client.send(request, missing_ok=True).status_code == 404:
        raise _list_missing(f"GET {client.base_url}{path}")


def _search_missing(where: str, status: int, collection: str) -> ConfigError:
    return ConfigError(
        f"{where} answered HTTP {status}: this server has no search endpoint for {collection} "
        "(Stripe's Search API); set billing.lookup: list (or auto) to find objects by listing "
        "the collection instead",
        system=SYSTEM,
    )


def _list_missing(where: str) -> ConfigError:
    return ConfigError(
        f"{where} answered HTTP 404: this server has no list endpoint there, so revbridge "
        "cannot find the objects it created before; check billing.base_url (it ends before "
        "/v1), or set billing.lookup: none to rely on stored ids and idempotency keys alone",
        system=SYSTEM,
    )
