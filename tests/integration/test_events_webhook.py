"""The webhook sink over real HTTP on loopback, on SQLite and PostgreSQL: Standard Webhooks
signatures checked by the documented receiver example, retries of 5xx, 429 (Retry-After),
timeouts and lost replies, dead letters after N failures and their requeue with the same ids.
"""

from __future__ import annotations

import importlib.util
import logging
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from config.events import EventsSettings, WebhookSinkSettings, webhook_secret_key
from sync.events.envelope import structured
from sync.events.publisher import PublishReport, publish_sink, sink_filter
from sync.events.webhook_signing import signed_headers
from sync.store import Store
from sync.store.outbox import pending_events, sink_status
from sync.store.outbox_dead_letters import dead_letters, requeue_dead_letters
from tests.integration.events_webhook_harness import (
    DROP,
    HANG,
    OTHER_SECRET,
    SECRET,
    Delivery,
    Reply,
    endpoint,
    webhook_sink,
    write_events,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


receiver = _example()


def _settings(url: str, **overrides: Any) -> WebhookSinkSettings:
    events = EventsSettings.model_validate({"sinks": [webhook_sink(url, **overrides)]})
    [sink] = events.sinks
    assert isinstance(sink, WebhookSinkSettings)
    return sink


def _publish(store: Store, url: str, **overrides: Any) -> PublishReport:
    return publish_sink(store, _settings(url, **overrides), batch_size=7)


def _records(count: int, subjects: int = 4) -> list[dict[str, Any]]:
    return [{"id": f"ord-{n % subjects}", "n": n, "total": n * 10} for n in range(count)]


@pytest.fixture
def example_receiver() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    """The documented receiver, verifying with SECRET: (url, verified (id, event) in order)."""
    verified: list[tuple[str, Any]] = []
    server = receiver.make_server(SECRET, 0, lambda i, e: verified.append((i, e)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/events", verified
    server.shutdown()
    server.server_close()


def test_events_arrive_signed_and_the_receiver_example_verifies_them(
    store: Store, example_receiver: tuple[str, list[tuple[str, Any]]]
) -> None:
    url, verified = example_receiver
    ids = write_events(store, _records(9))

    report = _publish(store, url)

    assert (report.published, report.dead_lettered, report.error) == (9, 0, None)
    assert [webhook_id for webhook_id, _ in verified] == ids  # once each, in commit order
    assert [event["id"] for _, event in verified] == ids  # webhook-id is the CloudEvent id
    assert verified[0][1]["type"] == "com.revbridge.order.created"


def test_during_a_rotation_both_signatures_are_sent_and_either_secret_verifies(
    store: Store, example_receiver: tuple[str, list[tuple[str, Any]]]
) -> None:
    url, verified = example_receiver
    ids = write_events(store, _records(3))
    with endpoint() as raw:
        _publish(store, raw.url, secrets=[OTHER_SECRET, SECRET])
    signatures = raw.deliveries[0].headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    assert all(s.startswith("v1,") for s in signatures)

    report = _publish(store, url, name="rotated", secrets=[OTHER_SECRET, SECRET])

    assert report.published == 3
    assert [webhook_id for webhook_id, _ in verified] == ids


def test_signed_with_a_wrong_secret_every_event_is_refused_and_dead_lettered(
    store: Store, example_receiver: tuple[str, list[tuple[str, Any]]]
) -> None:
    url, verified = example_receiver
    write_events(store, _records(3))

    report = _publish(store, url, secrets=[OTHER_SECRET], attempts=2)

    assert (report.published, report.dead_lettered) == (0, 3)
    assert verified == []
    with store.engine.connect() as connection:
        letters = dead_letters(connection, "hooks")
    assert [letter.attempts for letter in letters] == [2, 2, 2]
    assert "HTTP 401" in letters[0].last_error


def test_the_receiver_example_refuses_an_old_timestamp_and_a_forged_signature(
    example_receiver: tuple[str, list[tuple[str, Any]]],
) -> None:
    url, verified = example_receiver
    body = b'{"id": "e1", "type": "com.revbridge.order.created", "subject": "o"}'
    key = webhook_secret_key(SECRET)
    now = int(time.time())
    old = signed_headers([key], "e1", now - 5 * 60 - 1, body)
    forged = signed_headers([webhook_secret_key(OTHER_SECRET)], "e1", now, body)
    fresh = signed_headers([key], "e1", now, body)
    unsigned = {"webhook-id": "e1", "webhook-timestamp": str(now)}

    answers = [requests.post(url, data=body, headers=h, timeout=5).status_code
               for h in (old, forged, unsigned, fresh)]  # fmt: skip

    assert answers == [401, 401, 401, 204]
    assert [webhook_id for webhook_id, _ in verified] == ["e1"]


def test_an_endpoint_failing_half_the_calls_at_random_still_gets_every_event(
    store: Store,
) -> None:
    ids = write_events(store, _records(40))
    rng = random.Random(19)  # seeded: the same answers on every run
    failures: list[Reply] = [(500, {}), (503, {}), (429, {}), (502, {}), DROP]

    def flaky(_: Delivery) -> Reply:
        return rng.choice(failures) if rng.random() < 0.5 else (200, {})

    with endpoint(flaky) as hooks:
        report = _publish(store, hooks.url, attempts=20)
    received = hooks.ids()
    first_seen = list(dict.fromkeys(received))

    assert (report.published, report.dead_lettered, report.error) == (40, 0, None)
    assert len(received) > 50  # it did fail often, and retries repeated ids
    assert first_seen == ids  # deduped by webhook-id: each exactly once, in commit order
    for delivery in hooks.deliveries:  # every attempt signed afresh, and verifiable
        receiver.verify(SECRET, delivery.headers, delivery.body)


def test_a_429_retry_after_is_honoured_up_to_the_configured_cap(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    [event_id] = write_events(store, _records(1))
    seen: list[str] = []

    def limited(delivery: Delivery) -> Reply:
        seen.append(delivery.headers["webhook-id"])
        return (429, {"Retry-After": "3600"}) if len(seen) == 1 else (204, {})

    with caplog.at_level(logging.INFO, logger="revbridge.events"), endpoint(limited) as hooks:
        report = _publish(store, hooks.url, backoff_seconds=0.001, max_wait_seconds=0.2)

    assert report.published == 1
    assert hooks.ids() == [event_id, event_id]
    [retry] = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    # Backoff alone would wait 0.001s: the 0.20s is the Retry-After, capped.
    assert "HTTP 429" in retry
    assert retry.endswith("next in 0.20s")


@pytest.mark.parametrize("failure", [(500, {}), (503, {"Retry-After": "0"}), DROP, HANG])
def test_a_5xx_a_lost_reply_or_a_timeout_is_retried_until_delivered(
    store: Store, failure: Reply
) -> None:
    ids = write_events(store, _records(3))
    answered: dict[str, int] = {}

    def once_failing(delivery: Delivery) -> Reply:
        webhook_id = delivery.headers["webhook-id"]
        answered[webhook_id] = answered.get(webhook_id, 0) + 1
        return failure if answered[webhook_id] == 1 else (204, {})

    with endpoint(once_failing) as hooks:
        report = _publish(store, hooks.url, timeout_seconds=0.3)

    assert (report.published, report.dead_lettered) == (3, 0)
    assert hooks.ids() == [i for i in ids for _ in range(2)]  # each failed once, then landed


def test_after_n_failures_an_event_is_dead_lettered_and_a_requeue_sends_it_with_its_id(
    store: Store,
) -> None:
    ids = write_events(store, _records(5))
    broken = {ids[1], ids[3]}

    def refusing(delivery: Delivery) -> Reply:
        return (500, {}) if delivery.headers["webhook-id"] in broken else (204, {})

    with endpoint(refusing) as hooks:
        report = _publish(store, hooks.url, attempts=3)
        assert (report.published, report.dead_lettered) == (3, 2)
        assert sorted(hooks.ids().count(i) for i in broken) == [3, 3]
        settings = _settings(hooks.url)
        with store.engine.connect() as connection:
            status = sink_status(connection, sink_filter(settings))
            assert pending_events(connection, sink_filter(settings), 10) == []
        assert (status.pending, status.published, status.dead_lettered) == (0, 3, 2)

        broken.clear()  # the endpoint is fixed
        with store.transaction() as connection:
            assert requeue_dead_letters(connection, "hooks", [ids[3], "not-an-event"]) == 1
        assert _publish(store, hooks.url).published == 1
        with store.transaction() as connection:
            assert requeue_dead_letters(connection, "hooks", None) == 1
        assert _publish(store, hooks.url).published == 1
        with store.engine.connect() as connection:
            status = sink_status(connection, sink_filter(settings))

    assert hooks.ids()[-2:] == [ids[3], ids[1]]  # the same ids, once each
    assert (status.pending, status.published, status.dead_lettered) == (0, 5, 0)


def test_an_endpoint_that_cannot_be_reached_leaves_every_event_waiting_not_dead(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    write_events(store, _records(4))
    with endpoint() as gone:
        url = gone.url  # a port nobody listens on once the endpoint stopped

    report = _publish(store, url, attempts=5)

    assert report.published == 0
    assert report.error is not None
    assert "cannot connect" in report.error
    assert "t0k3n" not in report.error
    settings = _settings(url)
    with store.engine.connect() as connection:
        status = sink_status(connection, sink_filter(settings))
    assert (status.pending, status.dead_lettered, status.failures) == (4, 0, 1)
    assert "t0k3n" not in caplog.text
    assert SECRET not in caplog.text


HOSTILE: list[dict[str, Any]] = [
    {"id": "ord-ctl", "name": "tab\tnew\nline\rbell\x07esc\x1b[31m del\x7f"},
    {"id": "ord-markup", "name": "<script>alert(1)</script> [bold red]x[/] {{7*7}} ${HOME}"},
    {"id": "ord-unicode", "name": "e\u0301 \u202e\u2028 \U0001f4b8 \ufeff", "amount": 1e308},
    {"id": "ord-huge", "name": "x" * 1_000_000, "lines": list(range(20_000))},
    {"id": "ord-types", "name": None, "qty": -0.0, "flags": [True, {"nested": []}]},
]


def test_hostile_payloads_are_signed_and_delivered_byte_exact(store: Store) -> None:
    ids = write_events(store, HOSTILE)
    settings = _settings("http://127.0.0.1:9/")
    with store.engine.connect() as connection:
        expected = [structured(e) for e in pending_events(connection, sink_filter(settings), 10)]

    with endpoint() as hooks:
        report = _publish(store, hooks.url)

    assert report.published == len(HOSTILE)
    assert hooks.ids() == ids
    assert [delivery.body for delivery in hooks.deliveries] == expected
    for delivery in hooks.deliveries:
        receiver.verify(SECRET, delivery.headers, delivery.body)


def test_the_receiver_in_the_docs_is_the_example_file_the_tests_run() -> None:
    guide = (EXAMPLE.parents[1] / "events.md").read_text(encoding="utf-8")
    block = guide.split("## A webhook receiver", 1)[1].split("```python\n", 1)[1]

    assert block.split("```", 1)[0] == EXAMPLE.read_text(encoding="utf-8")


def test_a_drain_starts_no_new_event_past_its_time_and_the_rest_wait_for_the_next(
    store: Store,
) -> None:
    ids = write_events(store, _records(4))
    first_try = {ids[0]}

    def slow_start(delivery: Delivery) -> Reply:
        webhook_id = delivery.headers["webhook-id"]
        if webhook_id in first_try:
            first_try.discard(webhook_id)
            return (500, {})
        return (204, {})

    with endpoint(slow_start) as hooks:
        # The retry's 0.05s wait alone outlasts the 0.01s drain time.
        short = _publish(
            store, hooks.url, attempts=2, backoff_seconds=0.05, max_wait_seconds=0.05,
            drain_seconds=0.01,
        )  # fmt: skip
        rest = _publish(store, hooks.url)

    assert short.published == 1
    assert short.error is not None
    assert "drain time of 0.01s used up" in short.error
    assert short.dead_lettered == 0
    assert rest.published == 3
    assert list(dict.fromkeys(hooks.ids())) == ids
