"""A flow's job besides its runs (a scheduled reconcile), done while holding the flow's lease.

The lease that keeps two runs of a flow apart keeps a run and its reconcile apart too: a
reconcile that read a target while a run wrote to it would report objects in flight as missing
or drifted. It also means one replica reconciles a flow at a time. A flow that is busy at the
firing skips it; the next firing tries again. The service runs the job it is handed and knows
nothing of what it does (the CLI wires the reconcile in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sync.service.flow_runner import ServeContext
from sync.service.logs import run_context
from sync.store import Store

log = logging.getLogger("revbridge.serve")

# What to do for one flow: gets serve's store and the flow's name.
StoreJob = Callable[[Store, str], None]


class LeasedJob:
    """Runs ``job`` for a flow under the flow's lease, heartbeating while it lasts."""

    def __init__(self, context: ServeContext, job: StoreJob, what: str) -> None:
        self._context = context
        self._job = job
        self._what = what

    def __call__(self, name: str) -> bool:
        """Do the job for flow ``name``; False when it did not run (busy, or stopping)."""
        context = self._context
        if context.stopping.is_set():
            return False
        lease = context.lease_for(name)
        with run_context(flow=name):
            if not lease.acquire():
                log.info("%s of flow %s skipped: the flow is busy", self._what, name)
                return False
            lease.start_heartbeat()
            try:
                self._job(context.store, name)
            finally:
                lease.release()
        return True
