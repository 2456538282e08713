"""The demo's lifecycle section, over the real wire: each CPQ event with the subscription's
quantity after it and what billing and the ERP received, then what NetSuite holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rich.console import Console

from mappings.mapping_set import MappingSet
from sync.cli.demo_lifecycle import lifecycle_story, print_lifecycle
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.engine.flows import Flow
from sync.store import Store
from tests.integration.cpq_harness import cpq_sandboxes, run_flow

SIZE = SandboxSize(accounts=4, orders=6, products=3, page_size=200, lifecycles=True)
QUOTE_TO_ERP = Flow(name="quote-to-erp", source="salesforce", targets=("erp",))
QUOTE_TO_CASH = Flow(name="quote-to-cash", source="salesforce", targets=("billing", "erp"))


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with cpq_sandboxes(SIZE) as running:
        yield running


def test_the_demo_shows_each_event_moving_the_quantity_and_what_netsuite_holds(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_ERP, page_size=200)

    story = lifecycle_story(store, sandboxes)

    moves = [(s.day.isoformat(), s.event, str(s.change), str(s.quantity)) for s in story.steps]
    assert moves == [
        ("2026-01-01", "bought", "10.0", "10.0"),
        ("2026-01-01", "bought", "4.0", "4.0"),
        ("2026-03-01", "upsell", "5.0", "15.0"),
        ("2026-04-01", "add-on", "2.0", "2.0"),
        ("2026-05-01", "downgrade", "-3.0", "12.0"),
        ("2026-07-01", "cancellation", "-4.0", "0"),
        ("2026-09-16", "co-terminated add-on", "3.0", "3.0"),
        ("2027-01-01", "renewal", "12.0", "12.0"),
    ]
    # The flow writes to the ERP only: billing was not asked.
    assert {s.targets["erp"] for s in story.steps} == {"landed"}
    assert {s.targets["billing"] for s in story.steps} == {"not sent"}
    assert story.erp_lines[-1].startswith("credit memo of 2026-07-01: ")
    console = Console(record=True, width=200)
    print_lifecycle(story, console)
    text = console.export_text()
    assert "2026-05-01  downgrade" in text
    assert "  -3 ->  12   billing: not sent  erp: landed" in text


def test_the_demo_shows_the_quantity_billing_holds_after_each_event(
    sandboxes: Sandboxes, store: Store, mapping_set: MappingSet
) -> None:
    run_flow(sandboxes, store, mapping_set, QUOTE_TO_CASH, page_size=200)

    story = lifecycle_story(store, sandboxes)

    held = [(s.event, s.targets["billing"], s.targets["erp"]) for s in story.steps]
    assert held == [
        ("bought", "holds 10", "landed"),
        ("bought", "holds 4", "landed"),
        ("upsell", "holds 15", "landed"),
        ("add-on", "holds 2", "landed"),
        ("downgrade", "holds 12", "landed"),
        ("cancellation", "holds 0", "landed"),
        ("co-terminated add-on", "holds 3", "landed"),
        ("renewal", "holds 12", "landed"),
    ]
