"""What people do to findings: acknowledge one with a note, audited in the same transaction.

An acknowledgement says "someone looked at this": the finding stays open and keeps being
seen by later reconciles (its values move with them), and it still resolves itself once a
reconcile no longer sees it. A finding that resolved and comes back is a new occurrence and
asks to be looked at again (see :func:`sync.store.findings.record_findings`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from sync.store.audit import Actor, AuditAction, RecordRef, record_action
from sync.store.findings import StoredFinding, findings, stored_finding
from sync.store.schema import utc_now

NOTE_MAX_CHARS = 2000
"""A note explains a decision in a few sentences; a pasted log belongs in a ticket."""


class FindingActionRefused(ValueError):
    """An action on a finding that cannot be done; the message says why, in one line."""


class FindingNotFound(FindingActionRefused):
    """No finding has this id."""

    def __init__(self, finding_id: int) -> None:
        super().__init__(f"no finding {finding_id}")
        self.finding_id = finding_id


class FindingResolved(FindingActionRefused):
    """The finding resolved itself: there is nothing left to acknowledge."""

    def __init__(self, finding_id: int) -> None:
        super().__init__(f"finding {finding_id} is resolved: a later reconcile no longer saw it")
        self.finding_id = finding_id


class InvalidNote(FindingActionRefused):
    """The note is empty or longer than :data:`NOTE_MAX_CHARS`."""


def clean_note(note: str) -> str:
    """``note`` trimmed and checked: not blank, at most NOTE_MAX_CHARS, U+0000 replaced."""
    text = note.strip()
    if not text:
        raise InvalidNote("the note is empty: say why the finding is acknowledged")
    if len(text) > NOTE_MAX_CHARS:
        raise InvalidNote(f"the note has {len(text)} characters; at most {NOTE_MAX_CHARS}")
    # PostgreSQL text cannot hold U+0000; a pasted note must not fail the action it explains.
    return text.replace("\x00", "\ufffd")


def acknowledge_finding(
    connection: sa.Connection,
    finding_id: int,
    *,
    actor: Actor,
    note: str,
    now: datetime | None = None,
) -> StoredFinding:
    """Mark an open finding as looked at by ``actor``, with ``note``; audited alike.

    Run it in a transaction (``store.transaction()``): the acknowledgement and its audit row
    commit together. Acknowledging again replaces the note and the name. Raises
    FindingNotFound, FindingResolved or InvalidNote, with nothing written.
    """
    text = clean_note(note)
    row = connection.execute(
        sa.select(findings).where(findings.c.id == finding_id).with_for_update()
    ).first()
    if row is None:
        raise FindingNotFound(finding_id)
    if row.resolved_at is not None:
        raise FindingResolved(finding_id)
    connection.execute(
        sa.update(findings)
        .where(findings.c.id == finding_id)
        .values(acknowledged_by=actor.name, acknowledged_at=now or utc_now(), note=text)
    )
    system_ids = dict(row.system_ids or {})
    record_action(
        connection,
        actor,
        AuditAction.FINDING_ACKNOWLEDGE,
        text,
        [
            RecordRef(
                entity=row.entity,
                canonical_id=row.canonical_id,
                source_system=row.system,
                source_id=system_ids.get(row.system),
            )
        ],
    )
    updated = connection.execute(sa.select(findings).where(findings.c.id == finding_id)).one()
    return stored_finding(updated)
