"""RabbitMQ sink settings: credentials never stay in the URL, typos are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from config.events import EventsSettings, RabbitMqSinkSettings
from sync.events.rabbitmq_sink import connection_parameters


def _sink(**fields: Any) -> RabbitMqSinkSettings:
    settings = {"name": "bus", "type": "rabbitmq", **fields}
    [sink] = EventsSettings.model_validate({"sinks": [settings]}).sinks
    assert isinstance(sink, RabbitMqSinkSettings)
    return sink


def test_credentials_in_the_url_move_to_username_and_a_secret_password() -> None:
    sink = _sink(url="amqps://ops:p%40ss%2Fw0rd@mq.example:5671/billing")

    assert sink.url == "amqps://mq.example:5671/billing"
    assert sink.username == "ops"
    assert sink.password is not None
    assert sink.password.get_secret_value() == "p@ss/w0rd"
    assert "p@ss" not in repr(sink)
    parameters = connection_parameters(sink)
    assert (parameters.host, parameters.port, parameters.virtual_host) == (
        "mq.example",
        5671,
        "billing",
    )
    assert (parameters.credentials.username, parameters.credentials.password) == (
        "ops",
        "p@ss/w0rd",
    )
    assert parameters.connection_attempts == 1


def test_defaults_are_the_local_broker_and_a_revbridge_exchange() -> None:
    sink = _sink()

    assert (sink.url, sink.exchange, sink.username, sink.password) == (
        "amqp://127.0.0.1:5672/%2F",
        "revbridge",
        None,
        None,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"url": "amqp://ops:one@mq.example/", "password": "two"},  # the password twice
        {"url": "http://mq.example/"},
        {"url": "amqp//mq.example"},
        {"exchange": "has space"},
        {"exchage": "typo"},
    ],
)
def test_a_mistyped_rabbitmq_sink_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _sink(**fields)
