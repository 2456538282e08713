"""The journey, conflicts, runs and overview under /api/, and the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync.store import Store
from sync.store.conflict_log import ConflictEntry, ConflictStatus, log_conflicts
from sync.store.records import StoredRecord, XrefEntry, save_records, save_xrefs
from sync.store.runs import finish_run, start_run
from sync.store.schema import RunStatus
from tests.console.conftest import ConsoleClient


@pytest.fixture
def synced(store: Store) -> Store:
    """An order in three systems, held in billing on two fields, after one partial run."""
    with store.transaction() as connection:
        run_id = start_run(connection, "quote-to-cash")
        stats = {"api_calls": {"salesforce": 3}, "entities": {"order": {"billing": {"created": 1}}}}
        finish_run(connection, run_id, RunStatus.PARTIAL, stats)
        save_records(connection, [StoredRecord(
            "ord-1", "order", {"number": "<script>1</script>"}, "h", "salesforce", "Order",
            "8015g0000000187AAA", datetime(2026, 12, 1, tzinfo=UTC),
        )], run_id)  # fmt: skip
        save_xrefs(connection, [
            XrefEntry("billing", "ord-1", "order", "orders", "in_1", "h",
                      last_written_payload={"amount": 5}),
            XrefEntry("erp", "ord-1", "order", "salesOrder", "4242"),
        ], run_id)  # fmt: skip
        log_conflicts(connection, [
            ConflictEntry("order", "ord-1", "billing", name, 1, 2, 3, "manual", "held",
                          "salesforce", "8015g0000000187AAA", ConflictStatus.OPEN)
            for name in ("amount", "currency")
        ], run_id)  # fmt: skip
    return store


def test_the_journey_is_found_by_the_netsuite_id(
    synced: Store, viewer_client: ConsoleClient
) -> None:
    body = viewer_client.get("/api/journey", params={"id": "4242"}).json()

    (journey,) = body["items"]
    assert journey["canonical_id"] == "ord-1"
    assert journey["canonical"]["payload"] == {"number": "<script>1</script>"}
    assert {s["system"]: s["external_id"] for s in journey["systems"]} == {
        "billing": "in_1", "erp": "4242", }  # fmt: skip
    assert {e["kind"] for e in journey["events"]} >= {"captured", "written", "conflict"}


@pytest.mark.parametrize("params", [{}, {"id": ""}, {"id": "x" * 300}, {"id": "a\x00b"}])
def test_a_journey_search_without_a_usable_id_is_422(
    synced: Store, viewer_client: ConsoleClient, params: dict[str, str]
) -> None:
    assert viewer_client.get("/api/journey", params=params).status_code == 422


def test_held_records_list_each_field_with_its_three_values(
    synced: Store, viewer_client: ConsoleClient
) -> None:
    (held,) = viewer_client.get("/api/conflicts").json()["items"]
    one = viewer_client.get("/api/conflicts/billing/ord-1").json()
    missing = viewer_client.get("/api/conflicts/erp/ord-1")

    assert held == one
    assert [(f["field"], f["source_value"], f["target_value"], f["last_sent_value"])
            for f in one["fields"]] == [("amount", 2, 3, 1), ("currency", 2, 3, 1)]  # fmt: skip
    assert missing.status_code == 404


def test_resolving_needs_support_and_known_conflict_ids(
    synced: Store, viewer_client: ConsoleClient, support_client: ConsoleClient
) -> None:
    body = {"choices": {"999": "source"}, "note": "x"}
    url = "/api/conflicts/billing/ord-1/resolve"
    assert viewer_client.post(url, json=body).status_code == 403
    assert support_client.post(url, json=body).status_code == 422
    assert support_client.post(url, json={"choices": {"x": "source"}}).status_code == 422
    assert support_client.post(url, json={"choices": {"1": "both"}}).status_code == 422
    assert support_client.post("/api/conflicts/erp/ord-1/resolve",
                               json={"choices": {"1": "source"}}).status_code == 404  # fmt: skip


def test_runs_list_and_detail(synced: Store, viewer_client: ConsoleClient) -> None:
    (run,) = viewer_client.get("/api/runs").json()["items"]
    detail = viewer_client.get(f"/api/runs/{run['id']}").json()

    assert run["status"] == "partial"
    assert detail["api_calls"] == {"salesforce": 3}
    assert detail["counts"] == {"order": {"billing": {"created": 1}}}
    assert len(detail["conflicts"]) == 2
    assert viewer_client.get("/api/runs/424242").status_code == 404
    assert viewer_client.get("/api/runs/1", params={"errors_after": "zz"}).status_code == 400


def test_the_overview_has_flows_groups_conflicts_and_trends(
    synced: Store, viewer_client: ConsoleClient
) -> None:
    body = viewer_client.get("/api/overview").json()

    (flow,) = body["flows"]
    assert flow["flow"] == "quote-to-cash"
    assert flow["last_run"]["status"] == "partial"
    assert flow["next_run_at"] is not None
    assert body["conflicts_waiting"] == 2
    assert [r["written"] for r in body["recent_runs"]] == [1]
    assert len(body["queue_by_day"]) == 30


def test_the_openapi_document_describes_every_api_route(viewer_client: ConsoleClient) -> None:
    document = viewer_client.get("/api/openapi.json").json()

    assert {
        "/api/errors", "/api/errors/{error_id}", "/api/errors/retry", "/api/errors/resolve",
        "/api/errors/ignore", "/api/journey", "/api/conflicts",
        "/api/conflicts/{target_system}/{canonical_id}",
        "/api/conflicts/{target_system}/{canonical_id}/resolve", "/api/runs",
        "/api/runs/{run_id}", "/api/overview", "/api/audit",
    } <= set(document["paths"])  # fmt: skip
