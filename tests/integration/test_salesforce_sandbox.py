"""The Salesforce sandbox speaks Salesforce's wire shapes, over TLS, to plain requests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from sandboxes.salesforce.sandbox import SalesforceSandbox

API = "/services/data/v60.0"
ISO_4217_SEEDED = {"USD", "EUR", "GBP"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[SalesforceSandbox]:
    """A read-only sandbox with the default data set; tests here must not change it."""
    with SalesforceSandbox() as started:
        yield started


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(accounts=5, orders=30, products=4) as started:
        yield started


def _http(sandbox: SalesforceSandbox) -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override verify
    http.verify = str(sandbox.ca_bundle)
    return http


def _login(sandbox: SalesforceSandbox, **overrides: str) -> requests.Response:
    creds = sandbox.credentials
    form = {
        "grant_type": "password",
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "username": creds.username,
        "password": creds.password + creds.security_token,
        **overrides,
    }
    return _http(sandbox).post(f"{sandbox.url}/services/oauth2/token", data=form)


def _api(sandbox: SalesforceSandbox) -> requests.Session:
    http = _http(sandbox)
    http.headers["Authorization"] = f"Bearer {_login(sandbox).json()['access_token']}"
    return http


def test_login_returns_a_bearer_token_for_this_instance(sandbox: SalesforceSandbox) -> None:
    response = _login(sandbox)
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == sandbox.url
    assert {"access_token", "id", "issued_at", "signature"} <= body.keys()


@pytest.mark.parametrize(
    ("field", "error"),
    [("password", "invalid_grant"), ("client_id", "invalid_client_id"),
     ("client_secret", "invalid_client"), ("grant_type", "unsupported_grant_type")],
)  # fmt: skip
def test_wrong_login_fields_get_oauth_errors(
    sandbox: SalesforceSandbox, field: str, error: str
) -> None:
    response = _login(sandbox, **{field: "wrong"})
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_data_calls_without_a_session_get_401_invalid_session_id(
    sandbox: SalesforceSandbox,
) -> None:
    response = _http(sandbox).get(f"{sandbox.url}{API}/limits")
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert response.headers["Sforce-Limit-Info"] == "api-usage=1/15000"


def test_query_pages_through_next_records_url_at_the_requested_batch_size(
    seeded: SalesforceSandbox,
) -> None:
    http = _api(seeded)
    headers = {"Sforce-Query-Options": "batchSize=200"}
    first = http.get(
        f"{seeded.url}{API}/query", params={"q": "SELECT Id FROM Order"}, headers=headers
    ).json()
    assert (first["totalSize"], first["done"], len(first["records"])) == (500, False, 200)
    assert re.fullmatch(rf"{API}/query/01g\w{{15}}-200", first["nextRecordsUrl"])
    second = http.get(f"{seeded.url}{first['nextRecordsUrl']}").json()
    last = http.get(f"{seeded.url}{second['nextRecordsUrl']}").json()
    assert (len(last["records"]), last["done"]) == (100, True)
    assert "nextRecordsUrl" not in last
    assert first["records"][0]["attributes"]["type"] == "Order"


def test_seeded_lines_and_totals_add_up(seeded: SalesforceSandbox) -> None:
    items = seeded.records("OrderItem")
    for item in items:
        expected = Decimal(str(item["Quantity"])) * Decimal(str(item["UnitPrice"]))
        assert Decimal(str(item["TotalPrice"])) == expected.quantize(Decimal("0.01"))
    for order in seeded.records("Order"):
        lines = [i for i in items if i["OrderId"] == order["Id"]]
        assert 1 <= len(lines) <= 5
        total = sum(Decimal(str(i["TotalPrice"])) for i in lines)
        assert Decimal(str(order["TotalAmount"])) == total


def test_seeded_data_mixes_currencies_and_ties_stamps(seeded: SalesforceSandbox) -> None:
    currencies = [o["CurrencyIsoCode"] for o in seeded.records("Order")]
    assert set(currencies) == ISO_4217_SEEDED
    assert currencies.count("USD") > len(currencies) / 2
    stamps = [o["SystemModstamp"] for o in seeded.records("Order")]
    assert len(set(stamps)) < len(stamps)
    entries = seeded.records("PricebookEntry")
    assert {(e["Product2Id"], e["CurrencyIsoCode"]) for e in entries} == {
        (p["Id"], c) for p in seeded.records("Product2") for c in ISO_4217_SEEDED
    }


def test_invalid_records_are_seeded_and_named(seeded: SalesforceSandbox) -> None:
    invalid = seeded.invalid_record_ids
    accounts = {a["Id"]: a for a in seeded.records("Account")}
    orders = {o["Id"]: o for o in seeded.records("Order")}
    assert [accounts[i]["CurrencyIsoCode"] for i in invalid if i in accounts] == ["XBT"]
    assert [orders[i]["Status"] for i in invalid if i in orders].count("Pending") == 1
    negative = {i["OrderId"] for i in seeded.records("OrderItem") if i["Quantity"] < 0}
    assert len(negative) == 2
    assert negative <= invalid.keys()
    assert len(invalid) == 4


def test_same_seed_gives_the_same_data_and_stamps(seeded: SalesforceSandbox) -> None:
    with SalesforceSandbox() as again:
        assert again.records("Order") == seeded.records("Order")
        assert again.invalid_record_ids == seeded.invalid_record_ids
    assert SalesforceSandbox(invalid_records=False).invalid_record_ids == {}


def test_describe_has_the_real_metadata_shape(seeded: SalesforceSandbox) -> None:
    described = _api(seeded).get(f"{seeded.url}{API}/sobjects/Order/describe").json()
    fields = {f["name"]: f for f in described["fields"]}
    assert described["keyPrefix"] == "801"
    assert fields["Revbridge_Id__c"]["externalId"] is True
    assert (fields["TotalAmount"]["updateable"], fields["TotalAmount"]["createable"]) == (
        False, False,
    )  # fmt: skip
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert fields["AccountId"]["relationshipName"] == "Account"
    assert "Activated" in [p["value"] for p in fields["Status"]["picklistValues"]]
    assert described["childRelationships"][0]["relationshipName"] == "OrderItems"


def test_patch_and_delete_change_a_record_and_bump_its_stamp(sandbox: SalesforceSandbox) -> None:
    http = _api(sandbox)
    account = sandbox.records("Account")[0]
    url = f"{sandbox.url}{API}/sobjects/Account/{account['Id']}"
    assert http.patch(url, json={"Phone": "+44 20"}).status_code == 204
    patched = http.get(url).json()
    assert patched["Phone"] == "+44 20"
    assert patched["SystemModstamp"] > account["SystemModstamp"]
    assert http.delete(url).status_code == 204
    query = {"q": f"SELECT Id, IsDeleted FROM Account WHERE Id = '{account['Id']}'"}
    assert http.get(f"{sandbox.url}{API}/query", params=query).json()["totalSize"] == 0
    every = http.get(f"{sandbox.url}{API}/queryAll", params=query).json()
    assert every["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"TotalAmount": 1}, "INVALID_FIELD_FOR_INSERT_UPDATE"), ({"Nope": 1}, "INVALID_FIELD")],
)
def test_patch_refuses_read_only_and_unknown_fields(
    sandbox: SalesforceSandbox, changes: dict[str, Any], code: str
) -> None:
    order_id = sandbox.records("Order")[0]["Id"]
    response = _api(sandbox).patch(f"{sandbox.url}{API}/sobjects/Order/{order_id}", json=changes)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code


def test_collection_over_200_records_is_refused(sandbox: SalesforceSandbox) -> None:
    records = [{"attributes": {"type": "Account"}, "Revbridge_Id__c": str(n), "Name": "x"}
               for n in range(201)]  # fmt: skip
    response = _api(sandbox).patch(
        f"{sandbox.url}{API}/composite/sobjects/Account/Revbridge_Id__c",
        json={"allOrNone": False, "records": records},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_all_or_none_rolls_back_the_valid_records(sandbox: SalesforceSandbox) -> None:
    records = [
        {"attributes": {"type": "Account"}, "Revbridge_Id__c": "ok", "Name": "Fine"},
        {"attributes": {"type": "Account"}, "Revbridge_Id__c": "bad"},
    ]
    response = _api(sandbox).patch(
        f"{sandbox.url}{API}/composite/sobjects/Account/Revbridge_Id__c",
        json={"allOrNone": True, "records": records},
    )
    codes = [r["errors"][0]["statusCode"] for r in response.json()]
    assert codes == ["ALL_OR_NONE_OPERATION_ROLLED_BACK", "REQUIRED_FIELD_MISSING"]
    assert not [a for a in sandbox.records("Account") if a["Revbridge_Id__c"] == "ok"]


def test_injected_fault_answers_the_next_calls_then_clears(sandbox: SalesforceSandbox) -> None:
    http = _api(sandbox)
    sandbox.inject_fault(503, [{"message": "x", "errorCode": "SERVER_UNAVAILABLE"}], times=2)
    statuses = [http.get(f"{sandbox.url}{API}/limits").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sandbox.api_calls == 3


def test_only_calls_that_change_records_count_as_writes_and_new_records_add_to_the_count(
    sandbox: SalesforceSandbox,
) -> None:
    http, base = _api(sandbox), f"{sandbox.url}{API}"
    account, held = sandbox.records("Account")[0], sandbox.record_count
    records = [{"attributes": {"type": "Account"}, "Revbridge_Id__c": "w1", "Name": "New"}]
    reads = [
        http.get(f"{base}/query", params={"q": "SELECT Id FROM Account"}),
        http.get(f"{base}/sobjects/Account/describe"),
        http.get(f"{base}/sobjects/Account/{account['Id']}"),
        http.get(f"{base}/limits"),
        http.post(
            f"{base}/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account"}
        ),
    ]
    writes = [
        http.patch(f"{base}/composite/sobjects/Account/Revbridge_Id__c",
                   json={"allOrNone": False, "records": records}),
        http.patch(f"{base}/sobjects/Account/{account['Id']}", json={"Phone": "+44 20"}),
        http.delete(f"{base}/sobjects/Account/{account['Id']}"),
    ]  # fmt: skip
    assert [r.status_code for r in reads + writes] == [200] * 6 + [204, 204]
    sandbox.inject_fault(503, [{"message": "x", "errorCode": "SERVER_UNAVAILABLE"}])
    refused = http.patch(f"{base}/sobjects/Account/{account['Id']}", json={"Phone": "1"})

    assert refused.status_code == 503
    assert (sandbox.api_calls, sandbox.write_calls) == (9, 4)
    assert sandbox.record_count == held + 1  # the upserted Account; a deletion keeps its record


def test_credentials_repr_hides_the_secrets(sandbox: SalesforceSandbox) -> None:
    creds = sandbox.credentials
    assert creds.password not in repr(creds)
    assert creds.client_secret not in repr(creds)
    assert creds.security_token not in repr(creds)


def _upsert_subrequest(reference: str, keys: list[str]) -> dict[str, Any]:
    records = [{"attributes": {"type": "Account"}, "Revbridge_Id__c": k, "Name": k} for k in keys]
    return {"method": "PATCH", "url": f"{API}/composite/sobjects/Account/Revbridge_Id__c",
            "referenceId": reference, "body": {"allOrNone": False, "records": records}}  # fmt: skip


def _composite(sandbox: SalesforceSandbox, subrequests: list[dict[str, Any]]) -> requests.Response:
    body = {"allOrNone": False, "compositeRequest": subrequests}
    return _api(sandbox).post(f"{sandbox.url}{API}/composite", json=body)


def _account_keys(sandbox: SalesforceSandbox) -> set[str]:
    return {str(a["Revbridge_Id__c"]) for a in sandbox.records("Account")}


def test_composite_runs_collections_upserts_in_order_as_one_api_and_one_write_call(
    sandbox: SalesforceSandbox,
) -> None:
    http = _api(sandbox)
    calls, writes = sandbox.api_calls, sandbox.write_calls
    response = http.post(
        f"{sandbox.url}{API}/composite",
        json={"allOrNone": False, "compositeRequest": [
            _upsert_subrequest("first", ["c1", "c2"]),
            _upsert_subrequest("second", ["c2", "c3"]),
            _upsert_subrequest("third", ["c4", ""]),
        ]},
    )  # fmt: skip
    assert response.status_code == 200
    results = response.json()["compositeResponse"]
    assert [(r["referenceId"], r["httpStatusCode"]) for r in results] == [
        ("first", 200), ("second", 200), ("third", 200),
    ]  # fmt: skip
    assert [a["created"] for a in results[1]["body"]] == [False, True]  # c2 landed just before
    assert results[2]["body"][1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert (sandbox.api_calls - calls, sandbox.write_calls - writes) == (1, 1)
    assert {"c1", "c2", "c3", "c4"} <= _account_keys(sandbox)


@pytest.mark.parametrize("count", [26, 6])
def test_composite_over_its_subrequest_limits_is_refused_whole(
    sandbox: SalesforceSandbox, count: int
) -> None:
    response = _composite(sandbox, [_upsert_subrequest(f"r{n}", [f"k{n}"]) for n in range(count)])
    assert response.status_code == 400
    [result] = response.json()["compositeResponse"]
    assert (result["referenceId"], result["httpStatusCode"]) == (None, 400)
    assert result["body"][0]["errorCode"] == "LIMIT_EXCEEDED"
    assert not {f"k{n}" for n in range(count)} & _account_keys(sandbox)


def test_composite_refuses_subrequest_kinds_the_sandbox_does_not_run(
    sandbox: SalesforceSandbox,
) -> None:
    describe = {"method": "GET", "url": f"{API}/sobjects/Account/describe", "referenceId": "d"}
    response = _composite(sandbox, [_upsert_subrequest("u", ["k1"]), describe])
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "SANDBOX_UNSUPPORTED"
    assert "k1" not in _account_keys(sandbox)


def test_injected_fault_answers_the_whole_composite_and_a_subrequest_fault_one_subrequest(
    sandbox: SalesforceSandbox,
) -> None:
    sandbox.inject_fault(503, [{"message": "x", "errorCode": "SERVER_UNAVAILABLE"}])
    refused = _composite(sandbox, [_upsert_subrequest("u", ["k1"])])
    sandbox.fail_subrequests(400, [{"message": "bad", "errorCode": "JSON_PARSER_ERROR"}])
    answered = _composite(
        sandbox, [_upsert_subrequest("a", ["k2"]), _upsert_subrequest("b", ["k3"])]
    )
    assert refused.status_code == 503
    results = answered.json()["compositeResponse"]
    assert [r["httpStatusCode"] for r in results] == [400, 200]
    assert results[0]["body"][0]["errorCode"] == "JSON_PARSER_ERROR"
    assert _account_keys(sandbox) & {"k1", "k2", "k3"} == {"k3"}
