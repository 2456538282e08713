"""The generic JSON profile's requests and answers, and the idempotency key."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import requests

from connectors.base import Cursor, WriteOutcome
from connectors.billing.connector import JsonProfile, idempotency_key


def _response(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.reason = "reason"
    return response


def test_upsert_puts_to_the_url_quoted_external_id() -> None:
    request = JsonProfile().upsert_request("customers", "acc/1 x", {"name": "Acme"})
    assert (request.method, request.path) == ("PUT", "/v1/customers/acc%2F1%20x")


def test_upsert_body_sends_money_as_decimal_strings_and_dates_as_iso() -> None:
    payload = {"total": Decimal("1200.00"), "effective_date": date(2026, 1, 5), "name": "x"}
    request = JsonProfile().upsert_request("orders", "o1", payload)
    assert json.loads(request.body or b"") == {
        "effective_date": "2026-01-05",
        "name": "x",
        "total": "1200.00",
    }


def test_upsert_body_is_the_same_bytes_whatever_the_key_order() -> None:
    profile = JsonProfile()
    first = profile.upsert_request("products", "p1", {"name": "A", "sku": "A-1"})
    second = profile.upsert_request("products", "p1", {"sku": "A-1", "name": "A"})
    assert first.body == second.body


def test_idempotency_key_is_stable_for_one_write_and_changes_with_body_or_write() -> None:
    key = idempotency_key("customers", "acc-1", b'{"name":"A"}', "token-1")
    assert key == idempotency_key("customers", "acc-1", b'{"name":"A"}', "token-1")
    assert key != idempotency_key("customers", "acc-1", b'{"name":"B"}', "token-1")
    assert key != idempotency_key("customers", "acc-2", b'{"name":"A"}', "token-1")
    assert key != idempotency_key("customers", "acc-1", b'{"name":"A"}', "token-2")
    assert len(key) <= 255


def test_write_result_maps_201_to_created_and_200_to_updated() -> None:
    profile = JsonProfile()
    created = profile.write_result("acc-1", _response(201, {"id": "cus_1"}))
    updated = profile.write_result("acc-1", _response(200, {"id": "cus_1"}))
    assert (created.outcome, created.target_id) == (WriteOutcome.CREATED, "cus_1")
    assert (updated.outcome, updated.target_id) == (WriteOutcome.UPDATED, "cus_1")


def test_write_result_carries_the_api_error_code_message_and_param() -> None:
    error = {"error": {"code": "parameter_missing", "param": "name", "message": "name is required"}}
    result = JsonProfile().write_result("acc-1", _response(400, error))
    assert result.outcome is WriteOutcome.REJECTED
    assert (result.error_code, result.error_message, result.error_fields) == (
        "parameter_missing",
        "name is required",
        ("name",),
    )


def test_first_list_page_filters_on_the_cursor_and_later_pages_resume_after_a_record() -> None:
    profile = JsonProfile()
    since = Cursor("2026-01-05T10:00:01Z", "cus_1")
    first = profile.list_request("customers", 100, since, None)
    later = profile.list_request("customers", 100, since, Cursor("2026-01-05T10:00:09Z", "cus_9"))
    assert first.params == {"limit": "100", "updated_after": "2026-01-05T10:00:01Z"}
    assert later.params == {
        "limit": "100",
        "updated_after": "2026-01-05T10:00:09Z",
        "starting_after": "cus_9",
    }
