"""A request gate that proves calls overlap: matching requests wait until N are in at once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sandboxes.server import RequestGate


@dataclass
class MeetingGate(RequestGate):
    """Holds each matching request at ``barrier`` until its other parties arrive.

    Callers that really overlap meet at once; sequential ones never do, the barrier's timeout
    breaks it, and ``met`` records ``False``. Gates on different servers may share one barrier
    (two systems written at the same time). ``first_only`` holds only the first match.
    """

    barrier: threading.Barrier = field(default_factory=lambda: threading.Barrier(2, timeout=20))
    first_only: bool = False
    met: list[bool] = field(default_factory=list)
    _seen: bool = False

    def hold_if_matching(self, method: str, path: str) -> bool:
        """Wait at the barrier; record whether everyone arrived."""
        if method != self.method or not path.startswith(self.path_prefix):
            return False
        with self._lock:
            if self.first_only and self._seen:
                return False
            self._seen = True
        try:
            self.barrier.wait()
            self.met.append(True)
        except threading.BrokenBarrierError:
            self.met.append(False)
        return False
