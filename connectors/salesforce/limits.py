"""The org's daily API allocation, read from ``Sforce-Limit-Info``, and revbridge's floor.

Every Salesforce response says ``api-usage=USED/MAX``. Before each call the budget checks that
the remaining calls stay above the configured floor (a share of the daily allocation), so a
large run stops with a clear message instead of starving the org's other integrations.
"""

from __future__ import annotations

import re

from connectors.errors import RateLimited
from connectors.salesforce.login import SYSTEM

_API_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def parse_api_usage(header: str | None) -> tuple[int, int] | None:
    """``(used, max)`` from a ``Sforce-Limit-Info`` header, or None."""
    match = _API_USAGE.search(header or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


class ApiBudget:
    """Tracks the last seen usage and refuses calls that would go below the floor."""

    def __init__(self, floor_percent: float) -> None:
        self.floor_percent = floor_percent
        self.usage: tuple[int, int] | None = None

    def observe(self, header: str | None) -> None:
        """Record the usage from one response's ``Sforce-Limit-Info`` header."""
        usage = parse_api_usage(header)
        if usage is not None:
            self.usage = usage

    @property
    def floor_calls(self) -> int | None:
        """The floor in calls, once the allocation is known."""
        if self.usage is None:
            return None
        return int(self.usage[1] * self.floor_percent / 100)

    def ensure_room(self, calls: int = 1) -> None:
        """Raise RateLimited when ``calls`` more calls would leave fewer than the floor."""
        floor = self.floor_calls
        if self.usage is None or floor is None or self.floor_percent <= 0:
            return
        used, allocation = self.usage
        remaining = allocation - used
        if remaining - calls < floor:
            raise RateLimited(
                f"API budget floor reached: the org has used {used:,} of its {allocation:,} "
                f"daily API calls and {remaining:,} remain, below the configured floor of "
                f"{self.floor_percent:g}% ({floor:,} calls) kept for the org's other "
                "integrations; the run stops here and resumes from its cursor once the "
                "rolling 24-hour usage drops (or lower salesforce.api_floor_percent)",
                system=SYSTEM,
            )
