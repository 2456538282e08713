"""``revbridge resend``: the store written to a wiped billing system again, over the real wire.

Each test syncs quote-to-cash once, then wipes the billing sandbox (as a billing account
restored from an old backup or a new one would be) and re-sends from the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner, Result

from config.loader import load_settings
from mappings.loader import load_mapping_set
from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.engine.flows import flows_from_settings
from sync.engine.resend import Resender, open_resender, resend_scope
from sync.engine.stats import RunSummary
from sync.store import Store
from sync.store.records import xref_entries
from sync.store.schema import ErrorStatus, canonical_records, cursors, error_queue, runs, xref
from tests.cli_process import ROOT, cli_env, revbridge

runner = CliRunner()

# Billing collection of each canonical entity quote-to-cash sends there.
COLLECTIONS = {
    "account": "customers",
    "product": "products",
    "contact": "contacts",
    "price_book_entry": "prices",
    "quote": "quotes",
    "contract": "contracts",
    "subscription": "subscriptions",
    "order": "orders",
}


@dataclass(frozen=True)
class Synced:
    """Sandboxes after one quote-to-cash run, its config file and store URL."""

    sandboxes: Sandboxes
    config: Path
    database_url: str

    def resend(self, *args: str, target: str = "billing") -> Result:
        return runner.invoke(app, ["resend", "-c", str(self.config), "--target", target, *args])

    def resend_json(self, *args: str, target: str = "billing") -> dict[str, Any]:
        outcome = self.resend(*args, "--json", target=target)
        assert outcome.exit_code == 0, outcome.output
        return dict(json.loads(outcome.stdout.splitlines()[-1]))

    def query(self, statement: sa.Select[Any]) -> list[sa.Row[Any]]:
        store = Store(self.database_url)
        try:
            with store.engine.connect() as connection:
                return list(connection.execute(statement))
        finally:
            store.close()

    def stored(self) -> dict[str, set[str]]:
        """Canonical ids of the live stored records, per entity."""
        table = canonical_records.c
        rows = self.query(sa.select(table.entity, table.canonical_id).where(~table.is_deleted))
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row.entity, set()).add(row.canonical_id)
        return found

    def in_billing(self) -> dict[str, set[str]]:
        """External ids (canonical ids) of the sandbox's resources, per entity."""
        return {
            entity: {item["external_id"] for item in self.sandboxes.billing.resources(collection)}
            for entity, collection in COLLECTIONS.items()
        }

    def cursor_rows(self) -> list[tuple[str, str, str]]:
        rows = self.query(sa.select(cursors.c.flow, cursors.c.entity, cursors.c.position))
        return sorted((row.flow, row.entity, str(row.position)) for row in rows)

    def billing_writes(self, kind: str) -> int:
        return sum(n for (_, what), n in self.sandboxes.billing.writes.items() if what == kind)


@pytest.fixture
def synced(tmp_path: Path, database_url: str) -> Iterator[Synced]:
    with Sandboxes(SandboxSize(accounts=8, orders=40, products=5)) as sandboxes:
        document: dict[str, Any] = sandboxes.settings_document(database_url)
        document["retry"] = {"attempts": 1, "max_wait_seconds": 0.01}
        config = tmp_path / "revbridge.yaml"
        write_sandbox_config(config, document)
        ran = runner.invoke(app, ["run", "-c", str(config)])
        assert ran.exit_code == 0, ran.output
        yield Synced(sandboxes, config, database_url)


def _source_cursors(synced: Synced) -> list[tuple[str, str, str]]:
    return [row for row in synced.cursor_rows() if not row[0].startswith("resend:")]


def test_resend_restores_every_stored_record_to_a_wiped_billing_and_nothing_else(
    synced: Synced,
) -> None:
    stored = synced.stored()
    assert synced.in_billing() == {entity: stored[entity] for entity in COLLECTIONS}
    source_cursors = _source_cursors(synced)
    erp_calls = synced.sandboxes.erp.calls
    synced.sandboxes.billing.reset()

    summary = synced.resend_json()

    assert summary["status"] == "succeeded"
    assert summary["flow"] == "resend:billing"
    assert synced.in_billing() == {entity: stored[entity] for entity in COLLECTIONS}
    assert synced.billing_writes("created") == sum(len(stored[e]) for e in COLLECTIONS)
    assert synced.sandboxes.erp.calls == erp_calls
    assert _source_cursors(synced) == source_cursors
    listed = runner.invoke(app, ["runs", "-c", str(synced.config), "--json"])
    assert json.loads(listed.stdout.splitlines()[0])["flow"] == "resend:billing"


def test_xref_holds_the_ids_billing_gave_on_resend_so_the_next_run_writes_nothing(
    synced: Synced,
) -> None:
    synced.sandboxes.billing.reset()  # ids are given out afresh, in another order

    synced.resend_json()

    given = {
        item["external_id"]: item["id"] for item in synced.sandboxes.billing.resources("customers")
    }
    table = xref.c
    rows = synced.query(
        sa.select(table.canonical_id, table.external_id).where(
            table.system == "billing", table.entity == "account"
        )
    )
    assert {row.canonical_id: row.external_id for row in rows} == given
    writes = synced.billing_writes("created") + synced.billing_writes("updated")
    ran = runner.invoke(app, ["run", "-c", str(synced.config)])
    assert ran.exit_code == 0, ran.output
    assert synced.billing_writes("created") + synced.billing_writes("updated") == writes


def test_a_second_resend_is_harmless(synced: Synced) -> None:
    synced.sandboxes.billing.reset()
    synced.resend_json()
    restored = synced.in_billing()
    created = synced.billing_writes("created")

    again = synced.resend_json()

    assert again["status"] == "succeeded"
    assert synced.in_billing() == restored
    assert synced.billing_writes("created") == created
    assert synced.billing_writes("unchanged") == created  # every record sent again, no duplicate
    for collection in COLLECTIONS.values():
        ids = [item["external_id"] for item in synced.sandboxes.billing.resources(collection)]
        assert len(ids) == len(set(ids)), collection


def test_entity_option_sends_only_that_entity(synced: Synced) -> None:
    stored = synced.stored()
    synced.sandboxes.billing.reset()

    summary = synced.resend_json("--entity", "account")

    assert list(summary["entities"]) == ["account"]
    in_billing = synced.in_billing()
    assert in_billing["account"] == stored["account"]
    assert all(not ids for entity, ids in in_billing.items() if entity != "account")
    assert set(synced.sandboxes.billing.writes) == {("customers", "created")}


def test_dry_run_counts_what_would_be_sent_and_writes_nothing(synced: Synced) -> None:
    stored = synced.stored()
    synced.sandboxes.billing.reset()
    runs_before = len(synced.query(sa.select(runs.c.id)))

    plan = synced.resend_json("--dry-run")

    assert plan["dry_run"] is True
    assert {e: n for e, n in plan["entities"].items() if n} == {
        entity: len(stored[entity]) for entity in COLLECTIONS
    }
    assert synced.sandboxes.billing.calls == 0
    assert len(synced.query(sa.select(runs.c.id))) == runs_before
    shown = synced.resend("--dry-run")
    assert shown.exit_code == 0, shown.output
    assert "nothing was written" in shown.stdout


def test_since_limits_the_resend_to_records_changed_from_that_date(synced: Synced) -> None:
    table = canonical_records.c
    stamps = sorted(
        row.source_modified_at
        for row in synced.query(sa.select(table.source_modified_at).where(table.entity == "order"))
    )
    since = stamps[len(stamps) // 2]

    plan = synced.resend_json("--dry-run", "--since", since.isoformat())

    assert plan["entities"]["order"] == sum(1 for stamp in stamps if stamp >= since)
    assert 0 < plan["entities"]["order"] < len(stamps)


def _resend_in_process(
    synced: Synced, on_batch: Callable[[Resender, str], None], batch_size: int
) -> RunSummary:
    """Resend to billing with the engine's own API; ``on_batch`` gets the resender too."""
    settings = load_settings(synced.config)
    scope = resend_scope(load_mapping_set(), flows_from_settings(settings), "billing")
    store = Store(synced.database_url)
    resenders: list[Resender] = []
    try:
        with open_resender(
            settings, store, scope, batch_size=batch_size,
            on_batch=lambda entity, _summary: on_batch(resenders[0], entity),
        ) as resender:  # fmt: skip
            resenders.append(resender)
            return resender.run()
    finally:
        store.close()


def _sent_once(synced: Synced) -> None:
    """Every stored record is in billing, each created once and never sent again."""
    stored = synced.stored()
    assert synced.in_billing() == {entity: stored[entity] for entity in COLLECTIONS}
    assert synced.billing_writes("created") == sum(len(stored[e]) for e in COLLECTIONS)
    assert synced.billing_writes("unchanged") + synced.billing_writes("updated") == 0


def test_interrupted_resend_resumes_after_the_batches_it_committed(synced: Synced) -> None:
    synced.sandboxes.billing.reset()
    batches: list[str] = []

    def interrupt_after_three(_resender: Resender, entity: str) -> None:
        batches.append(entity)
        if len(batches) == 3:
            raise KeyboardInterrupt

    stopped = _resend_in_process(synced, interrupt_after_three, batch_size=4)

    assert stopped.status.value == "stopped"
    assert synced.billing_writes("created") == 7 + 4  # 7 accounts in two batches, 4 products
    resumed = synced.resend_json("--resume", str(stopped.run_id))
    assert resumed["status"] == "succeeded"
    _sent_once(synced)


def test_a_requested_stop_ends_the_resend_after_the_batch_in_hand(synced: Synced) -> None:
    synced.sandboxes.billing.reset()

    stopped = _resend_in_process(synced, lambda resender, _entity: resender.request_stop(), 4)

    assert stopped.status.value == "stopped"
    assert "--resume" in (stopped.message or "")
    assert synced.billing_writes("created") == 4
    resumed = synced.resend_json("--resume", str(stopped.run_id))
    assert resumed["status"] == "succeeded"
    _sent_once(synced)


def test_target_unreachable_mid_run_exits_1_with_a_resume_hint_and_resumes(
    synced: Synced,
) -> None:
    billing = synced.sandboxes.billing
    billing.reset()
    billing.drop_every(3)  # customers and products land; the contacts' answer is lost

    failed = synced.resend()

    assert failed.exit_code == 1, failed.output
    assert "Traceback" not in failed.output
    hint = failed.stderr.strip().splitlines()[-1]
    assert hint.startswith(f"resume with: revbridge resend -c {synced.config} --target billing")
    billing.drop_every(0)
    resumed = runner.invoke(app, hint.removeprefix("resume with: revbridge ").split())
    assert resumed.exit_code == 0, resumed.output
    writes = billing.writes
    assert writes[("customers", "unchanged")] == writes[("products", "unchanged")] == 0
    assert writes[("contacts", "unchanged")] == writes[("contacts", "created")]  # re-sent once


def test_rejected_record_goes_to_the_error_queue_and_the_rest_lands(synced: Synced) -> None:
    stored = synced.stored()
    refused = sorted(stored["account"])[0]
    synced.sandboxes.billing.reset()
    synced.sandboxes.billing.refuse(refused, "customer is blocked")

    summary = synced.resend_json()

    assert summary["status"] == "partial"
    table = error_queue.c
    queued = synced.query(
        sa.select(table.canonical_id, table.flow, table.stage, table.message, table.status).where(
            table.target_system == "billing", table.run_id == summary["run_id"]
        )
    )
    by_id = {row.canonical_id: row for row in queued}
    assert by_id[refused].stage == "write"
    assert by_id[refused].flow == "resend:billing"
    assert "customer is blocked" in by_id[refused].message
    # Nothing is lost: each stored record is in billing or queued for it.
    in_billing = synced.in_billing()
    for entity in COLLECTIONS:
        assert in_billing[entity] | (stored[entity] & set(by_id)) == stored[entity], entity
    assert in_billing["account"] == stored["account"] - {refused}
    assert in_billing["product"] == stored["product"]
    # The next delivery of the refused account sends it again rather than call it unchanged.
    store = Store(synced.database_url)
    with store.engine.connect() as connection:
        entry = xref_entries(connection, "billing", [refused]).get(refused)
    store.close()
    assert entry is None or entry.last_written_hash is None
    assert by_id[refused].status == ErrorStatus.OPEN.value


@pytest.fixture(scope="module")
def idle_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A configuration on sandboxes nobody syncs: options are refused before any I/O."""
    folder = tmp_path_factory.mktemp("idle")
    with Sandboxes(SandboxSize(accounts=1, orders=1, products=1)) as sandboxes:
        config = folder / "revbridge.yaml"
        document = sandboxes.settings_document(f"sqlite:///{folder / 'revbridge.db'}")
        write_sandbox_config(config, document)
        yield config


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--target", "nowhere"), "error: no flow writes to 'nowhere'"),
        (
            ("--target", "billing", "--entity", "invoice_line"),
            "error: billing takes no invoice_line",
        ),
    ],
)
def test_unknown_target_or_entity_exits_2_with_one_line_and_no_traceback(
    idle_config: Path, args: tuple[str, ...], expected: str
) -> None:
    completed = subprocess.run(
        revbridge("resend", "-c", str(idle_config), *args),
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith(expected), completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--flow", "nope"), "error: no flow 'nope'"),
        (("--resume", "999"), "error: run 999 is not a resend to billing"),
        (("--since", "yesterday"), "error: 'yesterday' is not a date"),
        ((), "error: --target is required"),
    ],
)
def test_invalid_options_exit_2_with_one_line(
    idle_config: Path, args: tuple[str, ...], expected: str
) -> None:
    target = ("--target", "billing") if args else ()
    outcome = runner.invoke(app, ["resend", "-c", str(idle_config), *target, *args])

    assert outcome.exit_code == 2, outcome.output
    assert outcome.stderr.startswith(expected), outcome.stderr
    assert len(outcome.stderr.strip().splitlines()) == 1, outcome.stderr


def _wait_for(condition: Callable[[], bool], process: subprocess.Popen[str]) -> bool:
    pause = threading.Event()
    for _ in range(2400):
        if condition():
            return True
        if process.poll() is not None:
            return False
        pause.wait(0.05)
    return False


def _position_saved(synced: Synced, entity: str) -> bool:
    return any(row[:2] == ("resend:billing", entity) for row in synced.cursor_rows())


def test_resend_killed_mid_run_resumes_without_resending_committed_batches(
    synced: Synced,
) -> None:
    synced.sandboxes.billing.reset()
    # Accounts and products land and commit; the contacts' write is held, then the client dies.
    gate = synced.sandboxes.billing.server.hold_requests("POST", "/v1/contacts/")
    process = subprocess.Popen(
        revbridge("resend", "-c", str(synced.config), "--target", "billing", "--json"),
        cwd=ROOT, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert gate.wait_until_held(timeout=120), process.poll()
        assert _wait_for(lambda: _position_saved(synced, "product"), process)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        gate.release()
        if process.poll() is None:
            process.kill()
        process.communicate()
    killed = max(row.id for row in synced.query(sa.select(runs.c.id)))

    resumed = synced.resend_json("--resume", str(killed))

    assert resumed["status"] == "succeeded"
    abandoned = synced.query(sa.select(runs.c.status).where(runs.c.id == killed))
    assert abandoned[0].status == "failed"  # its lease was taken from a dead process
    assert "account" not in {e for e, c in resumed["entities"].items() if c["canonical"]["read"]}
    writes = synced.sandboxes.billing.writes
    assert writes[("customers", "unchanged")] == writes[("products", "unchanged")] == 0
    assert synced.in_billing() == {e: synced.stored()[e] for e in COLLECTIONS}


def test_resend_to_a_new_erp_goes_through_its_packed_calls_and_leaves_billing_alone(
    synced: Synced,
) -> None:
    erp = synced.sandboxes.erp
    before = sorted(erp.records)
    billing_calls = synced.sandboxes.billing.calls
    erp.reset()

    summary = synced.resend_json(target="erp")

    assert summary["flow"] == "resend:erp"
    assert summary["status"] == "succeeded"
    assert sorted(erp.records) == before
    assert synced.sandboxes.billing.calls == billing_calls
