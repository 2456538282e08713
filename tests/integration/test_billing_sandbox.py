"""The billing sandbox's HTTP contract, exercised with plain requests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandboxes.billing.sandbox import BillingSandbox

KEY = "sk_test_sandbox_contract"
ACME = {"external_id": "acc-1", "name": "Acme", "currency": "USD"}


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One billing sandbox for the module (stopping one takes ~0.5 s)."""
    with BillingSandbox(api_key=KEY) as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> BillingSandbox:
    """The module's sandbox, emptied for this test."""
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session that authenticates with the sandbox's key."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {KEY}"
        yield session


def _put(
    http: requests.Session, sandbox: BillingSandbox, path: str, body: Any, key: str | None = None
) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return http.put(f"{sandbox.url}/v1/{path}", json=body, headers=headers, timeout=5)


def test_missing_or_wrong_key_is_refused_with_an_authentication_error(
    sandbox: BillingSandbox,
) -> None:
    anonymous = requests.get(f"{sandbox.url}/v1/customers", timeout=5)
    wrong = requests.get(
        f"{sandbox.url}/v1/customers", headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert KEY not in wrong.text


def test_unknown_collection_is_404(http: requests.Session, sandbox: BillingSandbox) -> None:
    response = _put(http, sandbox, "refunds/re-1", {"name": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_upsert_answers_201_then_200_and_get_returns_the_resource(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    created = _put(http, sandbox, "customers/acc-1", ACME)
    updated = _put(http, sandbox, "customers/acc-1", {**ACME, "name": "Acme Ltd"})
    fetched = http.get(f"{sandbox.url}/v1/customers/acc-1", timeout=5)

    assert (created.status_code, updated.status_code, fetched.status_code) == (201, 200, 200)
    assert created.json()["id"].startswith("cus_")
    assert fetched.json()["name"] == "Acme Ltd"
    assert fetched.json()["id"] == created.json()["id"]


def test_validation_error_has_stripe_shape(http: requests.Session, sandbox: BillingSandbox) -> None:
    response = _put(http, sandbox, "products/p-1", {"name": "Seat"})
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "invalid_request_error",
        "code": "parameter_missing",
        "param": "sku",
        "message": "sku is required",
    }


def test_repeated_idempotency_key_with_same_body_replays_the_first_answer(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    first = _put(http, sandbox, "customers/acc-1", ACME, key="k-1")
    again = _put(http, sandbox, "customers/acc-1", ACME, key="k-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert sandbox.writes == {("customers", "created"): 1}


def test_repeated_idempotency_key_with_another_body_is_refused(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    _put(http, sandbox, "customers/acc-1", ACME, key="k-1")
    other = _put(http, sandbox, "customers/acc-1", {**ACME, "name": "Other"}, key="k-1")
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert sandbox.resources("customers")[0]["name"] == "Acme"


def test_list_pages_with_starting_after_and_reports_has_more(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    for n in range(3):
        _put(http, sandbox, f"customers/acc-{n}", {**ACME, "external_id": f"acc-{n}"})
    url = f"{sandbox.url}/v1/customers"
    first = http.get(url, params={"limit": 2}, timeout=5).json()
    after = first["data"][-1]["id"]
    second = http.get(url, params={"limit": 2, "starting_after": after}, timeout=5).json()

    assert (first["object"], first["has_more"], second["has_more"]) == ("list", True, False)
    ids = [r["external_id"] for r in first["data"] + second["data"]]
    assert ids == ["acc-0", "acc-1", "acc-2"]


def test_injected_fault_answers_once_with_its_headers(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    sandbox.inject_fault(429, headers={"Retry-After": "0"})
    limited = http.get(f"{sandbox.url}/v1/customers", timeout=5)
    normal = http.get(f"{sandbox.url}/v1/customers", timeout=5)
    assert (limited.status_code, normal.status_code) == (429, 200)
    assert limited.headers["Retry-After"] == "0"
    assert sandbox.calls == 2


def test_injected_disconnect_processes_the_request_but_never_answers(
    http: requests.Session, sandbox: BillingSandbox
) -> None:
    sandbox.inject_disconnect()
    with pytest.raises(requests.ConnectionError):
        _put(http, sandbox, "customers/acc-1", ACME)
    assert len(sandbox.resources("customers")) == 1
