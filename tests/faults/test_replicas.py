"""Three real ``revbridge serve`` replicas on one store: one run at a time, crash takeover.

The replica holding the flow's lease is SIGKILLed in the middle of a page of billing writes (a
request gate on the billing sandbox stops it at that exact point). Another replica takes the
lease over once it expires, marks the crashed run failed, and resumes from the last committed
page; downstream ends exactly as after one clean run, every record created once.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from sync.cli.sandboxes import Sandboxes
from sync.store import Store
from sync.store.leases import load_lease
from sync.store.schema import RunStatus, runs
from tests.faults.test_kill_resume import _created_once, _downstream_state, _reference_state
from tests.serve_harness import PAGED, ServeProcess, wait_until, write_serve_config

pytestmark = pytest.mark.slow
FLOW = "quote-to-cash"


@pytest.fixture(scope="module")
def reference_state() -> dict[str, set[str]]:
    return _reference_state()


def _lease_owner(store: Store) -> str | None:
    with store.engine.connect() as connection:
        lease = load_lease(connection, FLOW)
    return lease.owner if lease is not None else None


def _skipped(line: dict[str, object]) -> bool:
    return "running on another replica" in str(line["message"])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_killed_replica_flow_is_resumed_by_another_with_no_duplicates(
    tmp_path: Path,
    database_url: str,
    store: Store,
    reference_state: dict[str, set[str]],
) -> None:
    with Sandboxes(PAGED) as sandboxes:
        config = write_serve_config(tmp_path / "revbridge.yaml", sandboxes, database_url)
        # Hold the second order batch: 100 orders of page one are in billing, none committed.
        gate = sandboxes.billing.server.hold_requests("POST", "/v1/orders/", let_through=1)
        replicas = [ServeProcess(config) for _ in range(3)]
        try:
            assert gate.wait_until_held(timeout=90), "no replica reached the billing writes"
            owner = wait_until(lambda: _lease_owner(store), what="a lease holder")
            (holder,) = [r for r in replicas if f":{r.pid}:" in owner]
            survivors = [r for r in replicas if r is not holder]
            for survivor in survivors:
                survivor.wait_for(_skipped)  # each tried, and was kept out by the lease

            holder.kill()
            gate.release()
            resumed = wait_until(
                lambda: [r for r in survivors if r.finished_runs()], what="a resumed run"
            )
            exit_codes = [survivor.terminate() for survivor in survivors]
        finally:
            gate.release()
            for replica in replicas:
                replica.close()

        downstream = _downstream_state(sandboxes)
        _created_once(sandboxes)

    assert exit_codes == [0, 0]
    (resumer,) = resumed
    (run,) = resumer.finished_runs()
    assert run["status"] in {RunStatus.SUCCEEDED.value, RunStatus.PARTIAL.value}
    assert downstream == reference_state
    takeover = resumer.wait_for(lambda line: "took over flow" in str(line["message"]))
    assert f":{holder.pid}:" in str(takeover["message"])
    with store.engine.connect() as connection:
        stored = connection.execute(
            sa.select(runs.c.status, runs.c.message).order_by(runs.c.id)
        ).all()
    assert [row.status for row in stored] == [RunStatus.FAILED.value, run["status"]]
    assert "stopped renewing its lease" in stored[0].message
    assert _lease_owner(store) is None
    assert holder.process.returncode == -signal.SIGKILL
