"""Collections upserts sent together in one Composite request, against the loopback sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from config.settings import RetrySettings
from connectors.base import WriteOutcome, WriteSpec
from connectors.errors import ConfigError, RateLimited, TransientError
from connectors.salesforce.auth import build_http_session
from connectors.salesforce.connector import SalesforceConnector
from sandboxes.salesforce.sandbox import SalesforceSandbox
from sync.cli.sandboxes import salesforce_settings

ACCOUNT_WRITES = WriteSpec("Account", "Revbridge_Id__c")
DOWN = [{"message": "Server temporarily unavailable", "errorCode": "SERVER_UNAVAILABLE"}]
UNPARSEABLE = [
    {"message": "Cannot deserialize instance of boolean from VALUE_STRING value yes",
     "errorCode": "JSON_PARSER_ERROR"}
]  # fmt: skip


def _no_sleep(seconds: float) -> None:
    """Retries in these tests never really wait."""


class Sent:
    """The Composite requests a connector sent, as their decoded JSON bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        if request.method == "POST" and (request.url or "").endswith("/composite"):
            self.bodies.append(json.loads(request.body or b"{}"))

    def sizes(self) -> list[list[tuple[str, int]]]:
        """Per request, each subrequest's reference id and record count."""
        return [[(s["referenceId"], len(s["body"]["records"])) for s in body["compositeRequest"]]
                for body in self.bodies]  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=5, orders=20, products=4) as started:
        yield started


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture
def connector(sandbox: SalesforceSandbox, sent: Sent) -> Iterator[SalesforceConnector]:
    settings = salesforce_settings(sandbox)
    http = build_http_session(settings)
    http.hooks["response"].append(sent.observe)
    opened = SalesforceConnector(settings, RetrySettings(attempts=3), sleep=_no_sleep, http=http)
    opened.describe("Account")  # describe calls stay out of the counts below
    yield opened
    opened.close()


def _accounts(count: int, prefix: str = "cmp") -> list[dict[str, Any]]:
    return [{"Revbridge_Id__c": f"{prefix}-{n}", "Name": f"Account {n}"} for n in range(count)]


def _landed(sandbox: SalesforceSandbox) -> set[str]:
    return {str(r["Revbridge_Id__c"]) for r in sandbox.records("Account") if not r["IsDeleted"]}


def test_450_records_go_in_one_composite_call_of_three_collections_in_order(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, sent: Sent
) -> None:
    payloads = _accounts(450)
    calls, writes = sandbox.api_calls, sandbox.write_calls
    results = connector.write(ACCOUNT_WRITES, payloads)
    assert (sandbox.api_calls - calls, sandbox.write_calls - writes) == (1, 1)
    assert sent.sizes() == [[("upsert_0", 200), ("upsert_1", 200), ("upsert_2", 50)]]
    assert [r.external_id for r in results] == [p["Revbridge_Id__c"] for p in payloads]
    assert {r.outcome for r in results} == {WriteOutcome.CREATED}
    by_key = {r["Revbridge_Id__c"]: r["Id"] for r in sandbox.records("Account")}
    assert [r.target_id for r in results] == [by_key[p["Revbridge_Id__c"]] for p in payloads]


def test_1001_records_take_two_composite_calls_of_at_most_five_collections(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, sent: Sent
) -> None:
    calls = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, _accounts(1001))
    assert sandbox.api_calls - calls == 2
    assert [len(s) for s in sent.sizes()] == [5, 1]
    assert len(results) == 1001
    assert all(r.ok for r in results)


def test_record_rejections_inside_subrequests_map_to_their_own_records(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    payloads = _accounts(450)
    payloads[5] = {"Revbridge_Id__c": "cmp-5", "Phone": "no name"}
    payloads[250] = {"Revbridge_Id__c": "cmp-250", "Name": "x" * 300}
    payloads[449] = {"Revbridge_Id__c": "cmp-449"}
    results = connector.write(ACCOUNT_WRITES, payloads)
    rejected = {i: (r.external_id, r.error_code, r.error_fields)
                for i, r in enumerate(results) if not r.ok}  # fmt: skip
    assert rejected == {
        5: ("cmp-5", "REQUIRED_FIELD_MISSING", ("Name",)),
        250: ("cmp-250", "STRING_TOO_LONG", ("Name",)),
        449: ("cmp-449", "REQUIRED_FIELD_MISSING", ("Name",)),
    }
    assert _landed(sandbox) >= {"cmp-4", "cmp-6", "cmp-249", "cmp-251", "cmp-448"}
    assert not _landed(sandbox) & {"cmp-5", "cmp-250", "cmp-449"}


def test_a_subrequest_refused_as_a_whole_rejects_only_its_records(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    sandbox.fail_subrequests(400, UNPARSEABLE)  # the first subrequest: records 0..199
    calls = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, _accounts(450))
    assert sandbox.api_calls - calls == 1
    assert {(r.outcome, r.error_code) for r in results[:200]} == {
        (WriteOutcome.REJECTED, "JSON_PARSER_ERROR")
    }
    assert "Cannot deserialize" in results[0].error_message
    assert {r.outcome for r in results[200:]} == {WriteOutcome.CREATED}
    landed = _landed(sandbox)
    assert {f"cmp-{n}" for n in range(200, 450)} <= landed
    assert not landed & {f"cmp-{n}" for n in range(200)}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, DOWN),
        (
            400,
            [{"message": "unable to obtain exclusive access", "errorCode": "UNABLE_TO_LOCK_ROW"}],
        ),
    ],
)
def test_a_subrequest_that_may_pass_is_sent_again_alone_and_lands(
    sandbox: SalesforceSandbox,
    connector: SalesforceConnector,
    sent: Sent,
    status: int,
    body: list[dict[str, str]],
) -> None:
    sandbox.fail_subrequests(status, body)
    calls = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, _accounts(450))
    assert sandbox.api_calls - calls == 2
    assert sent.sizes() == [[("upsert_0", 200), ("upsert_1", 200), ("upsert_2", 50)],
                            [("upsert_0", 200)]]  # fmt: skip
    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 450
    assert _landed(sandbox) >= {f"cmp-{n}" for n in range(450)}


def test_a_subrequest_failing_on_every_attempt_raises_transient_after_the_attempts(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    sandbox.fail_subrequests(503, DOWN, times=9, path_contains="/Account/")  # 3 x 3 tries
    calls = sandbox.api_calls
    with pytest.raises(TransientError, match="SERVER_UNAVAILABLE"):
        connector.write(ACCOUNT_WRITES, _accounts(450))
    assert sandbox.api_calls - calls == 3


def test_a_rate_limited_subrequest_raises_rate_limited_without_retrying(
    sandbox: SalesforceSandbox, connector: SalesforceConnector
) -> None:
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    sandbox.fail_subrequests(403, limit)
    calls = sandbox.api_calls
    with pytest.raises(RateLimited):
        connector.write(ACCOUNT_WRITES, _accounts(450))
    assert sandbox.api_calls - calls == 1


def test_a_key_that_is_not_an_external_id_is_a_config_error_for_a_composite_too(
    connector: SalesforceConnector,
) -> None:
    with pytest.raises(ConfigError, match="not an External ID"):
        connector.write(WriteSpec("Account", "Name"), [{"Name": f"n{n}"} for n in range(450)])


def _described(sandbox: SalesforceSandbox, per_call: int) -> SalesforceConnector:
    """A connector sending ``per_call`` Collections a call, Account already described."""
    settings = salesforce_settings(sandbox, composite_subrequests=per_call)
    connector = SalesforceConnector(settings, RetrySettings(attempts=3), sleep=_no_sleep)
    connector.describe("Account")
    return connector


@pytest.mark.parametrize("per_call", [1, 5])
def test_a_503_on_the_call_is_retried_and_the_records_land_either_way(
    sandbox: SalesforceSandbox, per_call: int
) -> None:
    connector = _described(sandbox, per_call)
    sandbox.inject_fault(503, DOWN, times=2)
    calls = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, _accounts(150))
    connector.close()
    assert sandbox.api_calls - calls == 3
    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 150


@pytest.mark.parametrize("per_call", [1, 5])
def test_request_limit_exceeded_on_the_call_raises_rate_limited_without_retrying(
    sandbox: SalesforceSandbox, per_call: int
) -> None:
    connector = _described(sandbox, per_call)
    limit = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    sandbox.inject_fault(403, limit, times=3)
    calls = sandbox.api_calls
    with pytest.raises(RateLimited):
        connector.write(ACCOUNT_WRITES, _accounts(450))
    connector.close()
    assert sandbox.api_calls - calls == 1
    assert not _landed(sandbox) & {f"cmp-{n}" for n in range(450)}


def test_the_api_floor_stops_a_composite_write_before_it_is_sent(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, sent: Sent
) -> None:
    sandbox.set_api_usage(14_000)  # of 15,000: under the default 10% floor after one call
    connector.describe("Order")  # reads Sforce-Limit-Info
    with pytest.raises(RateLimited):
        connector.write(ACCOUNT_WRITES, _accounts(450))
    assert sent.bodies == []


def test_an_old_api_version_sends_plain_collections_calls(
    sandbox: SalesforceSandbox, sent: Sent
) -> None:
    settings = salesforce_settings(sandbox, api_version="47.0")
    http = build_http_session(settings)
    http.hooks["response"].append(sent.observe)
    connector = SalesforceConnector(settings, RetrySettings(), sleep=_no_sleep, http=http)
    connector.describe("Account")
    calls = sandbox.api_calls
    results = connector.write(ACCOUNT_WRITES, _accounts(450))
    connector.close()
    assert (sandbox.api_calls - calls, sent.bodies) == (3, [])
    assert all(r.ok for r in results)


def test_a_record_twice_in_one_write_goes_in_a_later_call_so_create_only_fields_fit(
    sandbox: SalesforceSandbox, connector: SalesforceConnector, sent: Sent
) -> None:
    # SBQQ__Quote__c can be set on create only: the second copy of ql-0 must go without it,
    # which is known only once the first copy has landed.
    quote_id = sandbox.records("SBQQ__Quote__c")[0]["Id"]
    spec = WriteSpec("SBQQ__QuoteLine__c", "Revbridge_Id__c")
    lines = [
        {"Revbridge_Id__c": f"ql-{n}", "SBQQ__Quote__c": quote_id, "SBQQ__Quantity__c": 1}
        for n in range(200)
    ]
    lines.append({**lines[0], "SBQQ__Quantity__c": 7})

    results = connector.write(spec, lines)

    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 200 + [WriteOutcome.UPDATED]
    assert sent.sizes() == [[("upsert_0", 200)], [("upsert_0", 1)]]
    [stored] = [r for r in sandbox.records("SBQQ__QuoteLine__c") if r["Revbridge_Id__c"] == "ql-0"]
    assert stored["SBQQ__Quantity__c"] == 7


def test_records_without_an_external_id_do_not_split_a_composite_call(
    connector: SalesforceConnector, sent: Sent
) -> None:
    payloads = _accounts(400)
    for position in (0, 300):  # one in each Collections subrequest
        del payloads[position]["Revbridge_Id__c"]

    results = connector.write(ACCOUNT_WRITES, payloads)

    assert sent.sizes() == [[("upsert_0", 200), ("upsert_1", 200)]]
    assert [r.ok for r in results].count(False) == 2
