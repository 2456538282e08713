"""Console actions when the other side misbehaves or the form says too little: the page says
what happened in a line, keeps the records as they were, and shows no secret or traceback."""

from __future__ import annotations

import pytest

from config.settings import RetrySettings
from sync.console.context import ConsoleContext
from sync.store import Store
from sync.store.conflict_log import ConflictEntry, ConflictStatus, list_conflicts, log_conflicts
from sync.store.error_queue import list_errors
from sync.store.schema import ErrorStatus
from tests.console.conftest import SECRET_VALUES, ConsoleClient
from tests.console.error_rows import error_values, insert_errors


@pytest.fixture
def console_context(console_context: ConsoleContext) -> ConsoleContext:
    """The console's context with one quick attempt per call: the systems are unreachable."""
    console_context.settings.retry = RetrySettings(attempts=1, max_wait_seconds=0.1)
    return console_context


def _held(store: Store) -> list[int]:
    entries = [
        ConflictEntry(
            entity="account",
            canonical_id="acc-1",
            target_system="billing",
            field=field,
            base_value="old",
            source_value=f"<b>{field} from Salesforce</b>",
            target_value=f"{field} from billing",
            policy="manual",
            decision="held",
            source_system="salesforce",
            source_id="0015g0000000001AAA",
            status=ConflictStatus.OPEN,
            held_payload={"external_id": "acc-1"},
        )
        for field in ("name", "phone")
    ]
    with store.transaction() as connection:
        log_conflicts(connection, entries, run_id=None)
        return sorted(row.id for row in list_conflicts(connection, limit=None))


def _page_is_clean(text: str) -> None:
    assert "Traceback" not in text
    for secret in SECRET_VALUES:
        assert secret not in text


def test_a_retry_with_salesforce_unreachable_says_so_and_leaves_the_entry_open(
    store: Store, support_client: ConsoleClient
) -> None:
    with store.transaction() as connection:
        insert_errors(connection, [error_values(1, stage="map", target_system="")])

    answer = support_client.post("/errors/actions", data={"action": "retry", "ids": "1"})

    assert answer.status_code == 400
    assert "1 entries retried" in answer.text
    assert "Flow quote-to-cash: run 1 wrote 0, rejected 0, deferred 0 (failed)." in answer.text
    assert "Run 1 failed: " in answer.text
    _page_is_clean(answer.text)
    with store.engine.connect() as connection:
        assert list_errors(connection, limit=None)[0].status is ErrorStatus.OPEN


def test_a_conflict_with_nothing_chosen_or_nothing_held_changes_nothing(
    store: Store, support_client: ConsoleClient
) -> None:
    name_id, _phone_id = _held(store)

    nothing = support_client.post("/conflicts/billing/acc-1", data={"take": "per-field"})
    half = support_client.post(
        "/conflicts/billing/acc-1", data={"take": "per-field", f"take-{name_id}": "source"}
    )
    wrong = support_client.post("/conflicts/billing/acc-1", data={"take": "both"})
    missing = support_client.post("/conflicts/billing/no-such-record", data={"take": "source"})

    for answer in (nothing, half, wrong):
        assert answer.status_code == 400
        assert "choose" in answer.text
    assert missing.status_code == 400
    assert "nothing is held for this record" in missing.text
    with store.engine.connect() as connection:
        rows = list_conflicts(connection, limit=None)
    assert {(row.status, row.resolution) for row in rows} == {("open", None)}


def test_a_conflict_whose_target_is_unreachable_keeps_the_choice_and_says_to_try_again(
    store: Store, support_client: ConsoleClient
) -> None:
    _held(store)
    page = support_client.get("/conflicts/billing/acc-1").text
    assert "&lt;b&gt;name from Salesforce&lt;/b&gt;" in page

    answer = support_client.post(
        "/conflicts/billing/acc-1", data={"take": "source", "note": "Salesforce is right"}
    )

    _page_is_clean(answer.text)
    assert answer.status_code == 400
    with store.engine.connect() as connection:
        rows = list_conflicts(connection, limit=None)
    assert {(row.status, row.resolution) for row in rows} == {("open", "source")}


def test_a_viewer_may_read_a_conflict_but_not_resolve_it(
    store: Store, viewer_client: ConsoleClient
) -> None:
    _held(store)

    assert 'value="per-field"' not in viewer_client.get("/conflicts/billing/acc-1").text
    refused = viewer_client.post("/conflicts/billing/acc-1", data={"take": "source"})

    assert refused.status_code == 403
