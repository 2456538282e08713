"""Structured logs: human lines by default, JSON lines on request, run context on every line.

The run a line belongs to (run id, flow) is carried in a context variable set by whoever runs
the flow, so code deep in the engine needs no logger plumbing. Secret values are masked by
``config.redaction`` before any line is written.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from config.redaction import REDACTOR, RedactingFilter

# Attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_REJECTION = re.compile(
    r"rejected (?P<entity>\S+) (?P<record_id>\S+) at (?P<stage>\w+)"
    r"(?: for (?P<target_system>\S+))?:"
)
_CONTEXT_ORDER = ("run_id", "flow", "entity", "record_id", "stage", "target_system")

_run_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "revbridge_run_context", default=None
)


class LogFormat(StrEnum):
    """How log lines are written."""

    HUMAN = "human"
    JSON = "json"


@contextmanager
def run_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (flow, run_id, ...) to every line logged in this context."""
    current = dict(_run_context.get() or {})
    current.update(fields)
    token = _run_context.set(current)
    try:
        yield
    finally:
        _run_context.reset(token)


def bind_run_context(**fields: Any) -> None:
    """Add ``fields`` to the current run context (e.g. the run id once it is known)."""
    current = _run_context.get()
    if current is not None:
        current.update(fields)


class RunContextFilter(logging.Filter):
    """Puts the run context, and the record of a rejection line, on each log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add context attributes that the record does not already carry."""
        for key, value in (_run_context.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        _add_rejection_fields(record)
        return True


def _add_rejection_fields(record: logging.LogRecord) -> None:
    # The engine logs a rejection as "rejected <entity> <source id> at <stage>[ for <target>]:
    # ..."; lift those into fields until it passes them as `extra` itself. Parsed from the
    # message, since redaction may have already merged the arguments into it.
    if record.name != "revbridge.sync":
        return
    match = _REJECTION.match(record.getMessage())
    if match is None:
        return
    for key, value in match.groupdict().items():
        if value is not None and not hasattr(record, key):
            setattr(record, key, value)


def context_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields of ``record``: run context first, then any other extras."""
    extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
    ordered = {key: extras.pop(key) for key in _CONTEXT_ORDER if key in extras}
    return {**ordered, **dict(sorted(extras.items()))}


class HumanFormatter(logging.Formatter):
    """``time LEVEL logger [key=value ...] message``, one line (tracebacks indented)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` for a person reading a terminal or journal."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        # Nested fields (per-system counts) are for machines; the message already says them.
        fields = " ".join(
            f"{k}={v}" for k, v in context_fields(record).items() if not isinstance(v, dict | list)
        )
        line = f"{stamp.removesuffix('+00:00')}Z {record.levelname} {record.name} "
        line += f"[{fields}] " if fields else ""
        line += record.getMessage()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and every context field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` for a log pipeline."""
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_fields(record),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            document["exception"] = record.exc_text
        return json.dumps(document, default=str)


def configure_logging(
    log_format: LogFormat = LogFormat.HUMAN,
    *,
    level: int = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every logger's lines to ``stream`` (stderr) in ``log_format``; the handler used."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if log_format is LogFormat.JSON else HumanFormatter()
    handler.setFormatter(formatter)
    handler.addFilter(RunContextFilter())
    # Secrets are masked when each record is created (config.redaction.install_redaction);
    # this also masks records of loggers created before that was installed.
    handler.addFilter(RedactingFilter(REDACTOR))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    if log_format is LogFormat.JSON:
        _route_stray_output()
    return handler


def _route_stray_output() -> None:
    """Send warnings and uncaught exceptions through logging, not bare to stderr.

    Otherwise a thread's crash or a library's warning would print a plain-text traceback into
    a ``--log-format json`` stream, which a log shipper can't parse.
    """
    logging.captureWarnings(True)
    crashes = logging.getLogger("revbridge.crash")

    def log_thread_crash(crash: threading.ExceptHookArgs) -> None:
        if crash.exc_type is SystemExit or crash.exc_value is None:
            return
        thread = crash.thread.name if crash.thread is not None else "?"
        exc_info = (crash.exc_type, crash.exc_value, crash.exc_traceback)
        crashes.error("thread %s stopped on an uncaught exception", thread, exc_info=exc_info)

    threading.excepthook = log_thread_crash
