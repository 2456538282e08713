"""The generic API's batch upsert: many records by external id in one call, one result each.

``POST /v1/{collection}/batch`` with ``{"records": [{"external_id": "...", "data": {...}}]}``
upserts each record as ``PUT /v1/{collection}/{external_id}`` would, so one refused record
never stops the others. The answer is ``200 {"object": "list", "data": [...]}`` with, per record
and in order, ``{"external_id", "status", "result", "record"}`` where ``result`` is
``created``, ``updated`` or ``unchanged``, or ``{"external_id", "status", "error"}`` with
Stripe's error object. Only a malformed batch as a whole is answered with a 4xx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandboxes.billing.rules import ApiError

MAX_RECORDS = 100

Upsert = Callable[[str, str, Any], Any]
Counts = Mapping[tuple[str, str], int]


def error_detail(error: ApiError) -> dict[str, Any]:
    """Stripe's error object for ``error``."""
    detail = {"type": error.kind, "code": error.code, "message": error.message}
    if error.param:
        detail["param"] = error.param
    return detail


def batch_items(body: Any) -> list[Any]:
    """The ``records`` of a batch body; ApiError when the batch as a whole is unusable."""
    items = body.get("records") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "parameter_missing", "records", "records must be a non-empty list")
    if len(items) > MAX_RECORDS:
        message = f"records takes at most {MAX_RECORDS} records a call, not {len(items)}"
        raise ApiError(400, "parameter_invalid", "records", message)
    return items


def upsert_each(
    collection: str, items: list[Any], upsert: Upsert, counts: Counts
) -> list[dict[str, Any]]:
    """Upsert every item on its own; a result per item, in order.

    ``counts`` is the sandbox's live write counter: an unchanged upsert shows there only.
    """
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        external_id = item.get("external_id") if isinstance(item, dict) else None
        if not isinstance(external_id, str) or not external_id:
            error = ApiError(
                400, "parameter_missing", f"records[{index}][external_id]", "is required"
            )
            results.append({"external_id": None, "status": 400, "error": error_detail(error)})
            continue
        unchanged_before = counts[(collection, "unchanged")]
        try:
            reply = upsert(collection, external_id, item.get("data"))
        except ApiError as error:
            results.append(
                {"external_id": external_id, "status": error.status, "error": error_detail(error)}
            )
            continue
        if reply.status == 201:
            result = "created"
        elif counts[(collection, "unchanged")] > unchanged_before:
            result = "unchanged"
        else:
            result = "updated"
        results.append(
            {"external_id": external_id, "status": reply.status, "result": result,
             "record": reply.body}
        )  # fmt: skip
    return results
