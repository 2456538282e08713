"""``/api/errors``: pages, one entry in full, and audited resolve/ignore, by role."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sync.store import Store
from sync.store.api_tokens import issue_token
from sync.store.audit import AuditFilter, list_audit
from sync.store.error_queue import QueuedError, queue_error
from sync.store.runs import start_run
from sync.store.schema import ErrorStage
from tests.console.conftest import SECRET_VALUES, ConsoleClient, ConsoleUsers
from tests.console.error_rows import error_values, insert_errors

SF_ID = "8015g0000000187AAA"


@pytest.fixture
def queued(store: Store) -> Store:
    """30 open entries, and one failing twice with a Salesforce record id and hostile text."""
    with store.transaction() as connection:
        insert_errors(connection, [error_values(n) for n in range(30)])
        failure = QueuedError(
            flow="quote-to-cash", entity="order", source_system="salesforce",
            source_object="Order", source_id=SF_ID, stage=ErrorStage.MAP,
            error_class="ValidationError", message='<script>alert(1)</script> "onmouseover=',
            payload={"Id": SF_ID, "Note": "[link=javascript:alert(1)]x[/link]"},
        )  # fmt: skip
        queue_error(connection, failure, start_run(connection, "quote-to-cash"))
        queue_error(connection, failure, start_run(connection, "quote-to-cash"))
    return store


def test_a_viewer_pages_through_the_queue_with_cursors(
    queued: Store, viewer_client: ConsoleClient
) -> None:
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"size": 7, **({"after": cursor} if cursor else {})}
        body = viewer_client.get("/api/errors", params=params).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == list(range(1, 32))
    assert len(seen) == len(set(seen))


def test_filters_and_text_search_reach_the_store(
    queued: Store, viewer_client: ConsoleClient
) -> None:
    by_class = viewer_client.get("/api/errors", params={"error_class": "ValidationError"})
    by_text = viewer_client.get("/api/errors", params={"text": "ORDER 12 WAS"})
    by_age = viewer_client.get("/api/errors", params={"newer_than": "1h"})
    assert [i["source_id"] for i in by_class.json()["items"]] == [SF_ID]
    assert [i["message"] for i in by_text.json()["items"]] == ["order 12 was rejected"]
    assert [i["source_id"] for i in by_age.json()["items"]] == [SF_ID]


def test_one_entry_shows_payload_attempts_and_a_link_to_salesforce(
    queued: Store, viewer_client: ConsoleClient
) -> None:
    (entry,) = viewer_client.get("/api/errors", params={"text": SF_ID}).json()["items"]
    detail = viewer_client.get(f"/api/errors/{entry['id']}").json()

    assert detail["payload"] == {"Id": SF_ID, "Note": "[link=javascript:alert(1)]x[/link]"}
    assert len(detail["attempts"]) == 2
    assert detail["attempts"][0]["run_id"] != detail["attempts"][1]["run_id"]
    assert detail["entry"]["source_url"] == f"https://login.invalid/{SF_ID}"
    assert detail["entry"]["message"] == '<script>alert(1)</script> "onmouseover='


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"after": "bm90LWEtY3Vyc29y"}, 400),
        ({"after": "has spaces"}, 422),
        ({"size": 0}, 422),
        ({"size": 10**6}, 422),
        ({"status": "bogus"}, 422),
        ({"older_than": "7 days"}, 422),
        ({"newer_than": "800000d"}, 422),
        ({"older_than": "999999w"}, 422),
        ({"entity": "x\x00y"}, 422),
        ({"text": "a" * 201}, 422),
    ],
)
def test_operator_mistakes_get_a_4xx_with_a_reason(
    queued: Store, viewer_client: ConsoleClient, params: dict[str, object], status: int
) -> None:
    response = viewer_client.get("/api/errors", params=params)
    assert response.status_code == status
    assert "detail" in response.json()


@pytest.mark.parametrize("path", ["/api/errors/999999", "/api/errors/0", "/api/errors/x"])
def test_an_unknown_entry_is_404_or_422(
    queued: Store, viewer_client: ConsoleClient, path: str
) -> None:
    assert viewer_client.get(path).status_code in (404, 422)


def test_nobody_signed_in_gets_401_json(queued: Store, anonymous_client: ConsoleClient) -> None:
    response = anonymous_client.get("/api/errors")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")


def test_a_viewer_may_not_act(queued: Store, viewer_client: ConsoleClient) -> None:
    response = viewer_client.post("/api/errors/ignore", json={"ids": [1], "note": "no"})
    assert response.status_code == 403


@pytest.mark.parametrize("note", [None, "", "   "])
def test_ignore_without_a_note_is_refused(
    queued: Store, support_client: ConsoleClient, note: str | None
) -> None:
    response = support_client.post("/api/errors/ignore", json={"ids": [1], "note": note})
    assert response.status_code == 422
    assert support_client.get("/api/errors/1").json()["entry"]["status"] == "open"


def test_support_ignores_with_a_note_and_the_audit_names_them(
    queued: Store, support_client: ConsoleClient
) -> None:
    note = "duplicate test orders <b>ok</b>"
    response = support_client.post("/api/errors/ignore", json={"ids": [1, 2], "note": note})

    assert response.status_code == 200, response.text
    assert response.json()["problem"] is False
    detail = support_client.get("/api/errors/1").json()
    assert detail["entry"]["status"] == "ignored"
    assert detail["entry"]["closed_by"] == support_client.user_name
    (action,) = detail["actions"]
    assert (action["action"], action["note"]) == ("error.ignore", note)
    with queued.engine.connect() as connection:
        (entry,) = list_audit(connection, AuditFilter(error_ids=(2,)))
    assert entry.actor == support_client.user_name
    audit = support_client.get("/api/audit", params={"actor": support_client.user_name}).json()
    assert [sorted(r["error_id"] for r in item["records"]) for item in audit["items"]] == [[1, 2]]


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": [0]}, {"ids": [2**40]}, {"ids": ["x"]}, {"ids": [1], "extra": 1},
     {"ids": list(range(1, 600)), "note": "n"}, {"ids": [1], "note": "n" * 3000}],
)  # fmt: skip
def test_malformed_action_bodies_are_422(
    queued: Store, support_client: ConsoleClient, body: dict[str, object]
) -> None:
    assert support_client.post("/api/errors/resolve", json=body).status_code == 422


def test_no_response_carries_a_secret(queued: Store, admin_client: ConsoleClient) -> None:
    bodies = [
        admin_client.get(path).text
        for path in ("/api/errors", "/api/errors/31", "/api/overview", "/api/runs", "/api/audit")
    ]
    for secret in SECRET_VALUES:
        assert all(secret not in body for body in bodies)
    assert json.loads(bodies[2])["systems_configured"] == ["salesforce", "billing", "erp"]


def test_a_script_with_an_api_token_is_audited_as_one(
    queued: Store, console_users: ConsoleUsers, anonymous_client: ConsoleClient
) -> None:
    console_users.add("nightly-script", "support")
    token = issue_token(queued, "nightly-script", datetime.now(UTC)).token
    response = anonymous_client.post(
        "/api/errors/resolve",
        json={"ids": [3], "note": "fixed in NetSuite by hand"},
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 200, response.text
    with queued.engine.connect() as connection:
        (entry,) = list_audit(connection, AuditFilter(error_ids=(3,)))
    assert (entry.actor, entry.actor_kind) == ("nightly-script", "api_token")
    assert token not in response.text
