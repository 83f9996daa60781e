"""How each Zitadel Session Service RPC is addressed over REST and over Connect, and the Connect code table.

The Zitadel family serves one service over two transports (Connect sheet §1): the grpc-gateway
(``/v2/sessions...``) and Connect unary JSON (``POST /zitadel.session.v2.SessionService/<Method>``,
the whole request message as the body). Everything that differs between the two is answered here, so
that the suites and the descriptor address an operation by its RPC name and never by a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RPCS = ("CreateSession", "GetSession", "ListSessions", "SetSession", "DeleteSession")
# Connect code string -> gRPC code number (connect.Code numbers equal gRPC numbers; Connect sheet §3)
CONNECT_CODES: dict[str, int] = {
    "canceled": 1,
    "unknown": 2,
    "invalid_argument": 3,
    "deadline_exceeded": 4,
    "not_found": 5,
    "already_exists": 6,
    "permission_denied": 7,
    "resource_exhausted": 8,
    "failed_precondition": 9,
    "aborted": 10,
    "out_of_range": 11,
    "unimplemented": 12,
    "internal": 13,
    "unavailable": 14,
    "data_loss": 15,
    "unauthenticated": 16,
}
CONNECT_NAMES: dict[int, str] = {number: name for name, number in CONNECT_CODES.items()}
# C03: normal checks send the protocol version the spec says clients "should send"
PROTOCOL_HEADERS = {"Connect-Protocol-Version": "1"}


@dataclass(frozen=True)
class Call:
    """One request of an RPC: method, path relative to the target root, JSON body, query, headers."""

    method: str
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def connect_service(version: str) -> str:
    """The Connect service path prefix of a Session Service version (``v2`` or ``v2beta``)."""
    return f"/zitadel.session.{version}.SessionService"


def rest_call(prefix: str, rpc: str, session_id: str | None, body: Any, token: str | None) -> Call:
    """The grpc-gateway request of an RPC (REST sheet §2): the ID in the path, the token in the query."""
    sessions = f"{prefix}/sessions"
    if rpc == "CreateSession":
        return Call("POST", sessions, {} if body is None else body)
    if rpc == "ListSessions":
        return Call("POST", f"{sessions}/search", {} if body is None else body)
    one = f"{sessions}/{session_id}"
    if rpc == "GetSession":
        return Call("GET", one, params={"sessionToken": token} if token is not None else None)
    if rpc == "SetSession":
        return Call("PATCH", one, {} if body is None else body)
    if rpc == "DeleteSession":
        return Call("DELETE", one, {"sessionToken": token} if token is not None else {})
    raise ValueError(f"unknown RPC {rpc!r}")


def connect_call(prefix: str, rpc: str, session_id: str | None, body: Any, token: str | None) -> Call:
    """The Connect request of an RPC (Connect sheet §2): POST, the whole request message as the body."""
    if rpc not in RPCS:
        raise ValueError(f"unknown RPC {rpc!r}")
    message: Any = {} if body is None else body
    if session_id is not None and isinstance(message, dict):
        message = {"sessionId": session_id, **message}
    if token is not None and rpc in ("GetSession", "DeleteSession") and isinstance(message, dict):
        message = {**message, "sessionToken": token}
    return Call("POST", f"{prefix}/{rpc}", message, headers=dict(PROTOCOL_HEADERS))


def connect_code(value: object) -> int | None:
    """The gRPC number of a Connect error ``code`` string (None when it is not one of the 16)."""
    return CONNECT_CODES.get(value) if isinstance(value, str) else None
