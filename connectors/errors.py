"""The one error hierarchy of revbridge's connectors, named by the recovery action.

Every failure that crosses a connector boundary is classified here, once::

    ConnectorError                 anything a connector raises on purpose
    +-- TransientError             retry with backoff (5xx, timeouts, dropped connections, locks)
    |   +-- RateLimited            retry after ``retry_after`` seconds (HTTP 429, API limits)
    +-- RecordRejected             this record can't land as it is: to the error queue
    +-- AuthError                  credentials refused or expired beyond repair: fail the run
    +-- ConfigError                revbridge is set up wrong (URL, object, field): fail the run

The engine acts on the class, never on messages or status codes.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class: a failure classified at a connector boundary."""

    def __init__(self, message: str, *, system: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.system = system

    def __str__(self) -> str:
        return f"[{self.system}] {self.message}" if self.system else self.message


class TransientError(ConnectorError):
    """A failure that is expected to pass: retry the same call later."""


class RateLimited(TransientError):
    """The system asked us to slow down; ``retry_after`` is its hint in seconds, if any."""

    def __init__(self, message: str, *, system: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, system=system)
        self.retry_after = retry_after


class RecordRejected(ConnectorError):
    """The system refused one record for a reason a person must fix (validation, duplicates)."""

    def __init__(
        self,
        message: str,
        *,
        system: str = "",
        code: str = "",
        fields: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, system=system)
        self.code = code
        self.fields = fields


class AuthError(ConnectorError):
    """Credentials were refused; retrying with the same ones will not help."""


class ConfigError(ConnectorError):
    """revbridge's configuration does not match the system (bad URL, unknown object or field)."""
