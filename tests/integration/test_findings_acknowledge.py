"""Acknowledging a finding on both databases: kept while seen, audited in the same
transaction, resolving as before; and `revbridge reconcile acknowledge` / `reconcile list`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.store import Store
from sync.store.audit import Actor, ActorKind, AuditAction, AuditFilter, list_audit
from sync.store.finding_actions import (
    NOTE_MAX_CHARS,
    FindingNotFound,
    FindingResolved,
    InvalidNote,
    acknowledge_finding,
)
from sync.store.findings import (
    Finding,
    FindingFilter,
    FindingKind,
    Severity,
    list_findings,
    open_findings,
    record_findings,
)
from sync.store.schema import audit_log
from tests.unit.test_config_loader import MINIMAL, SECRETS

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SCOPE = [("quote-to-cash", "order", "billing")]
ANA = Actor("ana", ActorKind.CONSOLE_USER)
runner = CliRunner()


def _mismatch(canonical_id: str = "ord-1", actual: int = 100) -> Finding:
    return Finding(
        kind=FindingKind.AMOUNT_MISMATCH,
        severity=Severity.ERROR,
        flow="quote-to-cash",
        entity="order",
        system="billing",
        canonical_id=canonical_id,
        system_ids={"billing": f"bill-{canonical_id}"},
        field="total",
        expected_value=5000,
        actual_value=actual,
        currency="USD",
        amount_at_risk_minor=5000 - actual,
    )


def _seed(store: Store, *found: Finding, at: datetime = T0) -> list[int]:
    with store.transaction() as connection:
        record_findings(connection, list(found), SCOPE, at)
        return [stored.id for stored in open_findings(connection)]


def _audit_count(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar())


def test_an_acknowledged_finding_stays_acknowledged_while_seen_and_is_audited(
    store: Store,
) -> None:
    (finding_id,) = _seed(store, _mismatch())
    with store.transaction() as connection:
        done = acknowledge_finding(
            connection, finding_id, actor=ANA, note="  credit agreed <b>x</b>  ", now=T0
        )
    assert (done.acknowledged_by, done.acknowledged_at, done.note) == (
        "ana",
        T0,
        "credit agreed <b>x</b>",
    )
    # Seen again with a moved value: still open, still acknowledged, value updated.
    _seed(store, _mismatch(actual=200), at=T0 + timedelta(hours=1))
    with store.engine.connect() as connection:
        (again,) = open_findings(connection)
        (entry,) = list_audit(connection, AuditFilter(action=AuditAction.FINDING_ACKNOWLEDGE))
    assert (again.id, again.acknowledged_by, again.note) == (finding_id, "ana", done.note)
    assert again.finding.actual_value == 200
    assert (entry.actor, entry.actor_kind, entry.note) == ("ana", "console_user", done.note)
    ((ref),) = entry.records
    assert (ref.entity, ref.canonical_id, ref.source_system, ref.source_id) == (
        "order",
        "ord-1",
        "billing",
        "bill-ord-1",
    )


def test_an_acknowledged_finding_still_resolves_and_comes_back_unacknowledged(
    store: Store,
) -> None:
    (finding_id,) = _seed(store, _mismatch())
    with store.transaction() as connection:
        acknowledge_finding(connection, finding_id, actor=ANA, note="looking")
    _seed(store, at=T0 + timedelta(hours=1))  # fixed: no longer seen
    with store.engine.connect() as connection:
        assert open_findings(connection) == []
        (resolved,) = list_findings(connection, FindingFilter(include_resolved=True))
    assert resolved.resolved_at == T0 + timedelta(hours=1)
    assert resolved.acknowledged_by == "ana"  # the record of who looked is kept
    _seed(store, _mismatch(), at=T0 + timedelta(hours=2))  # broken again: a new occurrence
    with store.engine.connect() as connection:
        (back,) = open_findings(connection)
    assert (back.id, back.first_seen) == (finding_id, T0)
    assert (back.acknowledged_by, back.acknowledged_at, back.note) == (None, None, None)


def test_unknown_or_resolved_ids_and_bad_notes_are_refused_with_nothing_written(
    store: Store,
) -> None:
    (finding_id,) = _seed(store, _mismatch())
    refusals = [
        (finding_id + 999, "x", FindingNotFound),
        (finding_id, "   \n ", InvalidNote),
        (finding_id, "x" * (NOTE_MAX_CHARS + 1), InvalidNote),
    ]
    for target, note, error in refusals:
        with pytest.raises(error), store.transaction() as connection:
            acknowledge_finding(connection, target, actor=ANA, note=note)
    _seed(store, at=T0 + timedelta(hours=1))
    with pytest.raises(FindingResolved), store.transaction() as connection:
        acknowledge_finding(connection, finding_id, actor=ANA, note="too late")
    assert _audit_count(store) == 0
    with store.engine.connect() as connection:
        (stored,) = list_findings(connection, FindingFilter(include_resolved=True))
    assert stored.acknowledged_by is None


def test_a_note_with_control_characters_and_markup_is_kept_as_text(store: Store) -> None:
    (finding_id,) = _seed(store, _mismatch())
    hostile = "[red]boom[/red] <script>x</script>\x00\x1b[2J\u202e" + "é" * (NOTE_MAX_CHARS - 40)
    with store.transaction() as connection:
        done = acknowledge_finding(connection, finding_id, actor=ANA, note=hostile)
    assert done.note == hostile.replace("\x00", "\ufffd")


def test_the_cli_acknowledges_by_id_and_lists_with_ids(store: Store) -> None:
    first, second = _seed(store, _mismatch("ord-1"), _mismatch("ord-2"))
    hostile = "[red]ok[/red]\x1b[2J\u202e"
    result = runner.invoke(
        app,
        ["reconcile", "acknowledge", str(second), "--note", hostile, "--database-url", store.url],
    )
    assert result.exit_code == 0, result.output
    assert f"finding {second}" in result.stdout
    listed = runner.invoke(app, ["reconcile", "list", "--database-url", store.url, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["id"]: row for row in map(json.loads, listed.stdout.splitlines())}
    assert set(rows) == {first, second}
    assert rows[second]["note"] == hostile
    assert rows[first]["acknowledged_by"] is None
    assert rows[second]["amount_at_risk"] == "49.00"
    table = runner.invoke(app, ["reconcile", "list", "--database-url", store.url])
    assert "[red]ok[/red]" in table.stdout
    assert "\x1b" not in table.stdout
    assert "\u202e" not in table.stdout


@pytest.mark.parametrize(
    ("finding", "note", "code", "message"),
    [
        (999_999, "x", 1, "no finding 999999"),
        (None, "x" * (NOTE_MAX_CHARS + 1), 2, f"at most {NOTE_MAX_CHARS}"),
        (None, " ", 2, "the note is empty"),
    ],
)
def test_cli_mistakes_are_one_line_with_a_documented_exit_code(
    store: Store, finding: int | None, note: str, code: int, message: str
) -> None:
    (finding_id,) = _seed(store, _mismatch())
    chosen = finding_id if finding is None else finding
    result = runner.invoke(
        app,
        ["reconcile", "acknowledge", str(chosen), "--note", note, "--database-url", store.url],
    )
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert _audit_count(store) == 0


def test_acknowledge_without_a_note_or_with_a_wrong_id_is_a_usage_error(store: Store) -> None:
    for arguments in (["1"], ["one", "--note", "x"]):
        result = runner.invoke(
            app, ["reconcile", "acknowledge", *arguments, "--database-url", store.url]
        )
        assert result.exit_code == 2
        assert "Traceback" not in result.output


def test_reconcile_without_a_config_is_one_line_and_exit_2() -> None:
    result = runner.invoke(app, ["reconcile"])
    assert result.exit_code == 2
    assert "--config" in result.stderr
    assert "Traceback" not in result.output


def test_the_config_given_before_the_subcommand_names_the_store(
    store: Store, tmp_path: Path
) -> None:
    (finding_id,) = _seed(store, _mismatch())
    config = tmp_path / "revbridge.yaml"
    config.write_text(MINIMAL + f"database_url: {store.url}\n", encoding="utf-8")
    acknowledged = runner.invoke(
        app,
        ["reconcile", "-c", str(config), "acknowledge", str(finding_id), "--note", "seen"],
        env=SECRETS,
    )
    assert acknowledged.exit_code == 0, acknowledged.output
    listed = runner.invoke(app, ["reconcile", "-c", str(config), "list", "--json"], env=SECRETS)
    assert listed.exit_code == 0, listed.output
    (row,) = map(json.loads, listed.stdout.splitlines())
    assert (row["id"], row["note"]) == (finding_id, "seen")
