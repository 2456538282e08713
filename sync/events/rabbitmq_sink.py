"""A RabbitMQ sink: a durable topic exchange, routing key ``<entity>.<change>``.

Messages are persistent (delivery mode 2) and the channel is in publisher-confirm mode: an
event counts as sent only once the broker confirmed it. ``message_id`` is the event id, so
consumers dedupe a republished event. A message no queue is bound for is dropped by the
broker, as any topic exchange does: bind the queues before events flow.

pika's BlockingConnection is not thread-safe; :class:`~sync.events.sink.InWorkerThread` keeps
every call of one drain on one thread.
"""

from __future__ import annotations

import contextlib
import logging

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from config.events import RabbitMqSinkSettings
from sync.events.envelope import CONTENT_TYPE, event_type, structured
from sync.events.sink import SinkUnavailable
from sync.store.outbox import OutboxEvent

# pika logs every failed connection workflow with a traceback at ERROR; the sink reports it
# once, as one line, through the publisher.
logging.getLogger("pika").setLevel(logging.CRITICAL)


def routing_key(event: OutboxEvent) -> str:
    """``<entity>.<change>``, e.g. ``order.updated``."""
    return f"{event.entity}.{event.change.value}"


def connection_parameters(settings: RabbitMqSinkSettings) -> pika.URLParameters:
    """The URL's host, port and vhost, the settings' login, one attempt within the deadline."""
    parameters = pika.URLParameters(settings.url)
    if settings.username is not None or settings.password is not None:
        password = settings.password.get_secret_value() if settings.password else ""
        parameters.credentials = pika.PlainCredentials(settings.username or "guest", password)
    parameters.connection_attempts = 1
    parameters.socket_timeout = settings.timeout_seconds
    parameters.stack_timeout = settings.timeout_seconds
    parameters.blocked_connection_timeout = settings.timeout_seconds
    return parameters


class RabbitMqSink:
    """One connection and confirming channel for one drain (a :class:`BlockingSink`)."""

    def __init__(self, settings: RabbitMqSinkSettings) -> None:
        """Keep the settings; :meth:`open` connects."""
        self.settings = settings
        parameters = connection_parameters(settings)
        self._parameters = parameters
        self.broker = f"{parameters.host}:{parameters.port}"
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def open(self) -> None:
        """Connect, declare the exchange (durable, topic) and turn on publisher confirms."""
        try:
            self._connection = pika.BlockingConnection(self._parameters)
            self._channel = self._connection.channel()
            self._channel.exchange_declare(
                self.settings.exchange, exchange_type="topic", durable=True
            )
            self._channel.confirm_delivery()
        except pika.exceptions.ProbableAuthenticationError:
            self.close()
            raise self._unavailable("RabbitMQ refused the login: check the credentials") from None
        except pika.exceptions.ProbableAccessDeniedError:
            self.close()
            raise self._unavailable("RabbitMQ refused access to the virtual host") from None
        except pika.exceptions.ChannelClosedByBroker as error:
            self.close()  # e.g. the exchange exists with another type
            raise self._unavailable(f"RabbitMQ refused the exchange: {error.reply_text}") from None
        except (pika.exceptions.AMQPError, OSError):
            self.close()
            raise self._unavailable("cannot connect to RabbitMQ") from None

    def close(self) -> None:
        """Close the connection, whatever state it is in."""
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    def send(self, event: OutboxEvent) -> None:
        """Publish one event and wait for the broker's confirm."""
        assert self._channel is not None, "open the sink first"
        properties = pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            type=event_type(event.entity, event.change.value),
            timestamp=int(event.occurred_at.timestamp()),
        )
        try:
            self._channel.basic_publish(
                self.settings.exchange, routing_key(event), structured(event), properties
            )
        except pika.exceptions.NackError:
            raise self._unavailable("RabbitMQ did not confirm an event (nack)") from None
        except (pika.exceptions.AMQPError, OSError):
            raise self._unavailable("the connection to RabbitMQ was lost") from None

    def _unavailable(self, message: str) -> SinkUnavailable:
        return SinkUnavailable(message, system=f"rabbitmq {self.broker}")
