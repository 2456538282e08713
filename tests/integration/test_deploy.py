"""deploy/: manifests parse, and the container's entry command works on this machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from sync.cli.sandboxes import Sandboxes, SandboxSize
from sync.cli.scaffold import config_template, sandbox_environment, scaffold_project

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VENV_BIN = Path(sys.executable).parent


def _documents(path: Path) -> list[Any]:
    return [doc for doc in YAML(typ="safe", pure=True).load_all(path.read_text()) if doc]


def _instruction(dockerfile: str, name: str) -> list[str]:
    """The JSON (exec) form of the last ``name`` instruction."""
    found = re.findall(rf"^{name}\s+(\[.*\])\s*$", dockerfile, flags=re.MULTILINE)
    assert found, f"no exec-form {name} in the Dockerfile"
    command: list[str] = json.loads(found[-1])
    return command


def test_compose_has_postgres_and_serve_with_no_secret_values() -> None:
    (compose,) = _documents(DEPLOY / "compose.yaml")
    services = compose["services"]

    assert services["postgres"]["image"].startswith("postgres:")
    assert services["revbridge"]["command"][0] == "serve"
    assert services["revbridge"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["command"][:2] == ["db", "upgrade"]
    assert "${POSTGRES_PASSWORD" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_kubernetes_objects_have_kinds_probes_and_secret_env() -> None:
    objects = {
        doc["kind"]: doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in _documents(path)
    }
    assert set(objects) >= {"Deployment", "CronJob", "Job", "Secret"}
    assert all(doc["apiVersion"] and doc["metadata"]["name"] for doc in objects.values())

    serve = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert serve["args"][0] == "serve"
    assert serve["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert serve["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert serve["envFrom"] == [{"secretRef": {"name": "revbridge-secrets"}}]
    cron = objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["containers"][0]["args"][0] == "run"
    assert objects["CronJob"]["spec"]["concurrencyPolicy"] == "Forbid"


def test_dockerfile_is_pinned_non_root_and_bakes_in_no_secret() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()

    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, flags=re.MULTILINE)
    assert base
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])
    assert re.search(r"^USER 10001", dockerfile, flags=re.MULTILINE)
    assert _instruction(dockerfile, "ENTRYPOINT") == ["revbridge"]
    assert not re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)\s*=", dockerfile)
    assert ".env" not in re.findall(r"^COPY .*$", dockerfile, flags=re.MULTILINE)


def test_the_images_entry_command_runs_here(tmp_path: Path) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    entry = _instruction(dockerfile, "ENTRYPOINT")
    command = _instruction(dockerfile, "CMD")
    executable = [str(VENV_BIN / entry[0]), *entry[1:]]
    env = {**os.environ, "COLUMNS": "200"}

    helped = subprocess.run([*executable, "--help"], capture_output=True, text=True, check=False)
    sub_help = subprocess.run(
        [*executable, command[0], "--help"], capture_output=True, text=True, check=False, env=env
    )

    assert helped.returncode == 0, helped.stderr
    assert "check" in helped.stdout
    assert "init" in helped.stdout
    assert sub_help.returncode == 0, sub_help.stderr
    assert "--config" in sub_help.stdout

    with Sandboxes(SandboxSize(accounts=2, orders=4, products=2)) as sandboxes:
        scaffold_project(tmp_path)
        document = sandboxes.settings_document("sqlite:///x.db")
        secrets = sandbox_environment(document, config_template())
        # The image's own environment (metrics on all interfaces) must not break a check.
        image_env = dict(re.findall(r"(REVBRIDGE_\w+)=(\S+)", dockerfile))
        checked = subprocess.run(
            [*executable, "check", "--config", "config/revbridge.yaml"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
            env={**env, **image_env, **secrets},
        )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_units_verify(tmp_path: Path) -> None:
    for unit in (DEPLOY / "systemd").iterdir():
        # verify insists that ExecStart exists; point it at this venv's revbridge.
        text = unit.read_text().replace("/opt/revbridge/bin/revbridge", str(VENV_BIN / "revbridge"))
        (tmp_path / unit.name).write_text(text)
    units = sorted(str(path) for path in tmp_path.iterdir())

    verified = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, check=False
    )

    assert verified.returncode == 0, verified.stderr
    assert verified.stderr.strip() == "", verified.stderr
    assert len(units) == 3


def test_systemd_timer_drives_the_one_shot_service() -> None:
    timer = (DEPLOY / "systemd" / "revbridge-run.timer").read_text()
    run = (DEPLOY / "systemd" / "revbridge-run.service").read_text()
    serve = (DEPLOY / "systemd" / "revbridge.service").read_text()

    assert "OnCalendar=" in timer
    assert "Type=oneshot" in run
    assert " run --config " in run
    assert " serve --config " in serve
    assert "EnvironmentFile=" in serve
