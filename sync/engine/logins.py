"""Each target's login, checked once as a run starts.

A run writes a target only when the source has something new, so without this, wrong
billing or ERP credentials would go unnoticed by every run until Salesforce changed: the run
would succeed having written nothing. One cheap authenticated call per target (the
connector's ``check``), all at once, counted in the run's API calls like any other. A target
that is only down for now does not fail the run here: the run fails if it has something to
send it, and otherwise has nothing to lose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from connectors.base import Connector
from connectors.concurrent_calls import call_all
from connectors.errors import TransientError

log = logging.getLogger("revbridge.sync")


def check_target_logins(connectors: Mapping[str, Connector], targets: Sequence[str]) -> None:
    """Call each target's ``check`` once, at the same time; the first refusal is raised."""
    systems = [system for system in dict.fromkeys(targets) if system in connectors]
    call_all([_login(connectors[system]) for system in systems], limit=len(systems), name="login")


def _login(connector: Connector) -> Callable[[], None]:
    def check() -> None:
        try:
            connector.check()
        except TransientError as down:
            log.warning("target %s unreachable as the run starts: %s", connector.system, down)

    return check
