"""Bulk API 2.0 ingest results mapped back to one :class:`WriteResult` per payload.

Salesforce returns three CSV lists (successful, failed, unprocessed) that echo each record's
columns; the external id column ties every row back to the payload it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import WriteOutcome, WriteResult
from connectors.salesforce.bulk import IngestResults

UNPROCESSED = "BULK_UNPROCESSED"


def parse_bulk_error(text: str) -> tuple[str, str, tuple[str, ...]]:
    """``sf__Error`` (``CODE:message:Field1,Field2 --``) as code, message and fields."""
    code, _, rest = text.partition(":")
    rest = rest.removesuffix(" --").strip()
    message, separator, field_text = rest.rpartition(":")
    if not separator or " " in field_text.strip():
        return code, rest, ()
    fields = tuple(f.strip() for f in field_text.split(",") if f.strip())
    return code, message, fields


def _rows_by_key(listing: tuple[list[str], list[list[str]]], key: str) -> dict[str, dict[str, str]]:
    header, rows = listing
    lowered = [name.lower() for name in header]
    if key.lower() not in lowered:
        return {}
    column = lowered.index(key.lower())
    return {row[column]: dict(zip(header, row, strict=False)) for row in rows}


def ingest_write_results(
    payloads: Sequence[Mapping[str, Any]], key: str, results: IngestResults
) -> list[WriteResult]:
    """One result per payload, in order: created/updated, rejected, or unprocessed."""
    successful = _rows_by_key(results.successful, key)
    failed = _rows_by_key(results.failed, key)
    mapped = []
    for payload in payloads:
        external_id = str(payload.get(key, ""))
        if (row := successful.get(external_id)) is not None:
            created = row.get("sf__Created", "").lower() == "true"
            outcome = WriteOutcome.CREATED if created else WriteOutcome.UPDATED
            mapped.append(WriteResult(external_id, outcome, target_id=row.get("sf__Id") or None))
        elif (row := failed.get(external_id)) is not None:
            code, message, fields = parse_bulk_error(row.get("sf__Error", ""))
            mapped.append(WriteResult(external_id, WriteOutcome.REJECTED, error_code=code,
                                      error_message=message, error_fields=fields))  # fmt: skip
        else:
            message = (
                f"Bulk API job {results.job_id} stopped before processing this record; "
                "it is sent again when the error queue is retried"
            )
            mapped.append(WriteResult(external_id, WriteOutcome.REJECTED,
                                      error_code=UNPROCESSED, error_message=message))  # fmt: skip
    return mapped
