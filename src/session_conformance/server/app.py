"""The ASGI application: Trinsic routes, Zitadel routes and the provider-state hook."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from session_conformance.server import trinsic, zitadel
from session_conformance.server.catalogue import fault_set, variant_set
from session_conformance.server.hook import HOOK_PUBLISHED_STATES_ONLY, PUBLISHED_PROVIDER_STATES
from session_conformance.server.state import (
    DEFAULT_MAX_SESSIONS,
    HOOK_PATH,
    Account,
    ServerState,
    new_restricted_callers,
)


def _error_for(request: Request, status: int, detail: str) -> Response:
    """An error in the shape of the API the path belongs to."""
    path = request.url.path
    if path.startswith(("/v2/", "/v2beta/")) or path in ("/v2", "/v2beta"):
        return zitadel.http_error(status, detail)
    if path.startswith("/api/"):
        return trinsic.problem(status, detail)
    if path.startswith("/zitadel."):  # the Connect services
        return zitadel.connect.http_error(status, detail)
    return JSONResponse({"error": detail}, status_code=status)


class _AllowOn405:
    """Every 405 carries ``Allow`` with all methods the path supports (RFC 9110), whichever route answered.

    Starlette's own 405 names only the first route that matched the path (GET, not also PATCH/DELETE on
    ``/v2/sessions/{sessionId}``), and the Zitadel catch-all answers 405 for known paths without one.
    """

    def __init__(self, app: ASGIApp, routes: list[Route]) -> None:
        self.app = app
        # the Zitadel catch-alls (named after their endpoint, `unrouted`) answer 404/405 for any method
        self.routes = [route for route in routes if route.methods and route.name != "unrouted"]

    def allowed(self, path: str) -> str:
        matching = [route for route in self.routes if route.path_regex.match(path)]
        literal = [route for route in matching if "{" not in route.path]  # `/sessions/search` over `{id}`
        methods = {m for route in literal or matching for m in route.methods or ()}
        return ", ".join(sorted(methods))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", self.allowed(scope["path"]).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = _error_for(request, exc.status_code, exc.detail)
    for name, value in (exc.headers or {}).items():  # e.g. the `Allow` RFC 9110 requires on a 405
        response.headers[name] = value
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    return _error_for(request, 500, "internal error")


def _hook(state: ServerState):
    async def provider_state(request: Request) -> Response:
        account = state.account_for(request.headers.get("authorization"))
        if account is None:
            return JSONResponse({"error": "a bearer token of one of the server's accounts is required"}, 401)
        try:
            payload = json.loads(await request.body() or b"null")
        except ValueError:
            return JSONResponse({"error": "body must be JSON"}, 400)
        if not isinstance(payload, dict) or not isinstance(payload.get("state"), str):
            return JSONResponse({"error": 'body must be {"state": NAME, "params": {...}}'}, 400)
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            return JSONResponse({"error": "params must be an object"}, 400)
        published_only = HOOK_PUBLISHED_STATES_ONLY in state.variants
        for module in (trinsic, zitadel):
            if published_only and payload["state"] not in PUBLISHED_PROVIDER_STATES:
                break
            if payload["state"] in module.PROVIDER_STATES:
                return module.provider_state(state, account, payload["state"], params)
        return JSONResponse({"error": f"unknown provider state {payload['state']!r}"}, 400)

    return provider_state


def create_app(
    *,
    accounts: list[Account] | None = None,
    faults: Iterable[str] = (),
    variants: Iterable[str] = (),
    max_sessions: int = DEFAULT_MAX_SESSIONS,
) -> Starlette:
    state = ServerState(faults=fault_set(faults), variants=variant_set(variants), max_sessions=max_sessions)
    if accounts is not None:
        state.accounts = accounts
        state.restricted = new_restricted_callers(accounts)
    routes = [
        *trinsic.routes(state),
        *zitadel.routes(state),
        Route(HOOK_PATH, _hook(state), methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_AllowOn405, routes=routes)],
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
    )
    app.state.conformance = state
    return app
