"""`revbridge console` and `revbridge serve` as real processes: the console on one port,
JSON lines only in ``--log-format json``, and operator mistakes as one line with exit 2."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from sync.cli.console import warn_about_exposure
from tests.cli_process import cli_env, revbridge
from tests.console.conftest import console_settings
from tests.console.server_process import ServerProcess, write_config


def _port(server: ServerProcess) -> int:
    return int(json.loads(server.wait_for_line('"port"'))["port"])


def _only_json(lines: list[str]) -> list[str]:
    """The lines that are not one JSON object each."""
    bad = []
    for line in lines:
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(line)
        except json.JSONDecodeError:
            bad.append(line)
    return bad


@pytest.mark.slow
def test_console_serves_the_login_page_and_sends_everyone_else_there(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "revbridge.yaml", database_url)
    server = ServerProcess("console", "-c", str(config), "--port", "0", "--log-format", "json")
    try:
        base = f"http://127.0.0.1:{_port(server)}"
        login = requests.get(f"{base}/login", timeout=10)
        overview = requests.get(f"{base}/", timeout=10, allow_redirects=False)
        api = requests.get(f"{base}/api/overview", timeout=10)
        server.wait_for_line('"http_path": "/api/overview"')
    finally:
        code = server.stop()
        server.close()

    assert login.status_code == 200
    assert 'name="csrf_token"' in login.text
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    assert (overview.status_code, overview.headers["location"]) == (303, "/login?next=%2F")
    assert api.status_code == 401
    assert code == 0
    assert _only_json(server.lines) == []
    assert any("no console users yet" in line for line in server.lines)


@pytest.mark.slow
def test_serve_serves_the_console_beside_its_endpoints_on_one_port(
    database_url: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "revbridge.yaml", database_url)
    server = ServerProcess(
        "serve", "-c", str(config), "--metrics-port", "0", "--log-format", "json"
    )
    try:
        base = f"http://127.0.0.1:{_port(server)}"
        health = requests.get(f"{base}/healthz", timeout=10)
        metrics = requests.get(f"{base}/metrics", timeout=10)
        login = requests.get(f"{base}/login", timeout=10)
        unknown = requests.post(f"{base}/metrics", timeout=10)
    finally:
        code = server.stop()
        server.close()

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert "revbridge_error_queue_entries" in metrics.text
    assert login.status_code == 200
    assert unknown.status_code == 404
    assert code == 0
    assert _only_json(server.lines) == []


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        revbridge(*args), capture_output=True, text=True, env=cli_env(), timeout=60, check=False
    )


def test_a_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = write_config(tmp_path / "revbridge.yaml", f"sqlite:///{tmp_path / 'rb.db'}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("console", "-c", str(config), "--port", str(port))

    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid:8080"),
        (["--port", "70000"], "65535"),
    ],
)
def test_a_wrong_address_is_one_line_and_exit_2(tmp_path: Path, args: list[str], says: str) -> None:
    config = write_config(tmp_path / "revbridge.yaml", f"sqlite:///{tmp_path / 'rb.db'}")

    result = _run("console", "-c", str(config), *args)

    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run("console", "-c", str(tmp_path / "nowhere.yaml"))

    assert result.returncode == 2
    assert "nowhere.yaml" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("host", "proxies", "warned"),
    [
        ("127.0.0.1", [], False),
        ("localhost", [], False),
        ("::1", [], False),
        ("0.0.0.0", [], True),
        ("0.0.0.0", ["10.0.0.0/8"], False),
    ],
)
def test_listening_off_this_host_without_a_proxy_is_warned_about(
    caplog: pytest.LogCaptureFixture, host: str, proxies: list[str], warned: bool
) -> None:
    settings = console_settings("sqlite://", trusted_proxies=proxies)

    with caplog.at_level(logging.WARNING, logger="revbridge.console"):
        warn_about_exposure(host, settings)

    assert ("plain http" in caplog.text) is warned
