"""The rooms keep their rules: imports point one way, the pipeline and the store stay free of
the CLI and of web servers, and no product module outgrows a read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("config", "connectors", "mappings", "sync")
MAX_LINES = 400

# The rooms over the engine and the store; neither of those two may import any of them.
SIBLINGS = ("sync.service", "sync.tools", "sync.console", "sync.assurance", "sync.events")
# room -> the rooms of the product it must never import (ARCHITECTURE.md, "Invariants").
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "config": ("connectors", "mappings", "sync", "sandboxes"),
    "connectors": ("sync", "sandboxes"),
    "mappings": ("connectors", "sync", "sandboxes"),
    "sync.store": ("sync.engine", *SIBLINGS, "sync.cli", "sandboxes"),
    "sync.engine": (*SIBLINGS, "sync.cli", "sandboxes"),
    "sync.service": ("sync.tools", "sync.cli", "sync.console", "sandboxes"),
    "sync.tools": ("sync.service", "sync.cli", "sandboxes"),
    # The console serves the store to people; the CLI mounts it into `serve`, not the reverse.
    "sync.console": ("sync.service", "sync.tools", "sync.cli", "sandboxes"),
    "sync.assurance": ("sync.service", "sync.tools", "sync.cli", "sync.console", "sandboxes"),
    "sync.events": ("sync.service", "sync.tools", "sync.cli", "sync.console", "sandboxes"),
}
# Connectors know nothing of canonical records; ISO 4217 minor units are reference data the
# Stripe profile shares with the canonical model's validation.
ALLOWED = {("connectors.billing.stripe.form", "mappings.currencies")}
# A pipeline or a store that imported these would drag a terminal or a server into every run.
FRONT_ENDS = ("typer", "rich", "click", "http.server", "uvicorn", "fastapi", "starlette")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


MODULES = {_module(path): path for pkg in PRODUCT for path in (ROOT / pkg).rglob("*.py")}


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_imports_point_one_way(room: str) -> None:
    offenders = sorted(
        (module, name)
        for module, path in MODULES.items()
        if _within(module, room)
        for name in _imports(path)
        for banned in FORBIDDEN[room]
        if _within(name, banned) and (module, name) not in ALLOWED
    )
    assert offenders == []


@pytest.mark.parametrize("room", ["sync.engine", "sync.store"])
def test_the_pipeline_and_the_store_import_no_cli_and_no_server(room: str) -> None:
    offenders = sorted(
        (module, name)
        for module, path in MODULES.items()
        if _within(module, room)
        for name in _imports(path)
        if any(_within(name, front) for front in FRONT_ENDS)
    )
    assert offenders == []


def test_no_product_module_is_over_400_lines() -> None:
    long = {
        module: lines
        for module, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) >= MAX_LINES
    }
    assert long == {}


def test_the_layout_check_sees_every_room() -> None:
    # A renamed room would make the checks above pass on nothing.
    for room in FORBIDDEN:
        assert any(_within(module, room) for module in MODULES), room
