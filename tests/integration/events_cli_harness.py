"""What the events CLI tests share: a config for the sandboxes with event sinks, and outbox
events written the way a page commit writes them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.outbox import PageChanges, record_page_events
from sync.store.records import canonical_row, save_record_rows
from sync.store.schema import utc_now

TINY = SandboxSize(accounts=2, orders=4, products=2)
MODIFIED = datetime(2026, 12, 1, tzinfo=UTC)


def events_config(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, sinks: list[dict[str, Any]],
    **events: Any,
) -> Path:  # fmt: skip
    """A config for the sandboxes whose ``events:`` names ``sinks``."""
    document = sandboxes.settings_document(database_url)
    document["events"] = {"sinks": sinks, "batch_size": 25, **events}
    path = tmp_path / f"revbridge-{uuid.uuid4().hex[:6]}.yaml"
    write_sandbox_config(path, document)
    return path


def write_change(
    store: Store, canonical_id: str, payload: dict[str, Any], entity: str = "order",
    flow: str = "quote-to-cash",
) -> None:  # fmt: skip
    """Commit ``payload`` as the record's new values, with its change event."""
    row = canonical_row(
        canonical_id, entity, payload, f"h-{uuid.uuid4().hex}", "salesforce", "Order",
        f"sf-{canonical_id}", MODIFIED, None, utc_now(), 1,
    )  # fmt: skip
    page = PageChanges(flow, entity, 1, [row])
    with store.transaction() as connection:
        record_page_events(connection, page)
        save_record_rows(connection, [row])
