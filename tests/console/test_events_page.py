"""The events page on SQLite and PostgreSQL: each sink's counts, its dead letters linked to the
record's journey, and a replay through the form (support only, CSRF-checked, audited) that the
next drain sends with the same ids; hostile values are text and no sink secret is shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from markupsafe import escape

from config.events import EventsSettings
from sync.console.auth import CSRF_HEADER
from sync.console.context import ConsoleContext
from sync.events.publisher import publish_all
from sync.store import Store
from sync.store.audit import AuditAction, list_audit
from sync.store.outbox import mark_published, note_failure, outbox_events
from sync.store.outbox_dead_letters import NewDeadLetter, add_dead_letters, dead_letters
from tests.console.conftest import SECRET_VALUES, ConsoleClient
from tests.integration.events_webhook_harness import (
    SECRET,
    Delivery,
    Endpoint,
    Reply,
    endpoint,
    webhook_sink,
    write_events,
)

HOSTILE_REASON = 'HTTP 500 <script>window.__xss="reason"</script>\x1b[31m red\x07'
HOSTILE_EVENT_ID = '<b id="x">evt</b>\x1b[2J"\x00'[:-1]  # 31 characters, no NUL
HOSTILE_SUBJECT = "<img src=x onerror=alert(1)>\x0b&amp;"
AMQP_PASSWORD = "amqp-pass-Hq73"
WEBHOOK_TOKEN = "wh-url-token-Lr55"
NATS_PASSWORD = "nats-pass-Vb19"
SIGNING_KEY = SECRET.removeprefix("whsec_")  # the harness's webhook signing secret
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def console_context(console_context: ConsoleContext) -> ConsoleContext:
    """The console on Dec 1, 2026, at noon."""
    return replace(console_context, clock=lambda: NOW)


def _sinks(hook_url: str) -> EventsSettings:
    """A webhook sink (its URL holds a token), a RabbitMQ sink with a password, a NATS one."""
    rabbit = {"name": "rabbit", "type": "rabbitmq", "url": f"amqp://ops:{AMQP_PASSWORD}@h:1/%2F"}
    nats = {"name": "bus", "url": f"nats://u:{NATS_PASSWORD}@127.0.0.1:9", "entities": ["invoice"]}
    return EventsSettings.model_validate({"sinks": [webhook_sink(hook_url), rabbit, nats]})


def _refuse_all(_: Delivery) -> Reply:
    return 500, {}


@pytest.fixture
def hook(console_context: ConsoleContext) -> Iterator[Endpoint]:
    """A loopback webhook endpoint (failing until a test says otherwise) the console knows."""
    with endpoint(_refuse_all) as running:
        running.url += WEBHOOK_TOKEN
        console_context.settings.events = _sinks(running.url)
        yield running


def _dead_letter(store: Store, sink: str, ids: list[str], reason: str) -> None:
    with store.transaction() as connection:
        found = sa.select(outbox_events.c.event_id, outbox_events.c.sequence)
        sequences = dict(connection.execute(found.where(outbox_events.c.event_id.in_(ids))).all())
        letters = [NewDeadLetter(sequences[i], i, 4, reason) for i in ids]
        add_dead_letters(connection, sink, letters)


@pytest.fixture
def seeded(store: Store, hook: Endpoint) -> list[str]:
    """Four order events: the first published to hooks, the next two dead-lettered there."""
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(4)])
    with store.transaction() as connection:
        mark_published(connection, "hooks", [1])
        note_failure(connection, "rabbit", f"AMQPConnectionError: {AMQP_PASSWORD} <i>refused")
        note_failure(connection, "bus", f"NoServersError: nats://u:{NATS_PASSWORD}@127.0.0.1:9")
    _dead_letter(store, "hooks", ids[1:3], HOSTILE_REASON + hook.url)
    return ids


def _cells(page: str, sink: str) -> dict[str, str]:
    row = re.search(rf'<tr data-sink="{sink}">(.*?)</tr>', page, re.S)
    assert row is not None, sink
    found = re.findall(r'<td class="(?:count |age)([a-z-]*)">([^<]*)</td>', row.group(1))
    return {name or "age": value for name, value in found}


def _listed(page: str) -> list[tuple[str, str]]:
    rows = re.findall(r'<tr data-sink="([a-z-]+)" data-sequence="(\d+)">', page)
    return [(sink, sequence) for sink, sequence in rows]


def test_the_page_shows_each_sinks_counts_and_its_dead_letters_linked_to_the_journey(
    seeded: list[str], console_context: ConsoleContext, viewer_client: ConsoleClient
) -> None:
    page = viewer_client.get("/events")
    assert page.status_code == 200
    hooks = _cells(page.text, "hooks")
    assert (hooks["pending"], hooks["published"], hooks["dead-lettered"]) == ("1", "1", "2")
    assert hooks["failures"] == "0"
    rabbit = _cells(page.text, "rabbit")
    assert (rabbit["pending"], rabbit["failures"], rabbit["dead-lettered"]) == ("4", "1", "0")
    assert _cells(page.text, "bus")["pending"] == "0"  # it takes invoices only
    assert _cells(page.text, "bus")["age"] == "-"
    assert _listed(page.text) == [("hooks", "2"), ("hooks", "3")]
    assert 'href="/journey?id=ord-1"' in page.text
    assert seeded[1] in page.text
    assert "com.revbridge.order.created" in page.text
    assert "/replay" not in page.text  # a viewer gets no replay form
    # Last errors name the broker; the passwords configured for it are blanked.
    assert "AMQPConnectionError: [secret] &lt;i&gt;refused" in page.text
    assert "NoServersError: nats://u:[secret]@127.0.0.1:9" in page.text
    assert [s for s in (AMQP_PASSWORD, NATS_PASSWORD, WEBHOOK_TOKEN) if s in page.text] == []


def test_the_oldest_pending_events_age_is_shown(
    seeded: list[str], store: Store, viewer_client: ConsoleClient
) -> None:
    with store.transaction() as connection:
        connection.execute(sa.update(outbox_events).values(occurred_at=NOW - timedelta(minutes=30)))
    page = viewer_client.get("/events").text
    assert _cells(page, "rabbit")["age"] == "30.0 min"
    assert _cells(page, "hooks")["age"] == "30.0 min"


def test_support_replays_one_dead_letter_and_the_next_drain_sends_it_with_its_id(
    seeded: list[str], store: Store, hook: Endpoint, support_client: ConsoleClient
) -> None:
    answer = support_client.post(
        "/events/hooks/replay", data={"event_id": seeded[2], "note": "endpoint fixed <b>"}
    )
    assert answer.status_code == 200, answer.text
    assert f"support-user requeued event {seeded[2]} for hooks" in answer.text
    with store.engine.connect() as connection:
        assert [letter.event_id for letter in dead_letters(connection, "hooks")] == [seeded[1]]
        (entry,) = list_audit(connection)
    assert (entry.actor, entry.action, entry.note) == (
        "support-user", AuditAction.EVENT_REPLAY, "endpoint fixed <b>"
    )  # fmt: skip
    assert [(ref.entity, ref.canonical_id) for ref in entry.records] == [("order", "ord-2")]
    hook.answer = lambda _: (204, {})
    settings = EventsSettings.model_validate({"sinks": [webhook_sink(hook.url)]})
    publish_all(store, settings)
    assert hook.ids() == [seeded[2], seeded[3]]  # the replayed one first, with its own id


def test_replay_all_requeues_every_dead_letter_of_the_sink_in_order(
    seeded: list[str], store: Store, hook: Endpoint, admin_client: ConsoleClient
) -> None:
    answer = admin_client.post("/events/hooks/replay", data={"note": "receiver was down"})
    assert answer.status_code == 200, answer.text
    assert "requeued 2 dead-lettered event(s) for hooks" in answer.text
    with store.engine.connect() as connection:
        assert dead_letters(connection, "hooks") == []
        (entry,) = list_audit(connection)
    assert [ref.canonical_id for ref in entry.records] == ["ord-1", "ord-2"]
    hook.answer = lambda _: (204, {})
    publish_all(store, EventsSettings.model_validate({"sinks": [webhook_sink(hook.url)]}))
    assert hook.ids() == seeded[1:]
    page = admin_client.get("/events")
    assert _listed(page.text) == []
    assert "No sink holds a dead letter." in page.text


@pytest.mark.parametrize(
    ("path", "form", "status", "line"),
    [
        ("/events/hooks/replay", {"event_id": "no-such-id", "note": "x"}, 404,
         "sink hooks holds no dead letter with this event id"),
        ("/events/rabbit/replay", {"note": "x"}, 404, "sink rabbit holds no dead letters"),
        ("/events/gone/replay", {"note": "x"}, 404, "no sink named gone is configured"),
        ("/events/hooks/replay", {"note": "  "}, 400, "the note is empty"),
        ("/events/hooks/replay", {"note": "x" * 2001}, 400, "the note has 2001 characters"),
        ("/events/hooks/replay", {"event_id": "a\x00b", "note": "x"}, 400,
         "that is not an event id"),
        ("/events/hooks/replay", {"event_id": "x" * 37, "note": "x"}, 400,
         "that is not an event id"),
    ],
)  # fmt: skip
def test_a_replay_that_cannot_be_done_says_why_and_changes_nothing(
    seeded: list[str],
    store: Store,
    support_client: ConsoleClient,
    path: str,
    form: dict[str, str],
    status: int,
    line: str,
) -> None:
    answer = support_client.post(path, data=form)
    assert answer.status_code == status
    assert f"Nothing was done: {line}" in answer.text
    with store.engine.connect() as connection:
        assert len(dead_letters(connection, "hooks")) == 2
        assert list_audit(connection) == []


def test_a_viewer_or_a_request_without_the_csrf_token_may_not_replay(
    seeded: list[str], store: Store, viewer_client: ConsoleClient, support_client: ConsoleClient
) -> None:
    by_viewer = viewer_client.post("/events/hooks/replay", data={"note": "x"})
    support_client.headers.pop(CSRF_HEADER)
    without_token = support_client.post("/events/hooks/replay", data={"note": "x"})
    assert (by_viewer.status_code, without_token.status_code) == (403, 403)
    with store.engine.connect() as connection:
        assert len(dead_letters(connection, "hooks")) == 2


def test_hostile_ids_subjects_and_reasons_are_text_and_no_secret_is_shown(
    store: Store, hook: Endpoint, support_client: ConsoleClient
) -> None:
    (first,) = write_events(store, [{"id": HOSTILE_SUBJECT}])
    with store.transaction() as connection:
        connection.execute(
            sa.update(outbox_events)
            .where(outbox_events.c.event_id == first)
            .values(event_id=HOSTILE_EVENT_ID)
        )
    _dead_letter(store, "hooks", [HOSTILE_EVENT_ID], HOSTILE_REASON + " " + hook.url)
    page = support_client.get("/events").text
    for hostile in (HOSTILE_REASON, HOSTILE_EVENT_ID, HOSTILE_SUBJECT):
        assert hostile not in page
    assert str(escape('HTTP 500 <script>window.__xss="reason"</script>\\x1b[31m red\\x07')) in page
    assert str(escape('<b id="x">evt</b>\\x1b[2J"')) in page
    assert str(escape("<img src=x onerror=alert(1)>\\x0b&amp;")) in page
    assert "[secret]" in page  # the webhook URL in the reason is blanked
    secrets = (*SECRET_VALUES, AMQP_PASSWORD, NATS_PASSWORD, WEBHOOK_TOKEN, SIGNING_KEY)
    assert [secret for secret in secrets if secret in page] == []
    # The replay form carries the real id, escaped in its attribute, and replays that event.
    replayed = support_client.post(
        "/events/hooks/replay", data={"event_id": HOSTILE_EVENT_ID, "note": "checked"}
    )
    assert replayed.status_code == 200, replayed.text
    assert HOSTILE_EVENT_ID not in replayed.text
    with store.engine.connect() as connection:
        assert dead_letters(connection, "hooks") == []


def test_dead_letters_are_paged_by_keyset(
    store: Store, hook: Endpoint, viewer_client: ConsoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sync.console.views.pages_events.SHOWN_ROWS", 2)
    ids = write_events(store, [{"id": f"ord-{n}"} for n in range(5)])
    _dead_letter(store, "hooks", ids, "HTTP 500")
    _dead_letter(store, "rabbit", ids[:1], "HTTP 500")
    first = viewer_client.get("/events").text
    assert _listed(first) == [("hooks", "1"), ("hooks", "2")]
    pages = [first]
    while (found := re.search(r'id="next-page" href="([^"]+)"', pages[-1])) is not None:
        pages.append(viewer_client.get(found.group(1).replace("&amp;", "&")).text)
    listed = [row for page in pages for row in _listed(page)]
    hooks = [("hooks", str(n)) for n in range(1, 6)]
    assert listed == [*hooks, ("rabbit", "1")]
    assert viewer_client.get("/events", params={"after_sink": "<b>"}).status_code == 422
    assert viewer_client.get("/events", params={"after": "-1"}).status_code == 422


def test_without_sinks_the_page_says_so(
    console_context: ConsoleContext, viewer_client: ConsoleClient
) -> None:
    page = viewer_client.get("/events")
    assert page.status_code == 200
    assert "No event sink is configured" in page.text
    assert viewer_client.post("/events/hooks/replay", data={"note": "x"}).status_code == 403


def test_the_nav_links_to_the_events_page(viewer_client: ConsoleClient) -> None:
    assert 'href="/events"' in viewer_client.get("/").text


def test_events_a_failing_endpoint_gave_up_on_are_listed_replayed_and_delivered_once_fixed(
    store: Store, hook: Endpoint, support_client: ConsoleClient
) -> None:
    ids = write_events(store, [{"id": "ord-7"}, {"id": "ord-8"}])
    only_hooks = EventsSettings.model_validate({"sinks": [webhook_sink(hook.url)]})
    publish_all(store, only_hooks)  # the endpoint answers 500 to every attempt
    assert hook.ids() == [ids[0]] * 4 + [ids[1]] * 4
    page = support_client.get("/events").text
    assert _cells(page, "hooks")["dead-lettered"] == "2"
    assert _listed(page) == [("hooks", "1"), ("hooks", "2")]
    assert WEBHOOK_TOKEN not in page
    replayed = support_client.post("/events/hooks/replay", data={"note": "endpoint is back"})
    assert replayed.status_code == 200, replayed.text
    hook.answer = lambda _: (204, {})
    hook.deliveries.clear()
    publish_all(store, only_hooks)
    assert hook.ids() == ids
    assert _cells(support_client.get("/events").text, "hooks")["published"] == "2"


def test_a_huge_reason_is_cut_to_a_readable_length(
    store: Store, hook: Endpoint, viewer_client: ConsoleClient
) -> None:
    (event_id,) = write_events(store, [{"id": "ord-1"}])
    _dead_letter(store, "hooks", [event_id], "y" * 50_000)
    page = viewer_client.get("/events").text
    assert "y" * 499 + "…" in page
    assert "y" * 500 not in page
