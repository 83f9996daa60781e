"""A loopback TCP proxy that makes a network of loopback: latency each way, and a share of requests cut.

Used by the tests (transport faults) and by the benchmark (a 50 ms round trip). It forwards bytes, it
does not parse HTTP: each chunk the client sends (in practice one request; a large body may come in
two) is held ``delay`` seconds before it reaches the target, and each chunk of the answer likewise.
With ``cut`` set, that share of the client's chunks (or those ``cut_when(chunk)`` picks) ends the
connection instead:

- ``cut_mode="before"``: both sides are closed and the chunk is never forwarded, as when a peer or a
  middlebox drops an idle keep-alive connection: the target never sees the request;
- ``cut_mode="after"``: the chunk is forwarded, then the connection is closed before any byte of the
  answer reaches the client: the target acted, the client cannot know.

``FaultProxy(target_url, ...).start()`` runs it on a free loopback port in a thread of its own;
``python -m session_conformance.faultproxy --target URL [--latency-ms 25] [--cut 0.02]`` in a process
of its own (prints its URL on the first line).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

CHUNK = 65536


@dataclass
class ProxyStats:
    connections: int = 0
    chunks: int = 0  # client -> target chunks (about one per request)
    cuts: int = 0
    answered: int = 0  # requests whose answer began to reach the client
    busy_s: float = 0.0  # summed time from a request's arrival to its answer's first byte delivered
    first: float | None = None  # monotonic time of the first request, and of the last answer
    last: float | None = None

    def in_flight(self) -> float:
        """Requests in flight on average between the first request and the last answer (Little's law)."""
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return self.busy_s / (self.last - self.first)


class FaultProxy:
    """Forwards ``127.0.0.1:<port>`` to the host and port of ``target_url`` (see the module)."""

    def __init__(
        self,
        target_url: str,
        *,
        delay: float = 0.0,
        cut: float = 0.0,
        cut_mode: str = "before",
        seed: int | None = None,
        port: int = 0,
        cut_when: Callable[[bytes], bool] | None = None,
    ) -> None:
        if cut_mode not in ("before", "after"):
            raise ValueError(f"cut_mode must be 'before' or 'after', not {cut_mode!r}")
        parts = urlsplit(target_url)
        self.scheme = parts.scheme or "http"
        self.target_host = parts.hostname or "127.0.0.1"
        self.target_port = parts.port or (443 if self.scheme == "https" else 80)
        self.delay, self.cut, self.cut_mode = delay, cut, cut_mode
        self.random = random.Random(seed)
        self.cut_when = cut_when  # instead of the random share: cut exactly the chunks it picks
        self.port = port
        self.stats = ProxyStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def proxied(self, url: str) -> str:
        """``url`` of the target (e.g. its provider-state hook) as reached through this proxy."""
        parts = urlsplit(url)
        if (parts.hostname, parts.port or self.target_port) != (self.target_host, self.target_port):
            return url
        return parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()

    # --- running ---

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        async with self._server:
            with contextlib.suppress(asyncio.CancelledError):
                await self._server.serve_forever()

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True, name="proxy")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        if self._thread is not None:
            self._thread.join(5)
        self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- one connection ---

    def _cuts(self, chunk: bytes) -> bool:
        if self.cut_when is not None:
            return self.cut_when(chunk)
        return bool(self.cut) and self.random.random() < self.cut

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        try:
            target_r, target_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_w.close()
            return
        cut = asyncio.Event()  # "after" mode: drop the answer of the chunk just forwarded
        waiting: list[float] = []  # arrival of the request that awaits its answer (HTTP/1.1: one at most)
        up = asyncio.create_task(self._pipe(client_r, target_w, upstream=True, cut=cut, waiting=waiting))
        down = asyncio.create_task(self._pipe(target_r, client_w, upstream=False, cut=cut, waiting=waiting))
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stops
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for task in (up, down):
            task.cancel()
        for writer in (client_w, target_w):
            with contextlib.suppress(Exception):
                writer.close()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
        cut: asyncio.Event,
        waiting: list[float],
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        deliver = self._deliver(queue, writer, upstream=upstream, cut=cut, waiting=waiting)
        sender = asyncio.create_task(deliver)
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                if upstream:
                    self.stats.chunks += 1
                    now = time.monotonic()
                    if not waiting:
                        waiting.append(now)
                    if self.stats.first is None:
                        self.stats.first = now
                    if self._cuts(data):
                        self.stats.cuts += 1
                        if self.cut_mode == "before":
                            return  # the connection ends; this chunk is never forwarded
                        cut.set()
                await queue.put((time.monotonic() + self.delay, data))
            await queue.put((time.monotonic() + self.delay, b""))
            await sender
        finally:
            sender.cancel()

    async def _deliver(
        self,
        queue: asyncio.Queue[tuple[float, bytes]],
        writer: asyncio.StreamWriter,
        *,
        upstream: bool,
        cut: asyncio.Event,
        waiting: list[float],
    ) -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not upstream and cut.is_set():  # the answer is dropped: the client reads an end of file
                writer.close()
                return
            if not data:
                with contextlib.suppress(Exception):
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()
            if not upstream and waiting:
                now = time.monotonic()
                self.stats.answered += 1
                self.stats.busy_s += now - waiting.pop()
                self.stats.last = now


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session_conformance.faultproxy", description=__doc__)
    parser.add_argument("--target", required=True, help="URL of the target, e.g. http://127.0.0.1:8800")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay each way, in milliseconds")
    parser.add_argument("--cut", type=float, default=0.0, help="share of requests whose connection is cut")
    parser.add_argument("--cut-mode", choices=("before", "after"), default="before")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    proxy = FaultProxy(
        args.target,
        delay=args.latency_ms / 1000,
        cut=args.cut,
        cut_mode=args.cut_mode,
        seed=args.seed,
        port=args.port,
    )
    proxy.start()
    print(proxy.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
