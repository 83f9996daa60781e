"""Zitadel Session Service v2 and v2beta (embedded reference implementation). STUB: being written."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.server.state import Account, ServerState

PROVIDER_STATES = ("zitadel user exists",)


def http_error(status: int, message: str) -> Response:
    return JSONResponse({"code": 2, "message": message}, status_code=status)


def routes(state: ServerState) -> list[Route]:
    return []


def provider_state(state: ServerState, account: Account, name: str, params: dict[str, Any]) -> Response:
    return JSONResponse({"error": "not implemented"}, 500)
