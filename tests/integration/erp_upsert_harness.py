"""What an upsertList request the ERP sandbox received holds, for tests that watch the calls."""

from __future__ import annotations

from lxml import etree  # type: ignore[import-untyped]


def upserted_external_ids(request: etree._Element) -> set[str]:
    """The externalIds of the records of one upsertList request."""
    return {
        record.get("externalId") for record in request if etree.QName(record).localname == "record"
    }
