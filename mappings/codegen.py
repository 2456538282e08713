"""Entity mappings compiled to Python source, once, at load: one function per mapping.

The closure compiler (:mod:`mappings.compiler`) builds a list of steps, each a chain of small
closures; per record that is several calls per field. Here the same steps are written out as
the body of one function (:mod:`mappings.codegen_rules` writes each rule) and compiled with
``compile()``, so a field costs a few bytecodes. A rule the generator doesn't cover calls its
closure from the generated body, so every mapping compiles, and both paths give the same
payloads and the same errors (``tests/unit/test_codegen_differential.py`` holds them to it).

Generated code is registered with :mod:`linecache` under ``<mapping system.entity>``, so a
traceback through it shows the generated line. Problems in mapping files are found before this
stage and keep their ``file:line:col``; generation adds no way to fail a load: a rule it can't
write stays a closure.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from mappings.codegen_rules import RUNTIME, emit_value
from mappings.codegen_source import NotGenerated, Source
from mappings.fields import CanonicalField
from mappings.mapping_set import RefResolver
from mappings.rule_kinds import RuleBase
from mappings.values import SKIP, Side, ValueOf

Record = Mapping[str, Any]
Merge = Callable[[dict[str, Any], tuple[str, ...], Any], None]
Builder = Callable[..., dict[str, Any]]
Applier = Callable[[Record, RefResolver, dict[str, Any]], None]

_generating: ContextVar[bool] = ContextVar("mapping_codegen", default=True)


@dataclass(frozen=True)
class Step:
    """One target key of a mapping: its closure, and the rule the generator may write instead.

    ``nested`` holds a dotted key's parts (None for a plain key); ``merge`` joins a split
    compound into what sibling rules put under the same key; ``rule`` is None for a child list.
    """

    key: str
    nested: tuple[str, ...] | None
    value_of: ValueOf
    merge: bool
    rule: RuleBase | None = None
    field: CanonicalField | None = None


def generating() -> bool:
    """True unless inside :func:`closures_only`."""
    return _generating.get()


@contextmanager
def closures_only() -> Iterator[None]:
    """Compile mappings loaded in this block with closures alone (tests run both paths)."""
    token = _generating.set(False)
    try:
        yield
    finally:
        _generating.reset(token)


def generate_applier(name: str, steps: Sequence[Step], side: Side, merge: Merge) -> Applier:
    """``apply(record, refs, out)``: every step's value set into ``out``."""
    src = Source()
    src.add(0, "def apply(record, refs, out):")
    _emit_steps(src, steps, side, merge, _Display(open=False))
    src.add(1, "return None")
    applier: Applier = _compiled(name, src, "apply")
    return applier


def generate_builder(
    name: str,
    steps: Sequence[Step],
    side: Side,
    merge: Merge,
    external_id: tuple[str, ...] | None = None,
) -> Builder:
    """``build(record, refs) -> payload``; with ``external_id``, that key set first."""
    src, display = Source(), _Display()
    src.add(0, "def build(record, refs):")
    if external_id is not None:
        src.add(1, "v = record['id']")
        _emit_assign(src, 1, external_id[0], external_id if len(external_id) > 1 else None, display)
    _emit_steps(src, steps, side, merge, display)
    display.close(src)
    src.add(1, "return out")
    builder: Builder = _compiled(name, src, "build")
    return builder


@dataclass
class _Display:
    """The payload's leading plain keys, held in locals until one dict display builds them.

    A display makes the dict at its full size at once, where key-by-key stores grow it two or
    three times. It closes (``out`` exists) before the first step that needs ``out`` itself: a
    dotted key, a merge, or a closure whose value may be left out. Values are still worked out
    in rule order, so a record fails on the same rule either way.
    """

    open: bool = True
    keys: list[tuple[str, str]] = field(default_factory=list)

    def hold(self, src: Source, key: str) -> None:
        local = f"r{len(self.keys)}"
        src.add(1, f"{local} = v")
        self.keys.append((src.literal(key), local))

    def close(self, src: Source) -> None:
        if self.open:
            src.add(1, "out = {" + ", ".join(f"{key}: {local}" for key, local in self.keys) + "}")
            self.open = False


def _emit_steps(
    src: Source, steps: Sequence[Step], side: Side, merge: Merge, display: _Display
) -> None:
    for step in steps:
        mark, paths, flags = len(src.lines), dict(src.paths), dict(src.flags)
        if step.rule is not None and not step.merge:
            try:
                emit_value(src, 1, step.key, step.rule, step.field, side, step.value_of)
                _emit_assign(src, 1, step.key, step.nested, display)
                continue
            except NotGenerated:
                del src.lines[mark:]  # and the locals those lines would have set
                src.paths, src.flags = paths, flags
        display.close(src)
        src.add(1, f"v = {src.name(step.value_of, 'closure')}(record, refs)", "if v is not SKIP_:")
        if step.merge:
            src.add(
                2, f"{src.name(merge, 'merge')}(out, {src.name(step.nested or (step.key,))}, v)"
            )
        else:
            _emit_assign(src, 2, step.key, step.nested, display)


def _emit_assign(
    src: Source, depth: int, key: str, nested: tuple[str, ...] | None, display: _Display
) -> None:
    if nested is None and display.open:
        display.hold(src, key)
        return
    display.close(src)
    if nested is None:
        src.add(depth, f"out[{src.literal(key)}] = v")
        return
    parents = "".join(f".setdefault({src.literal(part)}, {{}})" for part in nested[:-1])
    src.add(depth, f"out{parents}[{src.literal(nested[-1])}] = v")


def _compiled(name: str, src: Source, function: str) -> Any:
    text = src.text()
    filename = f"<mapping {name}>"
    namespace: dict[str, Any] = {**RUNTIME, "SKIP_": SKIP, **src.constants}
    # The source is the generator's own; mapping-file values reach it only as the constants
    # bound in `namespace` or as checked literals (mappings.codegen_source).
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    return namespace[function]
