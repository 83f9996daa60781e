"""A benchmark server process: the embedded reference app behind a request counter, or a bare baseline.

``python bench/server.py [--port P]`` runs ``create_app()`` wrapped in a request counter inside the
shipped ``EmbeddedServer`` (its socket, its uvicorn settings), so what is measured is what the suites
meet. Once listening is about to start it prints one JSON line (``url``, ``token``, ``other_token``,
``hook_url``) and serves until killed; the caller polls the port until it answers.

The counter answers two control paths itself, uncounted: ``GET /_bench/stats`` and
``POST /_bench/reset``. ``--bare`` serves a one-route Starlette app instead (the baseline), and
``--uvicorn-socket`` lets uvicorn bind its own socket rather than ``EmbeddedServer`` (a diagnostic:
see docs/decisions/bench.md on TCP_NODELAY).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTROL_PREFIX = "/_bench/"


def _api_of(path: str) -> str:
    if path.startswith("/api/"):
        return "trinsic"
    if path.startswith("/v2beta"):
        return "zitadel-v2beta"
    if path.startswith("/v2"):
        return "zitadel-v2"
    if path.startswith("/_conformance/"):
        return "provider-state"
    return "other"


class RequestCounter:
    """Counts every HTTP request the wrapped app answers, by API and by status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_api: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float | None = None

    def stats(self) -> dict[str, Any]:
        active = (self.last - self.first) if self.first is not None and self.last is not None else 0.0
        return {
            "requests": self.requests,
            "by_api": dict(self.by_api),
            "by_status": dict(self.by_status),
            "active_s": active,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, send)
            return
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.requests += 1
        self.by_api[_api_of(path)] += 1

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.by_status[str(message["status"])] += 1
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                self.last = time.monotonic()
            await send(message)

        await self.app(scope, receive, counting_send)

    async def _control(self, scope: Scope, send: Send) -> None:
        if scope["path"] == CONTROL_PREFIX + "reset" and scope["method"] == "POST":
            self.reset()
            status, body = 200, {"reset": True}
        elif scope["path"] == CONTROL_PREFIX + "stats":
            status, body = 200, self.stats()
        else:
            status, body = 404, {"error": "unknown bench control path"}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def bare_app() -> ASGIApp:
    """The baseline: one Starlette route that answers a small JSON object, nothing else."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"session": {"id": request.path_params["sid"], "state": "IdvInitiated"}})

    return Starlette(routes=[Route("/hello/{sid}", hello, methods=["GET", "POST"])])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _serve_with_uvicorn_socket(app: ASGIApp, host: str, port: int, info: dict[str, str]) -> None:
    """uvicorn binding its own socket (``uvicorn.run``-style), with the runner's other settings."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    print(json.dumps(info), flush=True)
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--bare", action="store_true", help="serve the bare Starlette baseline instead")
    parser.add_argument(
        "--uvicorn-socket",
        action="store_true",
        help="let uvicorn bind the socket instead of EmbeddedServer (diagnostic)",
    )
    args = parser.parse_args(argv)

    if args.bare:
        port = args.port or free_port(args.host)
        _serve_with_uvicorn_socket(bare_app(), args.host, port, {"url": f"http://{args.host}:{port}"})
        return 0

    from session_conformance.server import EmbeddedServer, create_app
    from session_conformance.server.state import HOOK_PATH

    if args.uvicorn_socket:
        inner = create_app()
        accounts = inner.state.conformance.accounts
        port = args.port or free_port(args.host)
        url = f"http://{args.host}:{port}"
        info = {
            "url": url,
            "token": accounts[0].token,
            "other_token": accounts[1].token,
            "hook_url": url + HOOK_PATH,
        }
        _serve_with_uvicorn_socket(RequestCounter(inner), args.host, port, info)
        return 0

    # The shipped runner: its socket, its uvicorn settings; only the app is wrapped in the counter.
    server = EmbeddedServer(host=args.host, port=args.port)
    config = server._server.config  # uvicorn.Config; its app is loaded only when serving starts
    config.app = RequestCounter(server.app)
    print(
        json.dumps(
            {
                "url": server.url,
                "token": server.primary_token,
                "other_token": server.other_token,
                "hook_url": server.hook_url,
            }
        ),
        flush=True,
    )
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
