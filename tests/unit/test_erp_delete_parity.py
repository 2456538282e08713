"""deleteList in the compact WSDL agrees with NetSuite's real SuiteTalk 2023.2 WSDL and XSDs,
and NetSuite's recorded delete and deleteList answers map to per-record delete results."""

# The WSDL-parity module's fixtures are imported, and pytest injects them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from connectors.base import DeleteOutcome
from connectors.erp.deletes import delete_result, delete_results
from connectors.erp.reads import record_refs
from connectors.erp.records import RECORD_KINDS
from connectors.erp.replies import answers_in, write_answer
from tests.unit.test_erp_wsdl_parity import (  # noqa: F401 - fixtures used by name
    SOAP_BODY,
    compact_client,
    real_client,
    real_schema,
)

MESSAGES = "urn:messages_2023_2.platform.webservices.netsuite.com"


def _delete_list_body(client: Any) -> etree._Element:
    def type_of(namespace: str, name: str) -> Any:
        return client.get_type(f"{{{namespace.format(v='2023_2')}}}{name}")

    refs = [
        *record_refs(type_of, RECORD_KINDS["SalesOrder"], ["1201", "1202"]),
        *record_refs(type_of, RECORD_KINDS["Customer"], ["970"]),
    ]
    envelope = client.create_message(client.service, "deleteList", baseRef=refs)
    return envelope.find(SOAP_BODY)


def test_compact_wsdl_builds_the_same_delete_list_body_as_the_real_wsdl(
    compact_client: Any, real_client: Any
) -> None:
    compact, real = _delete_list_body(compact_client), _delete_list_body(real_client)

    assert etree.tostring(compact, method="c14n") == etree.tostring(real, method="c14n")
    assert compact[0].tag == f"{{{MESSAGES}}}deleteList"


def test_delete_list_body_validates_against_the_real_suitetalk_xsds(
    compact_client: Any, real_schema: etree.XMLSchema
) -> None:
    request = _delete_list_body(compact_client)[0]

    assert real_schema.validate(etree.ElementTree(etree.fromstring(etree.tostring(request))))


def _recording(reference_dir: Path, folder: str, name: str, swap: bytes = b"") -> etree._Element:
    raw = (reference_dir / "netsuite-recorded-responses" / folder / name).read_bytes()
    # The recordings predate 2023.2; only the version inside each namespace differs.
    rewritten = re.sub(rb"_(20\d\d_\d|2_5)\.", b"_2023_2.", raw)
    if swap:
        rewritten = rewritten.replace(b"USER_EXCEPTION", swap)
    return etree.fromstring(rewritten, etree.XMLParser(resolve_entities=False, no_network=True))


def test_a_recorded_delete_list_answer_maps_to_deleted_results(reference_dir: Path) -> None:
    envelope = _recording(reference_dir, "delete_list", "delete_list_customers.xml")

    results = delete_results(["1", "2"], answers_in(envelope))

    assert [(r.target_id, r.outcome) for r in results] == [
        ("1", DeleteOutcome.DELETED),
        ("2", DeleteOutcome.DELETED),
    ]


def test_a_recorded_delete_list_error_is_a_rejection_and_the_other_record_is_deleted(
    reference_dir: Path,
) -> None:
    envelope = _recording(reference_dir, "delete_list", "delete_list_customers_with_errors.xml")

    first, second = delete_results(["1", "bad_id"], answers_in(envelope))

    assert first.outcome is DeleteOutcome.DELETED
    assert (second.outcome, second.error_code) == (DeleteOutcome.REJECTED, "USER_EXCEPTION")
    assert second.error_message == "Invalid record: type=event,id=100015,scompid=TSTDRV96"


def test_a_record_netsuite_no_longer_has_counts_as_already_deleted(reference_dir: Path) -> None:
    name = "delete_list_customers_with_errors.xml"
    envelope = _recording(reference_dir, "delete_list", name, swap=b"RCRD_DSNT_EXIST")

    results = delete_results(["1", "bad_id"], answers_in(envelope))

    assert [r.outcome for r in results] == [DeleteOutcome.DELETED, DeleteOutcome.ALREADY_DELETED]


@pytest.mark.parametrize(
    ("name", "outcome", "codes"),
    [
        ("delete_customer.xml", DeleteOutcome.DELETED, ""),
        ("delete_customer_error.xml", DeleteOutcome.REJECTED, "INSUFFICIENT_PERMISSION"),
        ("delete_customer_multiple_errors.xml", DeleteOutcome.REJECTED, "INSUFFICIENT_PERMISSION"),
    ],
)
def test_recorded_single_delete_answers_parse_with_the_compact_schema(
    compact_client: Any, reference_dir: Path, name: str, outcome: DeleteOutcome, codes: str
) -> None:
    envelope = _recording(reference_dir, "delete", name)
    answer = envelope.find(f".//{{{MESSAGES}}}writeResponse")
    write_response = compact_client.get_element(f"{{{MESSAGES}}}writeResponse")

    result = delete_result("980", write_answer(answer))
    typed = write_response.parse(answer, compact_client.wsdl.types)  # zeep reads it alike
    assert typed["status"]["isSuccess"] is (outcome is DeleteOutcome.DELETED)

    assert (result.outcome, result.error_code) == (outcome, codes)
    if name == "delete_customer_multiple_errors.xml":
        assert result.error_message.endswith("; Another error.")
