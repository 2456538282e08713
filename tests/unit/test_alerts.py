"""Webhook alerts: a failed run or an error queue crossing its threshold posts once, no secrets."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import AlertSettings
from sync.engine.stats import RunSummary
from sync.service.alerts import AlertSender
from sync.store.schema import RunStatus
from tests.serve_harness import WebhookReceiver

SECRET = "marker-pass-51c0de"
WEBHOOK_TOKEN = "T000/B000/marker-hook-9e1f"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def failing_webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(status=500) as server:
        yield server


def _sender(url: str, threshold: int = 10) -> AlertSender:
    settings = AlertSettings(webhook_url=SecretStr(url), error_queue_threshold=threshold)
    return AlertSender(settings, secrets=[SECRET, url], config_path=Path("config/revbridge.yaml"))


def _summary(status: RunStatus, active: int = 0, message: str | None = None) -> RunSummary:
    summary = RunSummary(run_id=12, flow="quote-to-cash", status=status, message=message)
    summary.error_queue_active = active
    return summary


def _url(server: WebhookReceiver) -> str:
    return f"{server.url}/services/{WEBHOOK_TOKEN}"


def test_a_failed_run_posts_a_slack_message_with_the_command_to_inspect_it(
    webhook: WebhookReceiver,
) -> None:
    sender = _sender(_url(webhook))
    message = f"AuthError: login refused for password {SECRET}"

    delivered = sender.run_finished(_summary(RunStatus.FAILED, message=message), 0)

    (post,) = webhook.posts
    assert post["path"] == f"/services/{WEBHOOK_TOKEN}"
    assert post["type"] == "application/json"
    assert list(post["body"]) == ["text"]
    text = post["body"]["text"]
    assert delivered == [text]
    assert "run 12 of flow `quote-to-cash` failed: AuthError" in text
    assert "revbridge errors list --status open --config config/revbridge.yaml" in text
    assert "revbridge runs --flow quote-to-cash" in text
    assert SECRET not in text
    assert "***" in text


def test_an_error_queue_crossing_the_threshold_alerts_once(webhook: WebhookReceiver) -> None:
    sender = _sender(_url(webhook), threshold=10)

    sender.run_finished(_summary(RunStatus.PARTIAL, active=9), 3)  # below: quiet
    sender.run_finished(_summary(RunStatus.PARTIAL, active=12), 9)  # crosses: alert
    sender.run_finished(_summary(RunStatus.PARTIAL, active=15), 12)  # still above: quiet

    (post,) = webhook.posts
    text = post["body"]["text"]
    assert "error queue holds 12 active entries (threshold 10)" in text
    assert "revbridge errors list --status open" in text


def test_a_successful_run_posts_nothing(webhook: WebhookReceiver) -> None:
    assert _sender(_url(webhook)).run_finished(_summary(RunStatus.SUCCEEDED), 0) == []
    assert webhook.posts == []


def test_a_webhook_error_is_logged_without_its_url(
    failing_webhook: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    sender = _sender(_url(failing_webhook))
    with caplog.at_level(logging.INFO, logger="revbridge.alerts"):
        delivered = sender.run_finished(_summary(RunStatus.FAILED, message="boom"), 0)

    assert delivered == []
    assert len(failing_webhook.posts) == 1
    assert "HTTP 500" in caplog.text
    assert WEBHOOK_TOKEN not in caplog.text


def test_an_unreachable_webhook_is_logged_without_its_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with WebhookReceiver() as server:
        url = _url(server)
    # Nothing listens on that port any more.
    with caplog.at_level(logging.INFO, logger="revbridge.alerts"):
        delivered = _sender(url).run_finished(_summary(RunStatus.FAILED, message="boom"), 0)

    assert delivered == []
    assert "unreachable (ConnectionError)" in caplog.text
    assert WEBHOOK_TOKEN not in caplog.text
