"""Zitadel's Session Service over Connect: ``POST /zitadel.session.{v2,v2beta}.SessionService/<Method>``.

As in Zitadel v4 (Connect sheet §1) the Connect procedures run the very handlers of the REST routes
(``zitadel/__init__.py``), on the same sessions: this module only translates the transport. Order of
a request: method (405, no body) -> Content-Type (415, no body) -> protocol headers (400) -> body
decoding (400, before authentication as in connect-go) -> authentication (401) -> the handler; its
``rpcStatus`` errors are rewritten as Connect error objects, and every success is 200.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from session_conformance.server.state import Account, ServerState
from session_conformance.server.zitadel import connect_faults as CF
from session_conformance.server.zitadel import connect_variants as CV
from session_conformance.server.zitadel.store import Instance, Store
from session_conformance.server.zitadel.wire import (
    CODE_OF_HTTP,
    HTTP_OF_CODE,
    INVALID_ARGUMENT,
    ApiError,
    Malformed,
    OddInput,
    dumps,
    invalid,
    parse_body,
    raw_response,
)

SERVICES = (("/zitadel.session.v2.SessionService", False), ("/zitadel.session.v2beta.SessionService", True))
RPCS = ("CreateSession", "GetSession", "ListSessions", "SetSession", "DeleteSession")
MAX_BODY_BYTES = 1 << 20
ACCEPT_POST = "application/json, application/json; charset=utf-8"
TYPE_PREFIX = "type.googleapis.com/"
# gRPC code -> Connect code string (connect.Code numbers equal gRPC numbers; Connect sheet §3)
CODE_NAMES = {
    1: "canceled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}
_JSON_TYPE = re.compile(r"^application/json\s*(;\s*charset\s*=\s*\"?utf-8\"?\s*)?$", re.I)
_TIMEOUT = re.compile(r"^\d{1,10}$")
OTHER_METHODS = ["GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
LENGTH_RULE = "value length must be between 1 and 200 runes, inclusive"
NOT_A_STRING = "invalid value for string field"

Handler = Callable[[Request, Instance, Account, bool], Awaitable[Response]]


def _empty(status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=headers)


def connect_error(code: int, message: str) -> Response:
    """A Connect error object without details (decoding, headers, unexpected exceptions: ``app.py``)."""
    body: dict[str, Any] = {"code": CODE_NAMES.get(code, "unknown")}
    if message:
        body["message"] = message
    return raw_response(dumps(body), HTTP_OF_CODE.get(code, 500))


def http_error(status: int, message: str) -> Response:
    """An error raised by HTTP status under a Connect path (``app.py``): 405 bare, else a Connect error."""
    if status == 405:  # a method Starlette's router knows no route for (QUERY, ...): as connect-go
        return _empty(405, {"Allow": "POST"})
    return connect_error(CODE_OF_HTTP.get(status, 2), message)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _proto(detail: dict[str, Any]) -> bytes:
    """The binary ``zitadel.v1.ErrorDetail`` / ``CredentialsCheckError`` (id 1, message 2, attempts 3)."""
    out = b""
    for number, key in ((1, "id"), (2, "message")):
        value = detail.get(key)
        if isinstance(value, str) and value:
            raw = value.encode()
            out += bytes([number << 3 | 2]) + _varint(len(raw)) + raw
    attempts = detail.get("failedAttempts")
    if isinstance(attempts, int) and attempts:
        out += bytes([3 << 3]) + _varint(attempts)
    return out


def _connect_body(state: ServerState, rest: dict[str, Any]) -> dict[str, Any]:
    """The Connect error object of a handler's ``rpcStatus`` (faults that broke the rpcStatus stay broken)."""
    if CF.RPC_STATUS in state.faults or not isinstance(rest.get("code"), int):
        return rest
    body: dict[str, Any] = {"code": CODE_NAMES.get(rest["code"], "unknown")}
    if rest.get("message"):
        body["message"] = rest["message"]
    details = []
    for item in rest.get("details") or []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("@type", ""))
        if CV.DETAILS_TYPE_URL not in state.variants:
            kind = kind.removeprefix(TYPE_PREFIX)
        detail: dict[str, Any] = {
            "type": kind,
            "value": base64.b64encode(_proto(item)).decode().rstrip("="),
        }
        if CV.NO_DEBUG not in state.variants:
            detail["debug"] = {key: value for key, value in item.items() if key != "@type"}
        details.append(detail)
    if details:
        body["details"] = details
    return body


def routes(
    state: ServerState,
    store: Store,
    handlers: Mapping[str, Handler],
    authenticate: Callable[[Request], Account],
    rest_error: Callable[[ApiError], Response],
) -> list[Route]:
    """The Connect routes of both services, running the REST ``handlers`` (keyed by RPC name)."""
    faults, variants = state.faults, state.variants
    apart = state.store("zitadel-connect", Store)  # ztd-connect-separate-store only

    def converted(response: Response) -> Response:
        if response.status_code < 400:
            status = 201 if response.status_code == 201 and CF.CREATE_201 in faults else 200
            return raw_response(bytes(response.body), status)
        try:
            rest = json.loads(bytes(response.body))
        except ValueError:
            rest = {}
        body = _connect_body(state, rest) if isinstance(rest, dict) else rest
        return raw_response(dumps(body), response.status_code)

    def decode(raw: bytes) -> dict[str, Any]:
        if not raw and CF.EMPTY_BODY_OK not in faults:  # C04: zero bytes are no JSON object
            raise ApiError(
                INVALID_ARGUMENT,
                "unmarshal message: zero-length payload is not a valid JSON object",
            )
        if raw and not raw.strip(b" \t\r\n"):  # protojson: whitespace alone is no JSON value either
            raise ApiError(INVALID_ARGUMENT, "unmarshal message: proto: syntax error: unexpected token")
        try:
            return parse_body(raw)
        except (Malformed, OddInput) as exc:
            raise ApiError(INVALID_ARGUMENT, f"unmarshal message: {exc}") from None
        except ApiError as exc:
            raise ApiError(INVALID_ARGUMENT, f"unmarshal message: {exc.message}") from None

    def session_id(message: dict[str, Any]) -> str:
        value = message.pop("sessionId", message.pop("session_id", None))
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise ApiError(INVALID_ARGUMENT, f"unmarshal message: sessionId: {NOT_A_STRING}")
        return value

    def service(beta: bool) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            rpc = request.path_params["rpc"]
            if rpc not in RPCS or CV.ABSENT in variants:  # C01: before v4 no Connect handler exists
                return PlainTextResponse("404 page not found\n", status_code=404)
            if request.method != "POST":
                if CF.METHOD_ERROR_BODY in faults:
                    return connect_error(INVALID_ARGUMENT, "method not allowed")
                return _empty(405, {"Allow": "POST"})
            content_type = request.headers.get("content-type")
            if content_type is None or not _JSON_TYPE.match(content_type.strip()):
                lenient = CF.MISSING_TYPE_IS_JSON in faults and (
                    not content_type or "text/plain" in content_type
                )
                if not lenient:
                    return _empty(415, {"Accept-Post": ACCEPT_POST})
            try:
                return converted(await call(request, rpc, beta))
            except ApiError as exc:
                return converted(rest_error(exc))

        return run

    async def call(request: Request, rpc: str, beta: bool) -> Response:
        version = request.headers.get("connect-protocol-version")
        if version is None and CF.PROTOCOL_HEADER_REQUIRED in faults:
            raise ApiError(INVALID_ARGUMENT, 'missing required header: set Connect-Protocol-Version to "1"')
        if version is not None and version != "1":
            raise ApiError(INVALID_ARGUMENT, f'Connect-Protocol-Version must be "1": got "{version[:20]}"')
        timeout = request.headers.get("connect-timeout-ms")
        if timeout is not None and not _TIMEOUT.match(timeout) and CF.TIMEOUT_UNPARSED not in faults:
            raise ApiError(INVALID_ARGUMENT, "parse timeout: invalid Connect-Timeout-Ms")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise ApiError(8, f"message size exceeds the limit of {MAX_BODY_BYTES} bytes")
        message = decode(raw)  # before authentication (Connect sheet §1)
        account = authenticate(request)
        # a restricted caller works in its account's instance, with its own permissions (as over REST)
        inst = (apart if CF.SEPARATE_STORE in faults else store).instance(state.owner_of(account))
        scope = dict(request.scope)
        scope["path_params"] = {}
        scope["query_string"] = b""
        if rpc in ("GetSession", "SetSession", "DeleteSession"):
            sid = session_id(message)
            if rpc == "GetSession":
                if not sid and CV.GET_EMPTY_ID_400 in variants:
                    raise invalid(f"GetSessionRequest.SessionId: {LENGTH_RULE}")
                token = message.get("sessionToken", message.get("session_token"))
                if isinstance(token, str) and token:
                    scope["query_string"] = urlencode({"sessionToken": token}).encode()
                elif token is not None and not isinstance(token, str):
                    raise ApiError(INVALID_ARGUMENT, f"unmarshal message: sessionToken: {NOT_A_STRING}")
            elif not sid:
                raise invalid(f"{rpc}Request.SessionId: {LENGTH_RULE}")
            scope["path_params"] = {"sessionId": sid}
        forwarded = dumps(message)

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": forwarded, "more_body": False}

        return await handlers[rpc](Request(scope, receive), inst, account, beta)

    out: list[Route] = []
    for prefix, beta in SERVICES:
        endpoint = service(beta)
        out += [
            Route(prefix + "/{rpc}", endpoint, methods=["POST"], name="connect"),
            Route(prefix + "/{rpc}", endpoint, methods=OTHER_METHODS, name="unrouted"),  # 405, no body
        ]
    return out
