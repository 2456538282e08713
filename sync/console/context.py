"""What every console request works with: the store, the settings and the clock.

The app factory puts one :class:`ConsoleContext` on ``app.state``; routes take it through the
:data:`Context` dependency rather than reaching for globals, so a test builds the console over
any store it likes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from config.settings import Settings
from sync.store import Store


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConsoleContext:
    """The console's store and settings (for which systems are configured, never their values)."""

    store: Store
    settings: Settings
    clock: Callable[[], datetime] = field(default=utc_now)


def get_context(request: Request) -> ConsoleContext:
    """The context the app was created with."""
    context: ConsoleContext = request.app.state.console_context
    return context


Context = Annotated[ConsoleContext, Depends(get_context)]
