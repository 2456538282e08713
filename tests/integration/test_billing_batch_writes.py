"""Billing writes in batches (generic profile) and in parallel (Stripe profile), over loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import WriteOutcome, WriteSpec
from connectors.billing.profile_file import SHIPPED_PROFILE
from sandboxes.billing.sandbox import BillingSandbox
from sandboxes.server import RequestGate
from tests.integration.billing_harness import MakeConnector, connector_factory
from tests.meeting_gate import MeetingGate

CUSTOMERS = WriteSpec("customers", "external_id")


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[BillingSandbox]:
    """One billing sandbox for the module."""
    with BillingSandbox() as billing:
        yield billing


@pytest.fixture
def sandbox(running_sandbox: BillingSandbox) -> Iterator[BillingSandbox]:
    """The module's sandbox, emptied for this test (and its request gate opened after it)."""
    running_sandbox.reset()
    yield running_sandbox
    running_sandbox.server.install_gate(RequestGate("NONE", "/"))


@pytest.fixture
def waits() -> list[float]:
    """Every backoff the connector asked for; nothing really sleeps."""
    return []


@pytest.fixture
def make_connector(sandbox: BillingSandbox, waits: list[float]) -> Iterator[MakeConnector]:
    """Connectors to the sandbox (generic profile unless ``profile="stripe"``), closed after."""
    with connector_factory(sandbox, waits) as make:
        yield make


def _customer(external_id: str, **changes: Any) -> dict[str, Any]:
    return {"external_id": external_id, "name": f"Customer {external_id}", "currency": "USD",
            **changes}  # fmt: skip


def _profile_without_batch(tmp_path: Path) -> Path:
    text = SHIPPED_PROFILE.read_text(encoding="utf-8")
    start = text.index("  batch:")
    end = text.index("max_records: 100\n", start) + len("max_records: 100\n")
    path = tmp_path / "no-batch.yaml"
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    return path


def test_one_batch_call_lands_every_record_but_the_rejected_one_in_the_middle(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    customers = [_customer(f"acc-{n}") for n in range(5)]
    customers[2] = _customer("acc-2", currency="usd")

    results = make_connector().write(CUSTOMERS, customers)

    assert sandbox.calls == 1
    assert [(r.external_id, r.outcome) for r in results] == [
        ("acc-0", WriteOutcome.CREATED),
        ("acc-1", WriteOutcome.CREATED),
        ("acc-2", WriteOutcome.REJECTED),
        ("acc-3", WriteOutcome.CREATED),
        ("acc-4", WriteOutcome.CREATED),
    ]
    assert (results[2].error_code, results[2].error_fields) == ("parameter_invalid", ("currency",))
    assert "ISO 4217" in results[2].error_message
    stored = {c["external_id"]: c["id"] for c in sandbox.resources("customers")}
    assert sorted(stored) == ["acc-0", "acc-1", "acc-3", "acc-4"]
    landed = [r for r in results if r.ok]
    assert [r.target_id for r in landed] == [stored[r.external_id] for r in landed]


def test_records_beyond_max_records_go_in_further_batches_with_results_in_order(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    customers = [_customer(f"acc-{n:03d}") for n in range(250)]
    results = make_connector().write(CUSTOMERS, customers)
    assert sandbox.calls == 3  # 100 + 100 + 50
    assert [r.external_id for r in results] == [c["external_id"] for c in customers]
    assert sandbox.writes == {("customers", "created"): 250}


def test_batch_retried_after_a_dropped_connection_is_replayed_without_duplicates(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    sandbox.inject_disconnect(times=1)  # the first batch is committed, then its answer is lost
    customers = [_customer(f"acc-{n:03d}") for n in range(150)]

    results = make_connector(max_concurrency=1).write(CUSTOMERS, customers)

    assert sandbox.calls == 3
    assert sandbox.writes == {("customers", "created"): 150}
    # The replayed answer is the first one's: created, with the ids the API gave then.
    assert {r.outcome for r in results} == {WriteOutcome.CREATED}
    stored = {c["external_id"]: c["id"] for c in sandbox.resources("customers")}
    assert [r.target_id for r in results] == [stored[c["external_id"]] for c in customers]


def test_same_records_sent_again_in_a_later_call_are_upserted_not_replayed(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    connector = make_connector()
    connector.write(CUSTOMERS, [_customer("acc-1", name="A")])
    connector.write(CUSTOMERS, [_customer("acc-1", name="B")])
    [again] = connector.write(CUSTOMERS, [_customer("acc-1", name="A")])
    assert again.outcome is WriteOutcome.UPDATED
    assert sandbox.resources("customers")[0]["name"] == "A"


def test_profile_without_a_batch_endpoint_writes_one_record_a_call(
    make_connector: MakeConnector, sandbox: BillingSandbox, tmp_path: Path
) -> None:
    connector = make_connector(profile_file=_profile_without_batch(tmp_path))
    results = connector.write(CUSTOMERS, [_customer(f"acc-{n}") for n in range(6)])
    assert sandbox.calls == 6
    assert [r.outcome for r in results] == [WriteOutcome.CREATED] * 6


def test_single_record_writes_overlap_up_to_max_concurrency(
    make_connector: MakeConnector, sandbox: BillingSandbox, tmp_path: Path
) -> None:
    gate = MeetingGate("PUT", "/v1/customers/", barrier=threading.Barrier(4, timeout=20.0))
    sandbox.server.install_gate(gate)
    connector = make_connector(profile_file=_profile_without_batch(tmp_path), max_concurrency=4)

    results = connector.write(CUSTOMERS, [_customer(f"acc-{n}") for n in range(8)])

    assert gate.met == [True] * 8, "four writes were never in flight at once"
    assert [r.external_id for r in results] == [f"acc-{n}" for n in range(8)]
    assert sandbox.writes == {("customers", "created"): 8}


def test_concurrent_stripe_writes_land_exactly_once_each_despite_dropped_answers(
    make_connector: MakeConnector, sandbox: BillingSandbox
) -> None:
    # A quarter of requests are committed, then their answers lost; ten attempts outlast that.
    sandbox.inject_rate(0.25, None, seed=7)
    customers = [_customer(f"acc-{n:02d}", email=f"ap{n}@example.com") for n in range(24)]
    customers = [{k: v for k, v in c.items() if k != "currency"} for c in customers]

    connector = make_connector(attempts=10, profile="stripe", auth="basic", max_concurrency=6)
    results = connector.write(CUSTOMERS, customers)

    assert [r.external_id for r in results] == [c["external_id"] for c in customers]
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok]
    tags = [o["metadata"]["revbridge_id"] for o in sandbox.stripe_objects("customers")]
    assert sorted(tags) == sorted(c["external_id"] for c in customers)
    assert sandbox.stripe_writes[("customers", "created")] == 24
    stored = {o["metadata"]["revbridge_id"]: o["id"] for o in sandbox.stripe_objects("customers")}
    assert [r.target_id for r in results] == [stored[r.external_id] for r in results]


def test_concurrent_stripe_writes_wait_as_retry_after_asks(
    make_connector: MakeConnector, sandbox: BillingSandbox, waits: list[float]
) -> None:
    sandbox.inject_fault(429, headers={"Retry-After": "2"}, times=2)
    customers = [{"external_id": f"acc-{n}", "name": f"C{n}"} for n in range(10)]

    results = make_connector(profile="stripe", auth="basic", max_concurrency=4).write(
        CUSTOMERS, customers
    )

    assert all(r.outcome is WriteOutcome.CREATED for r in results)
    assert waits == [2.0, 2.0]
    assert len(sandbox.stripe_objects("customers")) == 10
