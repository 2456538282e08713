"""asyncUpsertList jobs over real zeep and HTTP against the loopback SuiteTalk sandbox."""

# The WSDL-parity module's fixtures are imported, and pytest injects them by parameter name.
# ruff: noqa: F811

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import tenacity
import zeep
from lxml import etree  # type: ignore[import-untyped]

from config.settings import RetrySettings
from connectors.base import WriteOutcome
from connectors.erp.async_lists import AsyncListWriter, PollPolicy
from connectors.erp.auth import new_token_passport
from connectors.erp.records import RecordBuilder, record_kind
from connectors.erp.soap import SoapSession
from connectors.errors import ConfigError, TransientError
from sandboxes.erp.sandbox import ErpSandbox
from sync.cli.sandboxes import erp_settings
from tests.unit.test_erp_wsdl_parity import SOAP_BODY, real_schema  # noqa: F401 - fixture

MARKER_SECRET = "MARKER-SECRET-a51c07"
MESSAGES = "urn:messages_2023_2.platform.webservices.netsuite.com"
ASYNC_CALLS = ("asyncUpsertList", "checkAsyncStatus", "getAsyncResult")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[ErpSandbox]:
    with ErpSandbox(token_secret=MARKER_SECRET) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: ErpSandbox) -> ErpSandbox:
    running_sandbox.reset()
    running_sandbox.configure_async_jobs()
    return running_sandbox


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def soap(sandbox: ErpSandbox, sleeps: list[float]) -> Iterator[SoapSession]:
    session = SoapSession(
        erp_settings(sandbox), RetrySettings(attempts=3), wsdl_cache=None, sleep=sleeps.append
    )
    yield session
    session.close()


@pytest.fixture
def polls(sleeps: list[float]) -> PollPolicy:
    return PollPolicy(attempts=4, wait=tenacity.wait_fixed(2), sleep=sleeps.append)


@pytest.fixture
def writer(soap: SoapSession, polls: PollPolicy) -> AsyncListWriter:
    return AsyncListWriter(soap, RecordBuilder(soap.type), polls)


def _customers(soap: SoapSession, count: int, **fields: Any) -> list[tuple[Any, dict[str, Any]]]:
    customer = soap.type(record_kind("Customer").namespace, "Customer")
    return [
        (customer, {"externalId": f"rb-acc-{n}", "companyName": f"Acme {n}", **fields})
        for n in range(count)
    ]


def test_a_job_of_up_to_200_records_each_lands_every_record_polled_once(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter, sleeps: list[float]
) -> None:
    results = writer.upsert_async(_customers(soap, 250))

    assert [r.external_id for r in results] == [f"rb-acc-{n}" for n in range(250)]
    assert {r.outcome for r in results} == {WriteOutcome.UPSERTED}
    assert all(r.target_id for r in results)
    assert sandbox.upsert_count["Customer"] == 250
    assert {op: sandbox.operations[op] for op in ASYNC_CALLS} == dict.fromkeys(ASYNC_CALLS, 2)
    assert sleeps == []  # done on the first check: no wait


def test_a_job_done_on_the_third_check_waits_the_poll_backoff_between_checks(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter, sleeps: list[float]
) -> None:
    sandbox.configure_async_jobs(checks_to_finish=3)

    results = writer.upsert_async(_customers(soap, 3))

    assert all(r.ok for r in results)
    assert sandbox.operations["checkAsyncStatus"] == 3
    assert sleeps == [2, 2]


def test_records_the_job_refuses_come_back_rejected_with_netsuites_words(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter
) -> None:
    payloads = _customers(soap, 4)
    payloads[1] = (payloads[1][0], {"externalId": "rb-acc-1", "companyName": ""})
    payloads[2] = (payloads[2][0], {"companyName": "no externalId"})

    results = writer.upsert_async(payloads)

    outcomes = [(r.external_id, r.outcome, r.error_code) for r in results]
    assert outcomes == [
        ("rb-acc-0", WriteOutcome.UPSERTED, ""),
        ("rb-acc-1", WriteOutcome.REJECTED, "USER_ERROR"),
        ("", WriteOutcome.REJECTED, "INVALID_PAYLOAD"),
        ("rb-acc-3", WriteOutcome.UPSERTED, ""),
    ]
    assert "Company Name" in results[1].error_message
    assert sandbox.operations["asyncUpsertList"] == 1  # the local rejection never went out


def test_hostile_text_lands_as_text(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter
) -> None:
    hostile = "<b>Acme</b> & Sons ]]> \u202e" + "x" * 5000
    (result,) = writer.upsert_async(_customers(soap, 1, companyName=hostile))

    assert result.ok
    assert sandbox.records[("Customer", "rb-acc-0")]["companyName"] == hostile


def test_a_failed_job_is_a_transient_error(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter
) -> None:
    sandbox.configure_async_jobs(failing_jobs=1)

    with pytest.raises(TransientError, match=r"ended asyncUpsertList job \S+ 'failed'"):
        writer.upsert_async(_customers(soap, 2))
    assert sandbox.operations["getAsyncResult"] == 0


def test_a_job_still_queued_after_the_last_poll_is_a_transient_error(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter, sleeps: list[float]
) -> None:
    sandbox.configure_async_jobs(checks_to_finish=10)

    with pytest.raises(TransientError, match="still processing after 4 checks"):
        writer.upsert_async(_customers(soap, 2))
    assert sandbox.operations["checkAsyncStatus"] == 4
    assert sleeps == [2, 2, 2]


def test_polling_a_job_id_netsuite_does_not_know_is_a_clear_error(
    soap: SoapSession, sleeps: list[float]
) -> None:
    with pytest.raises(ConfigError, match=r"asyncFault \(INVALID_JOB_ID\): Invalid job id nope"):
        soap.call("async_status", jobId="nope")
    assert sleeps == []  # not retried: asking again can't help


def test_reading_a_job_before_it_is_done_is_refused(sandbox: ErpSandbox, soap: SoapSession) -> None:
    job_id = soap.call("async_upsert", record=[_built(soap)])["asyncStatusResult"]["jobId"]

    with pytest.raises(ConfigError, match=r"asyncFault \(JOB_NOT_COMPLETE\)"):
        soap.call("async_result", jobId=job_id, pageIndex=1)
    assert sandbox.upsert_count["Customer"] == 0


@pytest.mark.parametrize("fault", ["concurrency", "http_503", "drop"])
def test_a_fault_during_a_poll_is_retried_and_the_job_still_lands(
    sandbox: ErpSandbox,
    soap: SoapSession,
    writer: AsyncListWriter,
    sleeps: list[float],
    fault: str,
) -> None:
    sandbox.script_faults([None, fault])  # the submit answers, the first poll fails

    results = writer.upsert_async(_customers(soap, 3))

    assert all(r.ok for r in results)
    assert sandbox.operations["checkAsyncStatus"] == 1  # the failed poll was never answered
    assert len(sleeps) == 1  # the session's retry waited once


def test_a_lost_reply_to_the_submit_resubmits_and_upserts_no_duplicates(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter
) -> None:
    sandbox.script_faults(["lost_reply"])

    results = writer.upsert_async(_customers(soap, 3))

    assert all(r.ok for r in results)
    assert sandbox.operations["asyncUpsertList"] == 2  # the first job was queued, unseen
    assert len(sandbox.records) == 3


def test_the_secret_is_in_no_error(
    sandbox: ErpSandbox, soap: SoapSession, writer: AsyncListWriter
) -> None:
    sandbox.configure_async_jobs(failing_jobs=1)

    with pytest.raises(TransientError) as raised:
        writer.upsert_async(_customers(soap, 1))
    assert MARKER_SECRET not in str(raised.value)


def test_request_bodies_validate_against_the_real_suitetalk_xsds(
    sandbox: ErpSandbox,
    soap: SoapSession,
    writer: AsyncListWriter,
    real_schema: etree.XMLSchema,
) -> None:
    recorded = sandbox.record_upserts()
    writer.upsert_async(_customers(soap, 2))

    requests_sent = [etree.fromstring(body).find(SOAP_BODY)[0] for body in recorded]
    assert [etree.QName(r).localname for r in requests_sent] == list(ASYNC_CALLS)
    for request in requests_sent:
        document = etree.ElementTree(etree.fromstring(etree.tostring(request)))
        assert real_schema.validate(document), (request.tag, real_schema.error_log)


def test_the_sandbox_answers_validate_against_the_real_suitetalk_xsds(
    sandbox: ErpSandbox, soap: SoapSession, real_schema: etree.XMLSchema
) -> None:
    client = zeep.Client(sandbox.wsdl_url, settings=zeep.Settings(strict=False))  # type: ignore[no-untyped-call]
    submitted = _raw_call(sandbox, client, "asyncUpsertList", record=[_built(soap)])
    job_id = etree.fromstring(submitted.content).findtext(".//{*}jobId")
    answers = [
        submitted,
        _raw_call(sandbox, client, "checkAsyncStatus", jobId=job_id),
        _raw_call(sandbox, client, "getAsyncResult", jobId=job_id, pageIndex=1),
    ]

    for answer in answers:
        assert answer.status_code == 200, answer.content
        response = etree.fromstring(answer.content).find(SOAP_BODY)[0]
        document = etree.ElementTree(etree.fromstring(etree.tostring(response)))
        assert real_schema.validate(document), (response.tag, real_schema.error_log)
    assert b"AsyncUpsertListResult" in answers[2].content


def _built(soap: SoapSession) -> Any:
    return RecordBuilder(soap.type).build(*_customers(soap, 1)[0])


def _raw_call(sandbox: ErpSandbox, client: Any, operation: str, **body: Any) -> requests.Response:
    """POST one SOAP call built by zeep from the sandbox's WSDL; the raw reply."""
    headers = {"tokenPassport": new_token_passport(erp_settings(sandbox)).to_header()}
    envelope = client.create_message(client.service, operation, **body, _soapheaders=headers)
    return requests.post(
        sandbox.endpoint_url,
        data=etree.tostring(envelope),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{operation}"'},
        timeout=10,
    )


def test_more_than_200_records_in_one_job_are_refused_by_the_sandbox(soap: SoapSession) -> None:
    builder = RecordBuilder(soap.type)
    records = [
        builder.build(record_type, payload) for record_type, payload in _customers(soap, 201)
    ]

    with pytest.raises(ConfigError, match="MAX_RCRDS_EXCEEDED"):
        soap.call("async_upsert", record=records)


def test_a_typo_in_the_operation_name_is_one_clear_config_error(sandbox: ErpSandbox) -> None:
    settings = erp_settings(sandbox, operations={"async_upsert": "asyncUpsertLst"})
    session = SoapSession(settings, RetrySettings(), wsdl_cache=None, sleep=lambda _: None)
    writer = AsyncListWriter(session, RecordBuilder(session.type))

    with pytest.raises(
        ConfigError, match=r"no operation 'asyncUpsertLst' \(erp.operations.async_upsert\)"
    ):
        writer.upsert_async(_customers(session, 1))
    session.close()
