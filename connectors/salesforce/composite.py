"""sObject Collections upserts sent together in one Composite request, one API call for all.

``POST /services/data/vXX.X/composite`` runs its subrequests in order and counts as a single
call against the org's daily allocation; Salesforce takes at most 5 sObject Collections
subrequests in one (25 subrequests of other kinds). Each subrequest answers on its own: a
Collections upsert with its usual per-record results, or an error for the whole subrequest.

A subrequest that hit something passing (locked rows, an outage) is sent again, alone with
any others like it, by the connector's retry policy: :class:`CompositeUpsert` is the one API
operation the policy repeats, and each attempt sends only the subrequests not settled yet.
Upserts by external id are idempotent, so sending a subrequest twice is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simple_salesforce.api import Salesforce

from connectors.errors import ConnectorError, RateLimited, TransientError
from connectors.salesforce.error_codes import (
    classify_answer,
    locked_count,
    rejected_answers,
    subrequest_error,
)
from connectors.salesforce.login import SYSTEM

COLLECTIONS_PER_COMPOSITE = 5
# collateSubrequests (false keeps the subrequests in order) arrived in API version 48.0.
COMPOSITE_MIN_VERSION = (48, 0)


def composite_supported(api_version: str) -> bool:
    """True when ``api_version`` (``"60.0"``) takes Collections subrequests in order."""
    major, _, minor = api_version.partition(".")
    try:
        return (int(major), int(minor or 0)) >= COMPOSITE_MIN_VERSION
    except ValueError:
        return False


@dataclass(frozen=True)
class CollectionUpsert:
    """One sObject Collections upsert: its path under the data API and its request body."""

    path: str
    body: Mapping[str, Any]

    @property
    def size(self) -> int:
        """How many records it carries."""
        return len(self.body["records"])

    def answers_of(self, reply: Any) -> list[Any]:
        """Its per-record answers in ``reply``; TransientError when they call for sending it
        again (a malformed answer, locked rows): upserts by external id are idempotent, so the
        whole upsert can safely go again."""
        if not isinstance(reply, list) or len(reply) != self.size:
            message = f"{self.path} answered {reply!r:.200} for {self.size} records"
            raise TransientError(message, system=SYSTEM)
        locked = locked_count(reply)
        if locked:
            message = f"{self.path}: {locked} records hit UNABLE_TO_LOCK_ROW"
            raise TransientError(message, system=SYSTEM)
        return reply


class CompositeUpsert:
    """Collections upserts in one Composite request; call it with a client to send them.

    Returns each upsert's per-record answers, in order. A subrequest refused as a whole for
    its records' sake answers a rejection per record; one that may pass is sent again on the
    next call and, while any is unsettled, :class:`TransientError` is raised for the retry
    policy. Limits, permissions and mapping mistakes raise their own class.
    """

    def __init__(self, version: str, upserts: Sequence[CollectionUpsert], timeout: float) -> None:
        if not 0 < len(upserts) <= COLLECTIONS_PER_COMPOSITE:
            raise ValueError(f"a Composite request takes 1 to 5 Collections, not {len(upserts)}")
        self._version, self._upserts, self._timeout = version, list(upserts), timeout
        self._answers: dict[int, list[Any]] = {}

    def __call__(self, client: Salesforce) -> list[list[Any]]:
        pending = [i for i in range(len(self._upserts)) if i not in self._answers]
        reply = client.restful("composite", method="POST", json=self._request(pending),
                               timeout=self._timeout)  # fmt: skip
        results = _results_by_reference(reply, len(pending))
        passing: list[str] = []
        for index in pending:
            answers, reason = self._settle(index, results.get(_reference(index)))
            if answers is None:
                passing.append(reason)
            else:
                self._answers[index] = answers
        if passing:
            raise TransientError(
                f"composite: {len(passing)} of {len(pending)} subrequests to retry; "
                f"first: {passing[0]}",
                system=SYSTEM,
            )
        return [self._answers[i] for i in range(len(self._upserts))]

    def _request(self, pending: Sequence[int]) -> dict[str, Any]:
        return {
            "allOrNone": False,
            "collateSubrequests": False,
            "compositeRequest": [
                {
                    "method": "PATCH",
                    "url": f"/services/data/v{self._version}/{self._upserts[i].path}",
                    "referenceId": _reference(i),
                    "body": self._upserts[i].body,
                }
                for i in pending
            ],
        }

    def _settle(self, index: int, result: Mapping[str, Any] | None) -> tuple[list[Any] | None, str]:
        """The per-record answers of one subrequest, or None and why it must go again."""
        upsert = self._upserts[index]
        if result is None:
            return None, f"{upsert.path} got no answer"
        status, body = _status(result), result.get("body")
        if not 200 <= status < 300:
            error: ConnectorError | None = subrequest_error(status, body, upsert.path)
            if error is None:
                return rejected_answers(body, upsert.size), ""
            if isinstance(error, RateLimited) or not isinstance(error, TransientError):
                raise error
            return None, error.message
        try:
            return upsert.answers_of(body), ""
        except TransientError as again:
            return None, again.message


def _reference(index: int) -> str:
    # Reference ids may hold letters, digits and underscores only.
    return f"upsert_{index}"


def _status(result: Mapping[str, Any]) -> int:
    try:
        return int(result.get("httpStatusCode") or 0)
    except (TypeError, ValueError):
        return 0


def _results_by_reference(reply: Any, sent: int) -> dict[str, Mapping[str, Any]]:
    """Subrequest results keyed by reference id; a refusal of the whole request is raised."""
    results = reply.get("compositeResponse") if isinstance(reply, Mapping) else None
    if not isinstance(results, list):
        raise TransientError(f"composite answered {reply!r:.200} for {sent} subrequests",
                             system=SYSTEM)  # fmt: skip
    by_reference = {}
    for result in results:
        if not isinstance(result, Mapping):
            continue
        reference = result.get("referenceId")
        if reference is None and not 200 <= _status(result) < 300:
            # Salesforce answers a request it refuses whole (too many subrequests) this way.
            raise classify_answer(_status(result), result.get("body"), "composite")
        by_reference[str(reference)] = result
    return by_reference
