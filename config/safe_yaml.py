"""Read user YAML (configuration and mapping files) within bounds.

A YAML file can be small and still unbounded: nested aliases ("billion laughs") make a
700-byte document stand for billions of nodes, and every walk over the loaded data pays for
each. So a file is refused, before it is read, when it is larger than :data:`MAX_FILE_BYTES`,
and, once composed (aliases still shared, so cheaply), when its aliases would expand it past
:data:`MAX_EXPANDED_NODES` nodes. Anchors and aliases within that bound stay allowed: the
shipped ERP mapping shares its currency table that way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

MAX_FILE_BYTES = 10 * 1024 * 1024
"""The largest configuration or mapping file read (10 MB; real ones are a few KB)."""

MAX_EXPANDED_NODES = 200_000
"""The most nodes a file may stand for once its aliases are expanded."""


def oversized(path: Path) -> str | None:
    """Why ``path`` is too large to read, or None (a file that can't be stat'ed is left to
    the reader, which reports it)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None
    if size <= MAX_FILE_BYTES:
        return None
    return (
        f"the file is {size / 1024 / 1024:,.1f} MB; revbridge reads YAML files of at most "
        f"{MAX_FILE_BYTES // 1024 // 1024} MB"
    )


class _BoundedComposer(Composer):
    """ruamel's composer, refusing a document whose aliases expand it past the bound."""

    def compose_document(self) -> Any:
        node = super().compose_document()
        _expanded_size(node, {})
        return node


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """Nodes under ``node`` with every alias expanded; each shared node is weighed once."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    elif isinstance(node, SequenceNode):
        children = list(node.value)
    else:
        children = []
    for child in children:
        size += _expanded_size(child, sizes)
        if size > MAX_EXPANDED_NODES:
            raise ComposerError(
                None,
                None,
                f"aliases expand this document past {MAX_EXPANDED_NODES:,} values; "
                "write the values out or share fewer",
                node.start_mark,
            )
    sizes[id(node)] = size
    return size


def load_yaml(text: str) -> Any:
    """``text`` loaded round-trip (nodes keep their positions), within the alias bound.

    Raises ruamel's YAMLError (a MarkedYAMLError with the position when it has one).
    """
    yaml = YAML(typ="rt")
    yaml.Composer = _BoundedComposer
    return yaml.load(text)
