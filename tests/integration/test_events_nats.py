"""Change events of real syncs over the sandboxes, published to the real NATS JetStream server
(127.0.0.1:4222) on SQLite and PostgreSQL.

Each test makes its own stream, with subjects under a unique prefix, and deletes it after. A
NATS server that isn't reachable skips these tests locally and fails them under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlalchemy as sa
from nats.js.api import StreamConfig
from typer.testing import CliRunner

from sync.cli.app import app
from sync.cli.sandboxes import Sandboxes, SandboxSize, write_sandbox_config
from sync.store import Store
from sync.store.outbox import outbox_events
from tests.cli_process import cli_env, revbridge
from tests.serve_harness import ServeProcess, write_serve_config

NATS_URL = "nats://127.0.0.1:4222"
SMALL = SandboxSize(accounts=8, orders=40, products=5)
runner = CliRunner()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _jetstream_call(prefix: str, name: str, delete: bool) -> None:
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        stream = client.jetstream()
        if delete:
            await stream.delete_stream(name)
        else:
            await stream.add_stream(StreamConfig(name=name, subjects=[f"{prefix}.>"]))
    finally:
        await client.close()


async def _read_stream(name: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    client = await nats.connect(NATS_URL, connect_timeout=2, allow_reconnect=False)
    try:
        stream = client.jetstream()
        info = await stream.stream_info(name)
        messages: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        if info.state.messages == 0:
            return messages
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            message = await stream.get_msg(name, sequence)
            assert message.data is not None
            envelope = json.loads(message.data)
            messages.append((str(message.subject), envelope, dict(message.headers or {})))
        return messages
    finally:
        await client.close()


@pytest.fixture
def stream() -> Iterator[tuple[str, str]]:
    """A JetStream stream of its own: (subject prefix, stream name)."""
    token = uuid.uuid4().hex[:12]
    prefix, name = f"rbtest{token}", f"RBTEST_{token}"
    try:
        asyncio.run(_jetstream_call(prefix, name, delete=False))
    except (OSError, TimeoutError, nats.errors.Error) as error:
        if _in_ci():
            pytest.fail(f"NATS JetStream at {NATS_URL} is unreachable under CI: {error!r}")
        pytest.skip(f"NATS JetStream at {NATS_URL} is unreachable: {error!r}")
    yield prefix, name
    asyncio.run(_jetstream_call(prefix, name, delete=True))


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with Sandboxes(SMALL) as running:
        yield running


def _config(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, sinks: list[dict[str, Any]]
) -> Path:
    document = sandboxes.settings_document(database_url)
    document["events"] = {"sinks": sinks, "batch_size": 25}
    path = tmp_path / f"revbridge-{uuid.uuid4().hex[:6]}.yaml"
    write_sandbox_config(path, document)
    return path


def _sink(prefix: str, url: str = NATS_URL, **filters: Any) -> dict[str, Any]:
    return {"name": "ops", "url": url, "subject_prefix": prefix, "timeout_seconds": 5, **filters}


def _outbox(database_url: str) -> list[sa.Row[Any]]:
    store = Store(database_url)
    with store.engine.connect() as connection:
        rows = list(connection.execute(sa.select(outbox_events).order_by(outbox_events.c.sequence)))
    store.close()
    return rows


def _assert_each_event_once_in_commit_order(
    messages: list[tuple[str, dict[str, Any], dict[str, str]]], rows: list[sa.Row[Any]]
) -> None:
    ids = [envelope["id"] for _, envelope, _ in messages]
    assert sorted(ids) == sorted(row.event_id for row in rows)  # each once, none missing
    position = {row.event_id: row.sequence for row in rows}
    per_record: dict[str, list[int]] = defaultdict(list)
    for _, envelope, headers in messages:
        assert headers["Nats-Msg-Id"] == envelope["id"]
        per_record[envelope["subject"]].append(position[envelope["id"]])
    assert all(seqs == sorted(seqs) for seqs in per_record.values())


def test_a_real_sync_publishes_each_change_once_in_order_per_record(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    config = _config(tmp_path, sandboxes, database_url, [_sink(prefix)])
    outcome = runner.invoke(app, ["run", "--config", str(config)])
    assert outcome.exit_code == 0, outcome.output
    rows = _outbox(database_url)
    kinds = {row.change for row in rows}
    assert {"created", "rejected"} <= kinds  # the sandbox data has rejections
    messages = asyncio.run(_read_stream(name))
    _assert_each_event_once_in_commit_order(messages, rows)
    subject, envelope, _ = messages[0]
    assert subject == f"{prefix}.{envelope['data']['entity']}.{envelope['data']['change']}"
    assert envelope["source"] == "revbridge/quote-to-cash"
    again = runner.invoke(app, ["run", "--config", str(config)])  # nothing changed since
    assert again.exit_code == 0, again.output
    assert len(asyncio.run(_read_stream(name))) == len(messages)
    status = runner.invoke(app, ["events", "status", "--config", str(config), "--json"])
    [sink] = json.loads(status.output)
    assert (sink["pending"], sink["published"], sink["failures"]) == (0, len(rows), 0)


def test_a_down_broker_never_fails_the_sync_and_its_events_wait_then_go(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    down = _config(tmp_path, sandboxes, database_url, [_sink(prefix, url="nats://127.0.0.1:9")])
    outcome = runner.invoke(app, ["run", "--config", str(down), "--json"])
    assert outcome.exit_code == 0, outcome.output
    status = runner.invoke(app, ["events", "status", "--config", str(down), "--json"])
    [sink] = json.loads(status.output)
    rows = _outbox(database_url)
    assert (sink["pending"], sink["published"], sink["failures"]) == (len(rows), 0, 1)
    assert sink["lag_seconds"] >= 0
    assert "Traceback" not in outcome.output
    failed = runner.invoke(app, ["events", "publish", "--config", str(down)])
    assert failed.exit_code == 1
    assert "events wait" in failed.output
    up = _config(tmp_path, sandboxes, database_url, [_sink(prefix)])
    published = runner.invoke(app, ["events", "publish", "--config", str(up)])
    assert published.exit_code == 0, published.output
    _assert_each_event_once_in_commit_order(asyncio.run(_read_stream(name)), rows)


def test_a_republished_event_is_dropped_by_its_nats_msg_id(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    config = _config(tmp_path, sandboxes, database_url, [_sink(prefix)])
    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0
    store = Store(database_url)
    with store.transaction() as connection:  # as if the publisher died before marking them
        connection.execute(sa.text("DELETE FROM outbox_deliveries"))
    store.close()
    again = runner.invoke(app, ["events", "publish", "--config", str(config)])
    assert again.exit_code == 0, again.output
    _assert_each_event_once_in_commit_order(asyncio.run(_read_stream(name)), _outbox(database_url))


def test_filters_deliver_exactly_the_entities_and_types_they_name(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    sink = _sink(prefix, entities=["order"], types=["created"], flows=["quote-to-cash"])
    config = _config(tmp_path, sandboxes, database_url, [sink])
    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0
    wanted = [r for r in _outbox(database_url) if (r.entity, r.change) == ("order", "created")]
    assert wanted
    messages = asyncio.run(_read_stream(name))
    assert {subject for subject, _, _ in messages} == {f"{prefix}.order.created"}
    _assert_each_event_once_in_commit_order(messages, wanted)


def test_a_run_killed_between_page_commit_and_publish_delivers_every_event_after_restart(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    # A broker that accepts the connection and never answers: the run's pages are all
    # committed and the publish has begun when it connects, which is when the test kills it.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        stuck = _sink(prefix, url=f"nats://127.0.0.1:{port}")
        stuck["timeout_seconds"] = 300
        config = _config(tmp_path, sandboxes, database_url, [stuck])
        process = subprocess.Popen(
            revbridge("run", "--config", str(config)),
            env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            silent.settimeout(120)
            connection, _ = silent.accept()
            os.kill(process.pid, signal.SIGKILL)
            assert process.wait(timeout=30) == -signal.SIGKILL
            connection.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    rows = _outbox(database_url)
    assert rows
    assert asyncio.run(_read_stream(name)) == []
    up = _config(tmp_path, sandboxes, database_url, [_sink(prefix)])
    assert runner.invoke(app, ["events", "publish", "--config", str(up)]).exit_code == 0
    _assert_each_event_once_in_commit_order(asyncio.run(_read_stream(name)), rows)


def test_with_no_sink_configured_a_run_leaves_the_outbox_empty(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str
) -> None:
    """Nothing would drain it: an outbox without a sink would only grow."""
    config = _config(tmp_path, sandboxes, database_url, sinks=[])

    outcome = runner.invoke(app, ["run", "-c", str(config)])

    assert outcome.exit_code == 0, outcome.output
    assert _outbox(database_url) == []
    store = Store(database_url)
    with store.engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM canonical_records")).scalar()
    store.close()
    assert stored  # the run did capture records: only their events were left out


def test_serve_publishes_each_runs_events_after_the_run(
    tmp_path: Path, sandboxes: Sandboxes, database_url: str, stream: tuple[str, str]
) -> None:
    prefix, name = stream
    config = write_serve_config(
        tmp_path / "serve.yaml",
        sandboxes,
        database_url,
        events={"sinks": [_sink(prefix)], "batch_size": 25},
    )
    serve = ServeProcess(config)
    try:
        published = serve.wait_for(lambda line: str(line["message"]).startswith("events: "))
        assert serve.terminate() == 0
    finally:
        serve.close()

    rows = _outbox(database_url)
    assert published["message"] == f"events: {len(rows)} published to ops"
    _assert_each_event_once_in_commit_order(asyncio.run(_read_stream(name)), rows)
