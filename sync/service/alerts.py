"""Alerts to a Slack-compatible webhook: a failed run, or an error queue past its threshold.

The queue alert fires when a run takes the active count from below the threshold to at or
above it, not on every run while it stays high, so a channel is not flooded. Messages carry a
summary and the command to inspect it, are scrubbed of every configured secret, and the
webhook URL (itself a secret) is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import requests

from config.redaction import Redactor
from config.settings import AlertSettings
from sync.engine.stats import RunSummary
from sync.store.schema import RunStatus

log = logging.getLogger("revbridge.alerts")


def failed_run_text(summary: RunSummary, config_args: str) -> str:
    """The alert for a run that failed."""
    return (
        f"revbridge: run {summary.run_id} of flow `{summary.flow}` failed: {summary.message}\n"
        f"Inspect it with `revbridge runs --flow {summary.flow}{config_args}` "
        f"and `revbridge errors list --status open{config_args}`."
    )


def error_queue_text(summary: RunSummary, threshold: int, config_args: str) -> str:
    """The alert for an error queue that grew past ``threshold``."""
    return (
        f"revbridge: the error queue holds {summary.error_queue_active} active entries "
        f"(threshold {threshold}) after run {summary.run_id} of flow `{summary.flow}` "
        f"({summary.rejected} rejected in that run).\n"
        f"Review them with `revbridge errors list --status open{config_args}`."
    )


def crashed_run_text(flow: str, error: Exception, config_path: Path | None) -> str:
    """The alert for a run that ended in an unexpected error (a bug or a store outage)."""
    config_args = f" --config {config_path}" if config_path is not None else ""
    return (
        f"revbridge: flow `{flow}` crashed with {type(error).__name__}; see the serve logs.\n"
        f"Check the store and the flow with `revbridge status{config_args}`."
    )


class AlertSender:
    """Posts alerts for finished runs to the configured webhook, if any."""

    def __init__(
        self,
        settings: AlertSettings,
        *,
        secrets: Iterable[str] = (),
        config_path: Path | None = None,
        http: requests.Session | None = None,
    ) -> None:
        self._settings = settings
        self._mask = Redactor(secrets).mask
        self._config_args = f" --config {config_path}" if config_path is not None else ""
        self._http = http or requests.Session()

    def alerts_for(self, summary: RunSummary, active_before: int) -> list[str]:
        """The alert texts a finished run calls for (none when all is well)."""
        texts = []
        if summary.status is RunStatus.FAILED:
            texts.append(failed_run_text(summary, self._config_args))
        threshold = self._settings.error_queue_threshold
        if active_before < threshold <= summary.error_queue_active:
            texts.append(error_queue_text(summary, threshold, self._config_args))
        return [self._mask(text) for text in texts]

    def run_finished(self, summary: RunSummary, active_before: int) -> list[str]:
        """Post the alerts ``summary`` calls for; the texts that were delivered."""
        return [text for text in self.alerts_for(summary, active_before) if self.post(text)]

    def post(self, text: str) -> bool:
        """Send one message (masked); False (and a log line) when no webhook is set or it failed."""
        text = self._mask(text)
        if self._settings.webhook_url is None:
            log.info("alert (no webhook configured): %s", text)
            return False
        url = self._settings.webhook_url.get_secret_value()
        try:
            response = self._http.post(
                url, json={"text": text}, timeout=self._settings.timeout_seconds
            )
        except requests.RequestException as error:
            # The exception's text may hold the URL: log its class only.
            log.warning("alert webhook unreachable (%s); alert was: %s", type(error).__name__, text)
            return False
        if not response.ok:
            log.warning("alert webhook answered HTTP %d; alert was: %s", response.status_code, text)
            return False
        return True

    def close(self) -> None:
        """Close the HTTP session."""
        self._http.close()
