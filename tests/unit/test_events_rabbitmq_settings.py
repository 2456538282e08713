"""RabbitMQ sink settings: credentials never stay in the URL, typos are refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

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
    assert parameters.client_properties == {"connection_name": "revbridge events sink bus"}


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


def test_the_sinks_example_in_the_docs_is_valid() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    section = guide.read_text(encoding="utf-8").split("## RabbitMQ and webhook sinks", 1)[1]
    text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    values = {
        "RABBITMQ_PASSWORD": "pw",
        "PROVISIONING_WEBHOOK_URL": "https://hooks.example/in",
        "PROVISIONING_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }
    document = YAML(typ="safe").load(text)  # parsed first, as the loader does

    settings = EventsSettings.model_validate(_resolved(document["events"], values))

    assert [sink.type for sink in settings.sinks] == ["rabbitmq", "webhook"]


def _resolved(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _resolved(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item, values) for item in node]
    if isinstance(node, str):
        return re.sub(r"\$\{(\w+)\}", lambda match: values[match[1]], node)
    return node
