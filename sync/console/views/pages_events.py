"""The events page: each configured sink's outbox state, the events it dead-lettered, and a
replay of one of them or all of a sink's (support role; CSRF-checked, audited with the requeue).

A replay requeues only: the next drain sends the events with their own ids. Sinks are shown by
name and type, never by URL: a webhook URL may hold a token, an AMQP URL a password. Reasons
come from the other side, so they are shown as text with control characters made visible and
any configured secret blanked out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from config.events import NatsSinkSettings, RabbitMqSinkSettings, WebhookSinkSettings
from config.settings import Settings
from sync.console.auth import SupportUser, ViewerUser
from sync.console.context import Context
from sync.console.rendering import render
from sync.store.audit import Actor, ActorKind
from sync.store.outbox import SinkStatus, sink_filter, sink_status
from sync.store.outbox_console import (
    DeadLetterKey,
    DeadLetterLine,
    NoSuchDeadLetter,
    ReplayRefused,
    dead_letter_lines,
    replay_dead_letters,
)

router = APIRouter()
SHOWN_ROWS = 200
_REASON_CHARS = 500
_SINK_NAME = r"^[a-z0-9][a-z0-9_-]*$"  # as config.events names a sink
_EVENT_ID_CHARS = 36  # outbox_events.event_id
# C0 and C1 controls but tab and newline: shown as \xNN, so a reason cannot move the page's text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_HIDDEN = "[secret]"


def _secrets(settings: Settings) -> list[str]:
    """Every configured sink secret: webhook URLs and signing secrets, AMQP and NATS passwords."""
    found: list[str] = []
    for sink in settings.events.sinks:
        if isinstance(sink, WebhookSinkSettings):
            found += [sink.url.get_secret_value(), *(s.get_secret_value() for s in sink.secrets)]
        elif isinstance(sink, RabbitMqSinkSettings) and sink.password is not None:
            found.append(sink.password.get_secret_value())
        elif isinstance(sink, NatsSinkSettings):
            found.append(urlsplit(sink.url).password or "")  # nats://user:password@host
    return [secret for secret in found if secret]


def shown_text(text: str, secrets: list[str], limit: int = _REASON_CHARS) -> str:
    """``text`` for the page: secrets blanked, controls as ``\\xNN``, cut to ``limit``."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _HIDDEN)
    text = _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class SinkLine:
    """One sink's row: its state and the age of its oldest pending event."""

    status: SinkStatus
    kind: str
    oldest_age_seconds: float | None
    last_error: str


@dataclass(frozen=True)
class LetterLine:
    """One dead letter's row, its texts ready to print."""

    letter: DeadLetterLine
    event_id: str
    event_type: str
    subject: str
    journey_url: str
    reason: str


def _letter_line(letter: DeadLetterLine, secrets: list[str]) -> LetterLine:
    return LetterLine(
        letter=letter,
        event_id=shown_text(letter.event_id, secrets),
        # The CloudEvents type the sink was sent (sync.events.envelope.event_type).
        event_type=shown_text(f"com.revbridge.{letter.entity}.{letter.change}", secrets),
        subject=shown_text(letter.subject, secrets),
        journey_url=f"/journey?{urlencode({'id': letter.subject})}",
        reason=shown_text(letter.reason, secrets),
    )


def _next_url(lines: list[DeadLetterLine]) -> str:
    last = lines[-1]
    return f"/events?{urlencode({'after_sink': last.sink, 'after': last.sequence})}#dead-letters"


@router.get("/events", response_class=HTMLResponse)
def events_page(
    request: Request,
    user: ViewerUser,
    context: Context,
    after_sink: Annotated[str, Query(max_length=80, pattern="^([a-z0-9][a-z0-9_-]*)?$")] = "",
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> HTMLResponse:
    """Every configured sink's counts, then its dead letters (keyset pages of SHOWN_ROWS)."""
    sinks = context.settings.events.sinks
    secrets = _secrets(context.settings)
    now = context.clock()
    start = DeadLetterKey(after_sink, after) if after_sink else None
    with context.store.engine.connect() as connection:
        statuses = [(sink, sink_status(connection, sink_filter(sink))) for sink in sinks]
        names = [sink.name for sink in sinks]
        letters = dead_letter_lines(connection, names, start, limit=SHOWN_ROWS + 1)
    sink_lines = [
        SinkLine(
            status=status,
            kind=sink.type,
            oldest_age_seconds=None
            if status.oldest_pending_at is None
            else max(0.0, (now - status.oldest_pending_at).total_seconds()),
            last_error=shown_text(status.last_error or "", secrets),
        )
        for sink, status in statuses
    ]
    shown = letters[:SHOWN_ROWS]
    values = {
        "sinks": sink_lines,
        "letters": [_letter_line(letter, secrets) for letter in shown],
        "next_url": _next_url(shown) if len(letters) > SHOWN_ROWS else None,
        "paged": start is not None,
        "can_act": user.may("support"),
    }
    return render(request, "pages/events.html", values)


def _form_text(value: object) -> str:
    return value if isinstance(value, str) else ""


@router.post("/events/{sink}/replay", response_class=HTMLResponse)
async def replay(
    request: Request,
    user: SupportUser,
    context: Context,
    sink: Annotated[str, Path(max_length=80, pattern=_SINK_NAME)],
) -> HTMLResponse:
    """Requeue one dead letter (form field ``event_id``) or all of the sink's, with a note."""
    form = await request.form()
    event_id = _form_text(form.get("event_id")).strip() or None
    note = _form_text(form.get("note"))
    back = {"back_url": "/events", "back_label": "Back to the events"}
    heading = f"Replay dead letters of {sink}"

    def refused(reason: str, status: int) -> HTMLResponse:
        page = {"heading": heading, "lines": [f"Nothing was done: {reason}."], "problem": True}
        return render(request, "pages/action_result.html", {**page, **back}, status)

    if sink not in {configured.name for configured in context.settings.events.sinks}:
        return refused(f"no sink named {sink} is configured", 404)
    if event_id is not None and (len(event_id) > _EVENT_ID_CHARS or "\x00" in event_id):
        return refused("that is not an event id", 400)
    try:
        with context.store.transaction() as connection:
            actor = Actor(user.name, ActorKind.CONSOLE_USER)
            lines = replay_dead_letters(connection, sink, event_id, actor=actor, note=note)
    except ReplayRefused as problem:
        return refused(str(problem), 404 if isinstance(problem, NoSuchDeadLetter) else 400)
    shown_id = shown_text(lines[0].event_id, _secrets(context.settings))
    what = f"event {shown_id}" if event_id else f"{len(lines)} dead-lettered event(s)"
    done = f"{user.name} requeued {what} for {sink}; the next drain sends them with their own ids."
    page = {"heading": heading, "lines": [done], "problem": False, **back}
    return render(request, "pages/action_result.html", page)
