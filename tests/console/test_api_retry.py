"""``POST /api/errors/retry`` over the loopback sandboxes: after the mapping is fixed, they land."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.loader import load_settings
from mappings.loader import load_mapping_set, mapping_files_for, shipped_mapping_files
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.console.app import create_console_app
from sync.console.context import ConsoleContext
from sync.engine.factory import open_engine
from sync.engine.flows import flows_from_settings
from sync.store import Store
from sync.store.audit import AuditFilter, list_audit
from sync.store.error_queue import list_errors
from sync.store.schema import ErrorStatus
from tests.console.conftest import ConsoleUsers

SIZE = SandboxSize(accounts=15, orders=230, products=8)
PENDING_ORDER = "8015g0000000187AAA"


@pytest.fixture
def sandboxed(tmp_path: Path, store: Store) -> Iterator[tuple[Sandboxes, Path, ConsoleUsers]]:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    for path in shipped_mapping_files():
        shutil.copy(path, mappings / path.name)
    with Sandboxes(SIZE) as sandboxes:
        document: dict[str, Any] = sandboxes.settings_document(store.url)
        document["mappings_dir"] = str(mappings)
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, document)
        settings = load_settings(config)
        app = create_console_app(ConsoleContext(store=store, settings=settings))
        mapping_set = load_mapping_set(mapping_files_for(settings))
        flow = next(iter(flows_from_settings(settings).values()))
        with open_engine(settings, store, mapping_set, flow) as engine:
            engine.run()
        yield sandboxes, mappings, ConsoleUsers(app, store)


def test_retry_after_the_mapping_is_fixed_lands_the_record_and_is_audited(
    sandboxed: tuple[Sandboxes, Path, ConsoleUsers], store: Store
) -> None:
    sandboxes, mappings, users = sandboxed
    with store.engine.connect() as connection:
        (entry,) = [e for e in list_errors(connection, limit=None) if e.source_id == PENDING_ORDER]
    orders_before = len(sandboxes.billing.resources("orders"))
    salesforce_yaml = mappings / "salesforce.yaml"
    text = salesforce_yaml.read_text()
    salesforce_yaml.write_text(
        text.replace("Cancelled: cancelled", "Cancelled: cancelled, Pending: draft")
    )

    with users.client_for(users.add("sam", "support")) as client:
        response = client.post("/api/errors/retry", json={"ids": [entry.id]})

    assert response.status_code == 200, response.text
    assert response.json()["problem"] is False
    assert len(sandboxes.billing.resources("orders")) == orders_before + 1
    with store.engine.connect() as connection:
        (after,) = [e for e in list_errors(connection, limit=None) if e.id == entry.id]
        (audit,) = list_audit(connection, AuditFilter(error_ids=(entry.id,)))
    assert after.status is ErrorStatus.RESOLVED
    assert (audit.actor, audit.action) == ("sam", "error.retry")


def test_retry_with_a_broken_mapping_is_refused_before_anything_is_audited(
    sandboxed: tuple[Sandboxes, Path, ConsoleUsers], store: Store
) -> None:
    _, mappings, users = sandboxed
    (mappings / "salesforce.yaml").write_text("version: 1\nentities: [oops\n")

    with users.client_for(users.add("sam", "support")) as client:
        response = client.post("/api/errors/retry", json={"ids": [1]})

    assert response.status_code == 200
    assert response.json()["problem"] is True
    with store.engine.connect() as connection:
        assert list_audit(connection) == []
