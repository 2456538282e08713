"""A real sync's change events to a webhook endpoint through the CLI, on both databases: the
secret comes from an environment variable and never shows; refused events are dead-lettered,
counted by `events status`, and sent again with their ids once requeued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.store import Store
from sync.store.outbox import outbox_events
from tests.integration.events_cli_harness import events_config
from tests.integration.events_webhook_harness import SECRET, Delivery, Reply, endpoint
from tests.integration.test_events_webhook import receiver

SMALL = SandboxSize(accounts=8, orders=40, products=5)
ENV = {"RB_TEST_HOOK_SECRET": SECRET}
runner = CliRunner()


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _config(tmp_path: Path, sandboxes: Sandboxes, database_url: str, url: str) -> Path:
    sink = {"name": "hooks", "type": "webhook", "url": url, "attempts": 2,
            "secrets": ["${RB_TEST_HOOK_SECRET}"], "backoff_seconds": 0.001,
            "max_wait_seconds": 0.01}  # fmt: skip
    return events_config(tmp_path, sandboxes, database_url, [sink])


def _outbox(database_url: str) -> list[sa.Row[Any]]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = list(connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence)))
    store.close()
    return rows


def _cli(*args: str) -> str:
    outcome = runner.invoke(app, list(args), env=ENV)
    assert outcome.exit_code == 0, outcome.output
    assert SECRET not in outcome.output
    assert "t0k3n" not in outcome.output  # the URL's token
    return outcome.output


def test_refused_events_are_dead_lettered_shown_by_status_and_requeued_with_their_ids(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    refusing = {"rejected"}

    def answer(delivery: Delivery) -> Reply:
        receiver.verify(SECRET, delivery.headers, delivery.body)  # signed with the env secret
        change = json.loads(delivery.body)["data"]["change"]
        return (422, {}) if change in refusing else (204, {})

    with endpoint(answer) as hooks:
        config = _config(tmp_path, sandboxes, database_url, hooks.url)
        _cli("run", "--config", str(config))
        rows = _outbox(database_url)
        rejected = [row.event_id for row in rows if row.change == "rejected"]
        assert rejected
        [status] = json.loads(_cli("events", "status", "--config", str(config), "--json"))
        table = _cli("events", "status", "--config", str(config))

        refusing.clear()  # the endpoint is fixed
        requeued = _cli("events", "replay", "--dead-letter", "--sink", "hooks", "-c", str(config))
        [after] = json.loads(_cli("events", "status", "--config", str(config), "--json"))

    assert (status["pending"], status["dead_lettered"]) == (0, len(rejected))
    assert status["published"] == len(rows) - len(rejected)
    assert "dead-lettered" in table
    assert requeued.strip() == (
        f"hooks: requeued {len(rejected)} dead letters, published {len(rejected)}"
    )
    assert (after["pending"], after["published"], after["dead_lettered"]) == (0, len(rows), 0)
    received = hooks.ids()
    assert sorted(set(received)) == sorted(row.event_id for row in rows)
    assert received[-len(rejected) :] == rejected  # the same ids, in commit order


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({}, "RB_TEST_HOOK_SECRET is not set"),
        ({"RB_TEST_HOOK_SECRET": "whsec_c2VjcmV0LXRvby1zaG9ydA=="}, "24 to 64 bytes"),
        ({"RB_TEST_HOOK_SECRET": "sk_live_notawebhooksecret"}, "starts with whsec_"),
    ],
)
def test_a_missing_or_malformed_secret_is_one_configuration_line_that_never_quotes_it(
    tmp_path: Path, sandboxes: Sandboxes, environment: dict[str, str], problem: str
) -> None:
    config = _config(tmp_path, sandboxes, f"sqlite:///{tmp_path / 'r.db'}", "http://127.0.0.1:9/")

    outcome = runner.invoke(app, ["events", "status", "--config", str(config)], env=environment)

    assert outcome.exit_code == 2
    assert problem in outcome.output
    assert "Traceback" not in outcome.output
    for value in environment.values():
        assert value not in outcome.output
        assert value.removeprefix("whsec_") not in outcome.output
