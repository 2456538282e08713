"""The answers of NetSuite's list writes (``upsertList``, ``deleteList``), read from the reply XML.

zeep turns a reply into typed objects, element by element, against the WSDL: for a 100-record
``upsertList`` that took about a fifth of the ERP connector's CPU, spent mostly on what the
engine never reads (each baseRef's type and name, each statusDetail's afterSubmit flag). A
write needs only whether each record landed, its internalId, and the status details' codes
and messages; they are read here from the document zeep's own parser returns (the same DTD
and entity guards). Anything but a 200 reply with a SOAP body is a fault or a transport error,
raised as zeep raises them, so ``connectors.erp.transport.classified`` classifies them as
before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree  # type: ignore[import-untyped]
from zeep.loader import parse_xml

from connectors.erp.records import SYSTEM
from connectors.errors import TransientError

_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
_BODY = f"{{{_ENVELOPE}}}Body"


@dataclass(frozen=True)
class WriteAnswer:
    """One writeResponse: did the record land, its internalId, the status details' text."""

    success: bool
    internal_id: str | None = None
    details: tuple[tuple[str, str], ...] = ()  # (code, message) per statusDetail

    @property
    def code(self) -> str:
        """The first status detail's code (NetSuite puts the deciding one first)."""
        return (self.details[0][0] if self.details else "") or "UNKNOWN"

    @property
    def message(self) -> str:
        """Every status detail's message, in order."""
        return "; ".join(message for _, message in self.details)


def write_answers(reply: requests.Response, client: zeep.Client) -> list[WriteAnswer]:
    """The writeResponses of a raw list-write reply, in order; faults raised as zeep does."""
    if reply.status_code != 200 and not reply.content:
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            f"Server returned HTTP status {reply.status_code} (no content available)",
            status_code=reply.status_code,
        )
    try:
        content = reply.content  # bytes: lxml reads the encoding from the XML declaration
        envelope = parse_xml(content, client.transport, settings=client.settings)  # type: ignore[arg-type]
    except etree.XMLSyntaxError as error:
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            f"Server returned response ({reply.status_code}) with invalid XML: {error}",
            status_code=reply.status_code,
            content=reply.content,
        ) from None
    fault = envelope.find(f"{_BODY}/{{{_ENVELOPE}}}Fault")
    if fault is not None:
        raise zeep.exceptions.Fault(  # type: ignore[no-untyped-call]
            message=fault.findtext("faultstring"),
            code=fault.findtext("faultcode"),
            actor=fault.findtext("faultactor"),
            detail=fault.find("detail"),
        )
    if reply.status_code != 200:  # XML, but no fault: classified by its status, as for HTML
        raise zeep.exceptions.TransportError(  # type: ignore[no-untyped-call]
            f"Server returned HTTP status {reply.status_code} without a SOAP fault",
            status_code=reply.status_code,
        )
    return answers_in(envelope)


def answers_in(envelope: Any) -> list[WriteAnswer]:
    """The writeResponses of a parsed list-write reply envelope, in order."""
    response_list = envelope.find(f"{_BODY}/*/{{*}}writeResponseList")
    if response_list is None:
        raise ValueError("the reply has no writeResponseList")
    return [write_answer(answer) for answer in response_list.iterfind("{*}writeResponse")]


def write_answer(element: Any) -> WriteAnswer:
    """One ``writeResponse`` element (of a list write, or of a single write's reply)."""
    status = element.find("{*}status")
    if status is None:
        raise ValueError("a writeResponse has no status")
    success = status.get("isSuccess", "").strip() in ("true", "1")
    details = tuple(
        (detail.findtext("{*}code") or "", detail.findtext("{*}message") or "")
        for detail in status.iterfind("{*}statusDetail")
    )
    base_ref = element.find("{*}baseRef")
    internal_id = None if base_ref is None else base_ref.get("internalId")
    return WriteAnswer(success, internal_id, details)


def one_per_record(
    answers: Sequence[WriteAnswer], expected: int, what: str = "records"
) -> Sequence[WriteAnswer]:
    """``answers``, checked to hold one per record sent (``what``: records, deletions)."""
    if len(answers) != expected:
        raise TransientError(
            f"NetSuite answered {len(answers)} results for {expected} {what}", system=SYSTEM
        )
    return answers
