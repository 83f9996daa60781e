"""Requests sent ahead: a check's requests that are known before it starts, a few in flight at once.

Across a network a worker waits a round trip for every request it sends. When a check's requests are
all known before it starts (Schemathesis' coverage phase builds every case at collection), the client
sends them ahead, ``width`` at a time, in the order the check will ask for them; the check then takes
each answer when its example comes, and judges it exactly as if it had been sent then (``http.py``
records it and hands its session to the cleanup at that moment, so the evidence keeps the check's
order). A request is matched by what would be sent (method, URL, headers, body): one the check builds
differently is simply sent then. When the check ends, requests not yet sent are never sent, and the
answers it did not take are handed back to be recorded (``close``).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

import httpx

T = TypeVar("T")


def fingerprint(request: httpx.Request) -> Hashable:
    """What identifies a request on the wire (its ``Authorization`` header included)."""
    return (request.method, str(request.url), tuple(request.headers.multi_items()), request.content)


class Ahead(Generic[T]):
    """Up to ``width`` sends in flight; each outcome taken once, by the fingerprint of its request."""

    def __init__(self, width: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="ahead")
        self._waiting: dict[Hashable, collections.deque[Future[T]]] = collections.defaultdict(
            collections.deque
        )
        self._lock = threading.Lock()
        self.sent_ahead = 0
        self.taken = 0

    def submit(self, key: Hashable, send: Callable[[], T]) -> None:
        future = self._pool.submit(send)
        with self._lock:
            self._waiting[key].append(future)
        self.sent_ahead += 1

    def take(self, key: Hashable) -> T | None:
        """The outcome of a request sent ahead with this fingerprint (waiting for it), else None."""
        with self._lock:
            queue = self._waiting.get(key)
            if not queue:
                return None
            future = queue.popleft()
        self.taken += 1
        return future.result()  # a send re-raises here only for a bug: faults are outcomes

    def close(self) -> list[T]:
        """Stop: requests not yet sent are dropped; the outcomes of those sent but not taken are returned."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            futures = [future for queue in self._waiting.values() for future in queue]
            self._waiting.clear()
        return [future.result() for future in futures if not future.cancelled()]
