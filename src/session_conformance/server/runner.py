"""Run the embedded server with uvicorn: in a background thread (for the suites) or in the foreground."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterable
from types import TracebackType

import uvicorn

from session_conformance.server.app import create_app
from session_conformance.server.busy import busy_client
from session_conformance.server.state import DEFAULT_MAX_SESSIONS, HOOK_PATH, Account, ServerState


class EmbeddedServer:
    """The reference server on a real loopback socket. Use as a context manager.

    ``port=0`` picks a free port; ``url``, ``tokens`` and ``hook_url`` are known once started.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Iterable[str] = (),
        variants: Iterable[str] = (),
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        log_level: str = "warning",
    ) -> None:
        self.app = create_app(faults=faults, variants=variants, max_sessions=max_sessions)
        self.state: ServerState = self.app.state.conformance
        self._socket = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )  # IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections (else ~40 ms per request)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(
            self.app, log_level=log_level, access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        # the busy-account variants: another client of both accounts, over HTTP, while the server runs
        self.busy = busy_client(self.url, self.state.accounts, self.state.variants.names)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def hook_url(self) -> str:
        return self.url + HOOK_PATH

    @property
    def accounts(self) -> list[Account]:
        return self.state.accounts

    @property
    def primary_token(self) -> str:
        return self.accounts[0].token

    @property
    def other_token(self) -> str:
        return self.accounts[1].token

    @property
    def restricted_token(self) -> str:
        """The primary instance's Zitadel caller with session.write only (``--zitadel-restricted-token``)."""
        return self.state.restricted[0].token

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        def run() -> None:
            asyncio.run(self._server.serve(sockets=[self._socket]))

        self._thread = threading.Thread(target=run, name="embedded-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded server did not start")
            time.sleep(0.01)
        if self.busy is not None:
            self.busy.start()
        return self

    def stop(self) -> None:
        if self.busy is not None:
            self.busy.stop()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (``session-conformance serve``)."""
        if self.busy is not None:
            self.busy.start()  # it retries until the server below answers
        try:
            self._server.run(sockets=[self._socket])
        finally:
            if self.busy is not None:
                self.busy.stop()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
