"""``--rate-limit N/s``: one request rate for the whole run, shared by every xdist worker through a file.

The schedule is GCRA (a token bucket of depth one): the file holds the earliest moment the next request
may start; each sender takes that slot under an exclusive ``flock`` and pushes it on by ``1/rate``, then
sleeps until its slot. ``time.monotonic`` is the system-wide ``CLOCK_MONOTONIC`` on Linux and macOS, so
every process of the run reads one clock. Without ``fcntl`` (Windows) the limit holds per process.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import threading
import time
from pathlib import Path

from session_conformance.errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*s(?:ec(?:ond)?)?)?\s*$", re.I)
_SLOT = struct.Struct("d")


def parse_rate(text: str, source: str) -> float:
    """``"20/s"`` or ``"20"`` -> 20.0 requests per second; a readable ``UsageError`` otherwise."""
    match = _RATE.match(text)
    rate = float(match.group(1)) if match else 0.0
    if not 0 < rate <= 100_000:
        raise UsageError(f"{source}: {text!r} is not a request rate like 20/s (between 0 and 100000)")
    return rate


class RateLimiter:
    """Spaces the run's requests ``1/rate`` seconds apart, across processes sharing ``path``."""

    def __init__(self, rate: float, path: str | Path) -> None:
        self.rate = rate
        self.interval = 1.0 / rate
        self.path = Path(path)
        self._lock = threading.Lock()  # the flock is per open file; threads of one process share one
        self._local_next = 0.0

    def acquire(self) -> float:
        """Wait for this request's slot; return the seconds waited."""
        with self._lock:
            slot = self._take()
        wait = slot - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            return wait
        return 0.0

    def _take(self) -> float:
        now = time.monotonic()
        if fcntl is None:  # pragma: no cover - Windows
            slot = max(now, self._local_next)
            self._local_next = slot + self.interval
            return slot
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, _SLOT.size, 0)
            planned = _SLOT.unpack(raw)[0] if len(raw) == _SLOT.size else 0.0
            slot = max(now, planned)
            os.pwrite(fd, _SLOT.pack(slot + self.interval), 0)
            return slot
        finally:
            os.close(fd)  # closing releases the lock


def new_schedule_file() -> str:
    """A fresh file for one run's schedule (the controller makes it; workers get its path)."""
    fd, path = tempfile.mkstemp(prefix="session-conformance-rate-")
    os.close(fd)
    return path


_LIMITER: RateLimiter | None = None


def configure(rate: float | None, path: str | None) -> None:
    """Set (or clear) this process's limiter; ``http.ConformanceClient`` and the cleanup ask ``limiter()``."""
    global _LIMITER
    _LIMITER = RateLimiter(rate, path) if rate and path else None


def limiter() -> RateLimiter | None:
    return _LIMITER


def wait_for_slot() -> float:
    """Wait for the next request slot when a rate limit is set; the seconds waited (0 without one)."""
    return _LIMITER.acquire() if _LIMITER is not None else 0.0
