"""The text of generated mapping code: a line buffer that keeps admin-written values out of it.

Every value a rule brings (target keys, lookup tables, labels, converters) reaches generated
code as a named constant the generator binds itself, or as ``repr()`` of a plain ``str``,
``int``, ``bool`` or ``None`` that reads back as the identical value. Nothing from a mapping
file is ever spliced into the source as code, so a key like ``"]; import os #"`` stays a key.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

# Exact types only: a subclass of str could carry its own __repr__.
_LITERAL_TYPES = (str, int, bool, type(None))


class NotGenerated(Exception):
    """A rule the generator has no code for; the compiler keeps its closure instead."""


@dataclass
class Source:
    """Lines of one generated function and the constants its code names."""

    lines: list[str] = field(default_factory=list)
    constants: dict[str, Any] = field(default_factory=dict)
    # Record paths already read into a local (``p0``...), at the function's top level.
    paths: dict[str, str] = field(default_factory=dict)
    # Of those, the ones already checked for being a Mapping (``m0``...).
    flags: dict[str, str] = field(default_factory=dict)
    _ids: dict[int, str] = field(default_factory=dict)

    def add(self, depth: int, *lines: str) -> None:
        """Append ``lines`` indented ``depth`` levels."""
        self.lines.extend("    " * depth + line for line in lines)

    def name(self, value: Any, hint: str = "c") -> str:
        """A constant's name in generated code; the same object always gets the same name."""
        known = self._ids.get(id(value))
        if known is not None:
            return known
        name = f"{hint}{len(self.constants)}"
        self.constants[name] = value
        self._ids[id(value)] = name
        return name

    def literal(self, value: Any) -> str:
        """``value`` as source text: a checked literal, else a named constant."""
        if type(value) in _LITERAL_TYPES:
            text = repr(value)
            if ast.literal_eval(text) == value:
                return text
        return self.name(value)

    def text(self) -> str:
        """The function's source."""
        return "\n".join(self.lines) + "\n"
