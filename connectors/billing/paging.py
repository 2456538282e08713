"""How a billing API's list endpoint pages: one small strategy per style, chosen by the profile.

Each strategy adds its parameters to the first list request and, given an answer, builds the
request for the next page or says there is none:

- :class:`CursorPaging`: ``starting_after=<last id>`` while ``has_more`` (Stripe); with
  ``filter_param`` set it also moves the ``updated_after`` filter to the last record, which
  makes the pair a keyset that stays right when that record changes between pages.
- :class:`PageNumberPaging`: ``page=1, 2, ...`` until ``has_more`` is false or a page is short.
- :class:`LinkHeaderPaging`: follow RFC 8288 ``Link: <...>; rel="next"`` (GitHub, Zuora).
- :class:`NextTokenPaging`: send back the answer's ``next_page_token`` until it is empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import urljoin

import requests

from connectors.billing.http import ApiRequest, Params

RawRecord = dict[str, Any]


def with_params(params: Params, **changes: str) -> list[tuple[str, str]]:
    """``params`` as pairs, with ``changes`` replacing any earlier values of those names."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    return [(k, v) for k, v in pairs if k not in changes] + list(changes.items())


def _value(body: Mapping[str, Any], dotted: str) -> Any:
    node: Any = body
    for step in dotted.split("."):
        node = node.get(step) if isinstance(node, Mapping) else None
    return node


class Paging(Protocol):
    """One paging style."""

    def first(self, request: ApiRequest) -> ApiRequest:
        """The first page's request."""
        ...

    def next(
        self,
        request: ApiRequest,
        response: requests.Response,
        body: Mapping[str, Any],
        records: Sequence[RawRecord],
    ) -> ApiRequest | None:
        """The next page's request, or None after the last page."""
        ...


@dataclass(frozen=True)
class CursorPaging:
    """``starting_after=<last id>`` while ``has_more`` is true."""

    param: str = "starting_after"
    has_more_field: str = "has_more"
    id_field: str = "id"
    filter_param: str | None = None
    cursor_field: str | None = None

    def first(self, request: ApiRequest) -> ApiRequest:
        """No extra parameter on the first page."""
        return request

    def next(
        self,
        request: ApiRequest,
        response: requests.Response,
        body: Mapping[str, Any],
        records: Sequence[RawRecord],
    ) -> ApiRequest | None:
        """After the last record of this page, if the API says more follow."""
        if not records or not _value(body, self.has_more_field):
            return None
        last = records[-1]
        changes = {self.param: str(_value(last, self.id_field))}
        if self.filter_param is not None and self.cursor_field is not None:
            changes[self.filter_param] = str(_value(last, self.cursor_field))
        return replace(request, params=with_params(request.params, **changes))


@dataclass(frozen=True)
class PageNumberPaging:
    """``page=1, 2, ...``; stops on ``has_more`` false, or on a short or empty page."""

    param: str = "page"
    start: int = 1
    size_param: str = "limit"
    has_more_field: str | None = None

    def first(self, request: ApiRequest) -> ApiRequest:
        """Ask for the first page number."""
        return replace(request, params=with_params(request.params, **{self.param: str(self.start)}))

    def next(
        self,
        request: ApiRequest,
        response: requests.Response,
        body: Mapping[str, Any],
        records: Sequence[RawRecord],
    ) -> ApiRequest | None:
        """The following page number, unless this page was the last."""
        params = dict(with_params(request.params))
        if not records:
            return None
        if self.has_more_field is not None:
            if not _value(body, self.has_more_field):
                return None
        elif len(records) < int(params.get(self.size_param, "0") or 0):
            return None
        following = str(int(params[self.param]) + 1)
        return replace(request, params=with_params(request.params, **{self.param: following}))


@dataclass(frozen=True)
class LinkHeaderPaging:
    """Follow the ``Link`` header's ``rel="next"`` URL, which carries every parameter."""

    def first(self, request: ApiRequest) -> ApiRequest:
        """No extra parameter on the first page."""
        return request

    def next(
        self,
        request: ApiRequest,
        response: requests.Response,
        body: Mapping[str, Any],
        records: Sequence[RawRecord],
    ) -> ApiRequest | None:
        """The absolute next URL, if the answer links one."""
        link = response.links.get("next", {}).get("url")
        # A relative link is resolved against the answer's own URL (RFC 8288).
        return replace(request, url=urljoin(response.url, link), params=()) if link else None


@dataclass(frozen=True)
class NextTokenPaging:
    """Send the answer's ``next_page_token`` back as ``page_token`` until it is empty."""

    param: str = "page_token"
    token_field: str = "next_page_token"  # noqa: S105 - a field name, not a secret

    def first(self, request: ApiRequest) -> ApiRequest:
        """No token on the first page."""
        return request

    def next(
        self,
        request: ApiRequest,
        response: requests.Response,
        body: Mapping[str, Any],
        records: Sequence[RawRecord],
    ) -> ApiRequest | None:
        """The request carrying the next token, if the answer has one."""
        token = _value(body, self.token_field)
        if not token:
            return None
        return replace(request, params=with_params(request.params, **{self.param: str(token)}))
