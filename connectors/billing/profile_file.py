"""The generic JSON billing profile's YAML file: pydantic schema and a loader that says file:line.

A profile names, per collection, the list and upsert endpoints (and optionally a batch upsert),
where records and their id and cursor fields sit, and the paging style (a ``type``-tagged
union). ``default`` applies to any collection not listed; ``{collection}`` and
``{external_id}`` in paths are filled in per call. YAML anchors under ``definitions`` and merge
keys (``<<: *base``) share settings between collections. Every problem is reported at once as
``file:line:column: message``, like the mapping files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from connectors.billing.paging import (
    CursorPaging,
    LinkHeaderPaging,
    NextTokenPaging,
    PageNumberPaging,
    Paging,
)
from connectors.errors import ConfigError

PROFILE_VERSION = 1
SHIPPED_PROFILE = Path(__file__).parent / "profiles" / "revbridge-generic.yaml"


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CursorStyle(_Node):
    """``starting_after=<last id>`` while ``has_more``."""

    type: Literal["cursor"]
    param: str = "starting_after"
    has_more_field: str = "has_more"
    # Move the since-filter to the last record too (a keyset over (cursor_field, id)).
    advance_filter: bool = False


class PageNumberStyle(_Node):
    """``page=1, 2, ...``."""

    type: Literal["page_number"]
    param: str = "page"
    start: int = Field(default=1, ge=0)
    has_more_field: str | None = None


class LinkHeaderStyle(_Node):
    """Follow ``Link: <url>; rel="next"``."""

    type: Literal["link_header"]


class NextTokenStyle(_Node):
    """Send back the answer's next-page token."""

    type: Literal["next_token"]
    param: str = "page_token"
    token_field: str = "next_page_token"  # noqa: S105 - a field name, not a secret


PagingStyle = Annotated[
    CursorStyle | PageNumberStyle | LinkHeaderStyle | NextTokenStyle, Field(discriminator="type")
]


class Upsert(_Node):
    """The call that creates or replaces one record by revbridge's external id."""

    method: Literal["PUT", "POST", "PATCH"] = "PUT"
    path: str = Field(pattern=r"^/.*\{external_id\}")
    created_status: int = 201


class Batch(_Node):
    """One call that upserts up to ``max_records`` records by external id (optional).

    The body is ``{"records": [{"external_id": ..., "data": {...}}, ...]}``; the answer's
    ``data`` holds one result per record, in order: ``{"external_id", "status", "result"
    (created | updated | unchanged), "record"}`` or ``{"external_id", "status", "error"}``.
    """

    path: str = Field(pattern=r"^/")
    max_records: int = Field(default=100, ge=1, le=1000)


class Collection(_Node):
    """Endpoints and field names of one collection (or of every unlisted one: ``default``)."""

    list_path: str = Field(pattern=r"^/")
    upsert: Upsert
    # Without it, records are written one call each (up to billing.max_concurrency at once).
    batch: Batch | None = None
    records_field: str = "data"
    id_field: str = "id"
    cursor_field: str = "updated"
    since_param: str = "updated_after"
    limit_param: str = "limit"
    paging: PagingStyle

    def paging_strategy(self) -> Paging:
        """The paging strategy object for this collection."""
        style = self.paging
        if isinstance(style, CursorStyle):
            keyset = style.advance_filter
            return CursorPaging(
                param=style.param,
                has_more_field=style.has_more_field,
                id_field=self.id_field,
                filter_param=self.since_param if keyset else None,
                cursor_field=self.cursor_field if keyset else None,
            )
        if isinstance(style, PageNumberStyle):
            size = self.limit_param
            return PageNumberPaging(style.param, style.start, size, style.has_more_field)
        if isinstance(style, LinkHeaderStyle):
            return LinkHeaderPaging()
        return NextTokenPaging(style.param, style.token_field)


class ProfileFile(_Node):
    """A generic JSON billing profile."""

    version: Literal[1]
    name: str
    # A free-form place for YAML anchors that collections merge in (`<<: *base`).
    definitions: dict[str, Any] = Field(default_factory=dict)
    default: Collection | None = None
    collections: dict[str, Collection] = Field(default_factory=dict)

    def collection(self, name: str) -> Collection:
        """The settings for collection ``name``; ConfigError when the profile has none."""
        found = self.collections.get(name) or self.default
        if found is None:
            known = ", ".join(sorted(self.collections)) or "none"
            message = f"profile {self.name!r} has no collection {name!r} (known: {known})"
            raise ConfigError(message, system="billing")
        return found


def load_profile(path: Path) -> ProfileFile:
    """Parse and validate a profile file; ConfigError listing every problem as file:line:col."""
    try:
        text = path.read_text(encoding="utf-8")
        tree = YAML(typ="rt").load(text)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the billing profile: {error}") from None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise ConfigError(f"{path}:{line}:{column}: YAML error: {error.problem}") from None
    except (YAMLError, ValueError) as error:
        raise ConfigError(f"{path}:1:1: YAML error: {error}") from None
    try:
        return ProfileFile.model_validate(_plain(tree))
    except ValidationError as error:
        problems = sorted({_problem(tree, detail) for detail in error.errors()})
        lines = [f"{path}:{line}:{column}: {message}" for line, column, message in problems]
        raise ConfigError("\n".join(lines)) from None


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _problem(tree: Any, detail: Any) -> tuple[int, int, str]:
    loc = [step for step in detail["loc"] if step not in _UNION_TAGS]
    line, column = 1, 1
    node = tree
    for step in loc:
        if isinstance(node, CommentedMap) and step in node:
            line, column = node.lc.key(step)[0] + 1, node.lc.key(step)[1] + 1
            node = node[step]
        elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
            line, column = node.lc.item(step)[0] + 1, node.lc.item(step)[1] + 1
            node = node[step]
    where = ".".join(str(step) for step in loc) or "profile"
    message = str(detail["msg"])
    if detail["type"] == "extra_forbidden":
        message = "unknown key"
    return line, column, f"{where}: {message}"


_UNION_TAGS = frozenset({"cursor", "page_number", "link_header", "next_token"})
