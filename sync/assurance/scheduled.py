"""The reconcile `revbridge serve` runs on a flow's ``reconcile_cron``.

The same reconcile as the command, for one flow, with the unbilled grace of the config. A
target that fails, or a currency without a rate, is one log line and nothing recorded; the
next firing tries again. The findings gauges read the store at scrape time, so they show what
the reconcile recorded as soon as it commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from config.settings import Settings
from connectors.errors import ConnectorError
from mappings.mapping_set import MappingSet
from sync.assurance.reading import reading_settings
from sync.assurance.reconcile import ReconcileRequest, reconcile
from sync.engine.connections import open_connectors
from sync.engine.flows import flows_from_settings
from sync.store import Store

log = logging.getLogger("revbridge.assurance")


def scheduled_reconcile(
    settings: Settings, mapping_set: MappingSet
) -> Callable[[Store, str], None]:
    """A job reconciling one flow (by name) into ``store``, for serve's scheduler."""
    flows = flows_from_settings(settings)
    reading = reading_settings(settings)

    def reconcile_flow(store: Store, name: str) -> None:
        request = ReconcileRequest(
            flows=[flows[name]], settings=settings, grace_days=settings.assurance.unbilled_days
        )
        try:
            with open_connectors(reading) as connectors:
                report = reconcile(store, mapping_set, connectors, request)
        except ConnectorError as error:
            log.error("reconcile of flow %s failed, nothing recorded: %s", name, error)
            return
        outcome = report.outcome
        log.info(
            "reconcile of flow %s: %d findings (%d new, %d resolved)",
            name,
            len(report.findings),
            outcome.new,
            outcome.resolved,
            extra={
                "findings": len(report.findings),
                "new_findings": outcome.new,
                "resolved_findings": outcome.resolved,
            },
        )

    return reconcile_flow
