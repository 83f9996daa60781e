"""The ASGI application: Trinsic routes, Zitadel routes and the provider-state hook."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.server import trinsic, zitadel
from session_conformance.server.faults import FaultSet
from session_conformance.server.state import DEFAULT_MAX_SESSIONS, HOOK_PATH, Account, ServerState
from session_conformance.server.variants import (
    HOOK_PUBLISHED_STATES_ONLY,
    PUBLISHED_PROVIDER_STATES,
    VariantSet,
)


def _error_for(request: Request, status: int, detail: str) -> Response:
    """An error in the shape of the API the path belongs to."""
    path = request.url.path
    if path.startswith(("/v2/", "/v2beta/")) or path in ("/v2", "/v2beta"):
        return zitadel.http_error(status, detail)
    if path.startswith("/api/"):
        return trinsic.problem(status, detail)
    return JSONResponse({"error": detail}, status_code=status)


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
    state = ServerState(faults=FaultSet(faults), variants=VariantSet(variants), max_sessions=max_sessions)
    if accounts is not None:
        state.accounts = accounts
    routes = [
        *trinsic.routes(state),
        *zitadel.routes(state),
        Route(HOOK_PATH, _hook(state), methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_exception, Exception: _unexpected},
    )
    app.state.conformance = state
    return app
