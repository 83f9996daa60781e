"""Trinsic Sessions API v1 (embedded reference implementation). STUB: being written."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.server.state import Account, ServerState

PROVIDER_STATES = ("trinsic session finished",)


def problem(status: int, detail: str) -> Response:
    return JSONResponse({"title": detail, "status": status}, status_code=status)


def routes(state: ServerState) -> list[Route]:
    return []


def provider_state(state: ServerState, account: Account, name: str, params: dict[str, Any]) -> Response:
    return JSONResponse({"error": "not implemented"}, 500)
