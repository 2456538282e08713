"""Change events: the outbox's events as CloudEvents, and the publisher that drains it to sinks."""
