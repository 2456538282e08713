"""Standard Webhooks signing and the webhook sink's settings and waits."""

from __future__ import annotations

from typing import Any

import pytest
import tenacity
from pydantic import ValidationError

from config.events import EventsSettings, WebhookSinkSettings, webhook_secret_key
from connectors.errors import RateLimited, TransientError
from sync.events.webhook_signing import signature, signed_headers
from sync.events.webhook_sink import _WaitRetryAfterOrBackoff

# The signing example of the Standard Webhooks reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_signature_matches_the_specs_published_example() -> None:
    key = webhook_secret_key(SPEC_SECRET)

    signed = signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert signed == SPEC_SIGNATURE


def test_two_active_secrets_send_two_space_separated_signatures() -> None:
    keys = [webhook_secret_key(SPEC_SECRET), b"k" * 32]

    headers = signed_headers(keys, "e-1", 1614265330, b"{}")

    assert headers["webhook-id"] == "e-1"
    assert headers["webhook-timestamp"] == "1614265330"
    first, second = headers["webhook-signature"].split(" ")
    assert first == signature(keys[0], "e-1", 1614265330, b"{}")
    assert second == signature(keys[1], "e-1", 1614265330, b"{}")
    assert first != second


def _sink(**fields: Any) -> dict[str, Any]:
    return {"name": "hooks", "type": "webhook", "url": "https://hooks.example/in",
            "secrets": [SPEC_SECRET], **fields}  # fmt: skip


def test_a_webhook_sink_keeps_its_url_and_secrets_secret() -> None:
    [sink] = EventsSettings.model_validate({"sinks": [_sink()]}).sinks

    assert isinstance(sink, WebhookSinkSettings)
    assert SPEC_SECRET not in repr(sink)
    assert "hooks.example" not in repr(sink)  # a URL may carry a token
    assert (sink.attempts, sink.backoff_seconds, sink.max_wait_seconds) == (5, 1.0, 60.0)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"secrets": ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}, "starts with whsec_"),
        ({"secrets": ["whsec_not*base64!"]}, "then base64"),
        ({"secrets": ["whsec_c2hvcnQ="]}, "24 to 64 bytes"),
        ({"secrets": []}, "at least 1"),
        ({"secrets": [SPEC_SECRET] * 3}, "at most 2"),
        ({"url": "ftp://hooks.example/in"}, "http(s)"),
        ({"attempts": 0}, "greater than or equal to 1"),
        ({"max_wait_seconds": 0}, "greater than 0"),
        ({"retries": 3}, "Extra inputs"),
    ],
)
def test_a_mistyped_webhook_sink_is_refused_without_quoting_its_secret(
    fields: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        EventsSettings.model_validate({"sinks": [_sink(**fields)]})

    messages = " ".join(str(e["msg"]) for e in refused.value.errors(include_input=False))
    assert problem in messages
    assert "MfKQ9r8" not in messages


def test_two_sinks_with_one_name_are_refused() -> None:
    with pytest.raises(ValidationError, match="name of its own"):
        EventsSettings.model_validate({"sinks": [_sink(), {"name": "hooks"}]})


def _wait_after(error: BaseException, attempt: int, first: float, cap: float) -> float:
    state = tenacity.RetryCallState(tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return _WaitRetryAfterOrBackoff(first, cap)(state)


def test_a_retry_after_is_waited_as_asked_up_to_the_cap_else_the_backoff_doubles() -> None:
    assert _wait_after(RateLimited("429", retry_after=7), 1, 0.5, 60) == 7
    assert _wait_after(RateLimited("429", retry_after=7200), 1, 0.5, 60) == 60
    assert _wait_after(RateLimited("429", retry_after=None), 3, 0.5, 60) == 2.0
    assert [_wait_after(TransientError("500"), n, 0.5, 3) for n in (1, 2, 3, 4)] == [
        0.5,
        1.0,
        2.0,
        3,
    ]
