"""Parse Stripe-style bracketed form parameters (``items[0][price_data][product]``) into objects."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl

from sandboxes.billing.rules import ApiError

_NAME = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def _insert(root: dict[str, Any], name: str, value: str) -> None:
    match = _NAME.match(name)
    if match is None:
        raise ApiError(400, "parameter_invalid", name, f"malformed parameter name {name!r}")
    steps = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
    node: Any = root
    for step, following in pairwise(steps):
        child = node.get(step) if isinstance(node, dict) else None
        if child is None:
            # `[]` and numeric steps build lists; anything else an object.
            child = [] if following == "" else {}
            node[step] = child
        node = child
    last = steps[-1]
    if isinstance(node, list):
        node.append(value)
    else:
        node[last] = value


def _lists(node: Any) -> Any:
    """Objects whose keys are all indexes (``items[0]``, ``items[1]``) become lists in order."""
    if isinstance(node, dict):
        converted = {key: _lists(value) for key, value in node.items()}
        if converted and all(key.isdigit() for key in converted):
            return [converted[key] for key in sorted(converted, key=int)]
        return converted
    if isinstance(node, list):
        return [_lists(item) for item in node]
    return node


def parse_params(encoded: str) -> dict[str, Any]:
    """Nested parameters of a query string or form body (values stay strings)."""
    root: dict[str, Any] = {}
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        _insert(root, name, value)
    result = _lists(root)
    return result if isinstance(result, dict) else {}


def top_level_names(encoded: str) -> list[str]:
    """The full bracketed names, in order (for request logs)."""
    return [name for name, _ in parse_qsl(encoded, keep_blank_values=True)]
