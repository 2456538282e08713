"""Resolving a held record from the console: the person's choices, audited, then the write.

The choices and their audit row commit together, so the audit never claims a choice that was
not recorded; then the engine's ``resolve_conflicts`` writes the record with them, as
``revbridge conflicts resolve`` does. Blocking work (mappings, connectors, the target's
answer) runs in a worker thread, off the server's event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from connectors.errors import ConnectorError
from mappings.errors import MappingConfigError
from mappings.loader import load_mapping_set, mapping_files_for
from sync.console.context import ConsoleContext
from sync.engine.conflict_resolution import Resolution, Side, resolve_conflicts
from sync.engine.connections import open_connectors
from sync.store.audit import Actor, ActorKind
from sync.store.conflict_actions import record_choices
from sync.store.conflict_log import ConflictRow, open_for_record


@dataclass(frozen=True)
class ResolveRequest:
    """Who resolves which held record, with which side per conflict row, and why."""

    actor: str
    target_system: str
    canonical_id: str
    choices: dict[int, str]  # conflict row id -> "source" or "target"
    note: str | None
    kind: ActorKind = ActorKind.CONSOLE_USER  # an API token's script is audited as such


@dataclass
class ResolveOutcome:
    """What to tell the person: one line per fact, and whether something went wrong."""

    lines: list[str] = field(default_factory=list)
    problem: bool = False


def _record_choices(context: ConsoleContext, wanted: ResolveRequest) -> list[ConflictRow]:
    """Store the choices on this record's rows still open, with the audit row; the rows chosen."""
    actor = Actor(wanted.actor, wanted.kind)
    with context.store.transaction() as connection:
        rows = open_for_record(connection, wanted.target_system, wanted.canonical_id)
        mine = {row.id: wanted.choices[row.id] for row in rows if row.id in wanted.choices}
        return record_choices(connection, mine, actor, wanted.note) if mine else []


def _lines(resolution: Resolution, canonical_id: str) -> ResolveOutcome:
    outcome = ResolveOutcome()
    if canonical_id in resolution.written:
        outcome.lines.append(f"{canonical_id} was written with the chosen values.")
    for waiting, count in resolution.waiting.items():
        outcome.lines.append(f"{waiting}: {count} held fields still need a choice.")
    for rejected, message in resolution.rejected.items():
        outcome.problem = True
        outcome.lines.append(f"{rejected}: the target refused it ({message}); it stays held.")
    return outcome


def _resolve(context: ConsoleContext, wanted: ResolveRequest) -> ResolveOutcome:
    try:
        mapping_set = load_mapping_set(mapping_files_for(context.settings))
    except MappingConfigError:
        return ResolveOutcome(["The mappings are invalid: run `revbridge mappings check`."], True)
    chosen = _record_choices(context, wanted)
    if not chosen:
        return ResolveOutcome(["Nothing is held for this record any more."], True)
    by_side: dict[Side, list[int]] = {"source": [], "target": []}
    for row in chosen:
        by_side["source" if wanted.choices[row.id] == "source" else "target"].append(row.id)
    resolution = Resolution()
    try:
        with open_connectors(context.settings) as connectors:
            for side, ids in by_side.items():
                if ids:
                    # The first call writes the record (every field has its side by now);
                    # a later one finds nothing open. Keep what each said.
                    part = resolve_conflicts(context.store, mapping_set, connectors, ids, side)
                    resolution.written += part.written
                    resolution.waiting.update(part.waiting)
                    resolution.rejected.update(part.rejected)
    except ConnectorError as error:
        # The class says what kind of trouble; the message could carry a system's URL.
        line = f"The target could not be written ({type(error).__name__}); the choices are kept."
        return ResolveOutcome([line, "Try again once the target answers."], True)
    return _lines(resolution, wanted.canonical_id)


async def resolve_held_record(context: ConsoleContext, wanted: ResolveRequest) -> ResolveOutcome:
    """Record the choices (audited) and write the record once every field has one."""
    return await run_in_threadpool(_resolve, context, wanted)
