"""No module imports itself back through others, type-only imports included.

A circle of imports is the sign of one class split by size instead of at a seam: the halves
still need each other. Imports under ``if TYPE_CHECKING:`` count, because they hide the same
circle from the interpreter, not from the reader. Every top-level package is held to this;
circles across packages are ruled out by the one-way import rules (test_layout.py).
"""

from __future__ import annotations

import ast
from collections import deque
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("config", "connectors", "mappings", "sync", "sandboxes")
ACYCLIC = ("config", "connectors", "mappings", "sync", "sandboxes")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _sources() -> dict[str, Path]:
    return {
        _module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")
    }


def _known(name: str) -> str | None:
    """The project module ``name`` is or lies in (``a.b.Thing`` is in ``a.b``), if any."""
    modules = _sources()
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # none today, but a relative import closes a circle just the same
            package = module.split(".")
            if _sources()[module].name != "__init__.py":
                package.pop()
            base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [base])])
        # ``from a import b`` imports module ``a.b`` when there is one, else a name of ``a``.
        names = [f"{base}.{alias.name}" for alias in node.names]
    return {found for name in names if (found := _known(name)) and found != module}


@cache
def _graph() -> dict[str, frozenset[str]]:
    """Each project module and the project modules it imports, anywhere in its source."""
    graph = {}
    for module, path in _sources().items():
        nodes = ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        imports = (n for n in nodes if isinstance(n, ast.Import | ast.ImportFrom))
        graph[module] = frozenset(set().union(*(_imported(module, n) for n in imports)))
    return graph


def _in(package: str, module: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def _components(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while not component or component[-1] != node:
                    component.append(stack.pop())
                    on_stack.discard(component[-1])
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _shortest_cycle(graph: dict[str, frozenset[str]], start: str) -> list[str]:
    """The shortest path of imports from ``start`` back to itself."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is on no cycle")


def import_cycles(package: str) -> list[list[str]]:
    """One circle of imports (``[a, b, ..., a]``) per knot of modules of ``package`` that
    import each other; empty when there are none."""
    graph = {
        module: frozenset(t for t in targets if _in(package, t))
        for module, targets in _graph().items()
        if _in(package, module)
    }
    return [_shortest_cycle(graph, component[0]) for component in _components(graph)]


def test_import_cycles_finds_a_type_only_circle() -> None:
    """The finder itself: a circle closed only under TYPE_CHECKING is still a circle."""
    graph = {"p.a": frozenset({"p.b"}), "p.b": frozenset({"p.c"}), "p.c": frozenset({"p.a"})}
    assert _components(graph) == [["p.a", "p.b", "p.c"]]
    assert _shortest_cycle(graph, "p.a") == ["p.a", "p.b", "p.c", "p.a"]
    tree = ast.parse("if TYPE_CHECKING:\n    from sandboxes.tls import TLS\n")
    nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert set().union(*(_imported("sandboxes.packed", n) for n in nodes)) == {"sandboxes.tls"}


@pytest.mark.parametrize("package", ACYCLIC)
def test_no_import_cycles_among_modules_of(package: str) -> None:
    assert _graph(), "no project modules found"
    cycles = import_cycles(package)
    assert not cycles, "modules import each other in a circle:\n" + "\n".join(
        " -> ".join(cycle) for cycle in cycles
    )
