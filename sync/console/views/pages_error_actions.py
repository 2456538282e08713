"""Acting on error-queue entries from the console: retry, resolve or ignore, each audited.

Resolve and ignore change the entries and write their audit row in one transaction, and name
the person as the one who closed them, so the decision sticks while the record is unchanged.
A retry is audited first (the request is the decision), then re-reads the records from their
source and syncs them with today's mappings in the flow that queued them, as
``revbridge errors retry`` does; entries of records that land are resolved by the engine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from connectors.errors import ConnectorError
from mappings.errors import MappingConfigError
from mappings.loader import load_mapping_set, mapping_files_for
from mappings.mapping_set import MappingSet
from sync.console.context import ConsoleContext
from sync.engine.factory import open_engine
from sync.engine.flows import Flow, flows_from_settings
from sync.store.audit import Actor, ActorKind
from sync.store.error_actions import audit_retry, close_errors
from sync.store.error_queue import ErrorFilter, ErrorRow, list_errors
from sync.store.schema import ErrorStatus, RunStatus

_ACTIVE = (ErrorStatus.OPEN, ErrorStatus.RETRYING)
_MARKS = {"resolve": ErrorStatus.RESOLVED, "ignore": ErrorStatus.IGNORED}
MAX_SELECTED = 500  # a page shows at most 100 rows; more ids than this is no person's selection


@dataclass(frozen=True)
class ErrorAction:
    """Who does what to which entries, and why."""

    actor: str
    action: str  # retry, resolve or ignore
    ids: tuple[int, ...]
    note: str | None
    kind: ActorKind = ActorKind.CONSOLE_USER  # an API token's script is audited as such


@dataclass
class ActionOutcome:
    """What to tell the person: one line per fact, and whether something went wrong."""

    lines: list[str] = field(default_factory=list)
    problem: bool = False


def action_problem(wanted: ErrorAction) -> str | None:
    """Why the form cannot be acted on as sent, or None."""
    if wanted.action not in ("retry", *_MARKS):
        return "choose retry, resolve or ignore"
    if not wanted.ids:
        return "select at least one entry"
    if len(wanted.ids) > MAX_SELECTED:
        return f"select at most {MAX_SELECTED} entries at once"
    if wanted.action in _MARKS and not wanted.note:
        return f"say why in the note: {wanted.action} needs one"
    return None


def _audited_active(context: ConsoleContext, wanted: ErrorAction) -> list[ErrorRow]:
    """The selected entries still open or retrying, acted on and audited in one transaction."""
    actor = Actor(wanted.actor, wanted.kind)
    with context.store.transaction() as connection:
        rows = list_errors(connection, where=ErrorFilter(ids=wanted.ids), limit=None)
        active = [row for row in rows if row.status in _ACTIVE]
        if not active:
            return []
        if wanted.action in _MARKS:
            ids = [row.id for row in active]
            announce = bool(context.settings.events.sinks)  # resolved events need a sink
            close_errors(connection, ids, _MARKS[wanted.action], actor, wanted.note,
                         record_events=announce)  # fmt: skip
        else:
            audit_retry(connection, active, actor)
    return active


def _flow_of(flows: dict[str, Flow], row: ErrorRow) -> Flow | None:
    named = flows.get(row.flow) if row.flow else None
    if named is not None:
        return named
    return next((flow for flow in flows.values() if flow.source == row.source_system), None)


def _retry(context: ConsoleContext, mapping_set: MappingSet, rows: list[ErrorRow]) -> ActionOutcome:
    flows = flows_from_settings(context.settings)
    work: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    outcome = ActionOutcome()
    for row in rows:
        flow = _flow_of(flows, row)
        if flow is None:
            outcome.problem = True
            outcome.lines.append(f"Entry {row.id}: no configured flow reads {row.source_system}.")
            continue
        work[flow.name][row.entity].append(row.source_id)
    for name, by_entity in work.items():
        try:
            with open_engine(context.settings, context.store, mapping_set, flows[name]) as engine:
                summary = engine.retry(by_entity)
        except ConnectorError as error:
            outcome.problem = True
            outcome.lines.append(
                f"Flow {name}: a system could not be reached ({type(error).__name__})."
            )
            continue
        outcome.problem = outcome.problem or summary.status is RunStatus.FAILED
        outcome.lines.append(
            f"Flow {name}: run {summary.run_id} wrote {summary.written}, "
            f"rejected {summary.rejected}, deferred {summary.deferred} ({summary.status.value})."
        )
        if summary.status is RunStatus.FAILED and summary.message:
            # The run's own message, as `revbridge runs` shows it: what failed, never a secret.
            outcome.lines.append(f"Run {summary.run_id} failed: {summary.message}")
    return outcome


def _act(context: ConsoleContext, wanted: ErrorAction) -> ActionOutcome:
    mapping_set = None
    if wanted.action == "retry":
        # Loaded before anything is audited: a retry that cannot start was not done.
        try:
            mapping_set = load_mapping_set(mapping_files_for(context.settings))
        except MappingConfigError:
            line = "The mappings are invalid: run `revbridge mappings check`, then retry."
            return ActionOutcome([line], True)
    rows = _audited_active(context, wanted)
    if not rows:
        return ActionOutcome(["None of the selected entries is open any more."], True)
    if wanted.action in _MARKS:
        done = "resolved" if wanted.action == "resolve" else "ignored"
        return ActionOutcome([f"{len(rows)} entries {done}."])
    assert mapping_set is not None
    outcome = _retry(context, mapping_set, rows)
    outcome.lines.insert(0, f"{len(rows)} entries retried with today's mappings.")
    return outcome


async def act_on_errors(context: ConsoleContext, wanted: ErrorAction) -> ActionOutcome:
    """Do ``wanted`` (checked by :func:`action_problem` first) off the event loop."""
    return await run_in_threadpool(_act, context, wanted)
