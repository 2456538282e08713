"""A real ``revbridge serve`` or ``revbridge console`` process for server tests: its stderr
lines as they come, its port, and its thread count and memory from /proc."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.cli_process import cli_env, revbridge
from tests.console.conftest import console_settings_document

NEVER = "0 0 1 1 *"  # a schedule that won't fire during a test


def write_config(path: Path, database_url: str, **serve: Any) -> Path:
    """A config over ``database_url`` with one unscheduled flow and ``serve`` settings."""
    document = console_settings_document(database_url)
    document["flows"] = [{"name": "quote-to-cash", "schedule": NEVER}]
    document["serve"] = serve
    path.write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML too
    path.chmod(0o600)
    return path


class ServerProcess:
    """``revbridge ARGS`` running, its stderr kept line by line."""

    def __init__(self, *args: str) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            revbridge(*args),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for text in self.process.stderr:
            with self._changed:
                self.lines.append(text)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, needle: str, timeout: float = 60) -> str:
        """The first stderr line containing ``needle``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._reader.is_alive():
                    said = "".join(self.lines[-30:])
                    raise AssertionError(f"no line with {needle!r}; the process said:\n{said}")
                self._changed.wait(remaining)

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def threads(self) -> int:
        """How many threads the process runs now."""
        return self._status("Threads")

    def rss_kib(self) -> int:
        """Its resident memory now, in KiB."""
        return self._status("VmRSS")

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def close(self) -> None:
        """Make sure the process is gone."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self._reader.join(timeout=10)
