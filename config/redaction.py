"""Mask configured secrets in log records, CLI output, stored payloads and exception text.

Settings keep secrets as ``SecretStr``, but the values still travel: a client library may put a
request body in an exception, a SOAP envelope may land in an error-queue row. Everything that
leaves the process goes through :class:`Redactor` first. Call :func:`install_redaction` once at
start-up, after loading the settings; from then on every log record is masked when it is
created, whichever handler or formatter later writes it.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import sqlalchemy as sa
from pydantic import BaseModel, SecretStr

from config.settings import Settings

MASK = "***"


def secret_values(settings: BaseModel) -> set[str]:
    """Every ``SecretStr`` value in ``settings`` (nested), plus the database URL's password."""
    found: set[str] = set()
    _collect(settings, found)
    if isinstance(settings, Settings):
        try:
            password = sa.make_url(settings.database_url).password
        except sa.exc.ArgumentError:
            password = None
        if password:
            found.add(str(password))
    return found


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, SecretStr):
        if value.get_secret_value():
            found.add(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)


class Redactor:
    """Replaces every known secret, and its URL- and XML-escaped forms, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._needles: tuple[str, ...] = ()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Mask these values too (empty ones are ignored)."""
        forms = set(self._needles)
        for secret in secrets:
            if secret:
                forms.update({secret, quote(secret, safe=""), quote_plus(secret), escape(secret)})
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            self._needles = tuple(sorted(forms, key=len, reverse=True))

    @property
    def active(self) -> bool:
        """True once there is something to mask."""
        return bool(self._needles)

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, MASK)
        return text

    def mask_payload(self, payload: Any) -> Any:
        """A copy of a JSON-like payload with every string masked (keys too)."""
        if isinstance(payload, str):
            return self.mask(payload)
        if isinstance(payload, dict):
            return {self.mask_payload(k): self.mask_payload(v) for k, v in payload.items()}
        if isinstance(payload, list | tuple):
            return [self.mask_payload(item) for item in payload]
        return payload

    def mask_exception(self, error: BaseException) -> str:
        """The full traceback of ``error`` (causes included), masked."""
        return self.mask("".join(traceback.format_exception(error)))

    def mask_record(self, record: logging.LogRecord) -> None:
        """Mask a log record in place: message, arguments, traceback and stack."""
        if not self.active:
            return
        record.msg, record.args = self.mask(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters print exc_text when set; dropping exc_info keeps them from
            # formatting the raw exception again.
            record.exc_text = self.mask_exception(record.exc_info[1]).rstrip("\n")
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)


class RedactingFilter(logging.Filter):
    """A handler filter that masks each record (for handlers set up outside revbridge)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record and let it through."""
        self._redactor.mask_record(record)
        return True


REDACTOR = Redactor()
_installed = threading.Lock()
_factory_installed = False


def install_redaction(settings: BaseModel) -> Redactor:
    """Mask ``settings``' secrets in every log record from now on; returns the redactor."""
    global _factory_installed  # noqa: PLW0603 - the log record factory is process-wide
    REDACTOR.add(secret_values(settings))
    with _installed:
        if not _factory_installed:
            previous = logging.getLogRecordFactory()

            def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                REDACTOR.mask_record(record)
                return record

            logging.setLogRecordFactory(masked_record)
            _factory_installed = True
    return REDACTOR


def mask(text: str) -> str:
    """``text`` with every secret registered by :func:`install_redaction` masked."""
    return REDACTOR.mask(text)
