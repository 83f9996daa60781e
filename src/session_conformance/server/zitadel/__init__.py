"""Zitadel Session Service v2 and v2beta: the embedded reference implementation of the five operations.

One logic serves both prefixes; v2beta differs only in its SearchQuery members (fact sheet §8).
Request handling is: authenticate (401) -> decode and validate the body (400, code 3, no details)
-> service logic (errors with an ErrorDetail). Choices on the fact sheet's ambiguities are in
``docs/decisions/zitadel-server.md``; every ``F.*`` test is a fault switch (``zitadel/faults.py``).
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.server.state import Account, ServerState
from session_conformance.server.variants import VariantSet
from session_conformance.server.zitadel import connect
from session_conformance.server.zitadel import faults as F
from session_conformance.server.zitadel import variants as V
from session_conformance.server.zitadel.logic import details, quoted, rendered, run_change
from session_conformance.server.zitadel.requests import Change, parse_change, parse_delete, parse_search
from session_conformance.server.zitadel.search import count_matches, may_read, search
from session_conformance.server.zitadel.store import (
    MAX_OLD_TOKENS,
    Instance,
    Session,
    Store,
    new_token,
    token_decodable,
)
from session_conformance.server.zitadel.wire import (
    CODE_OF_HTTP,
    CREDENTIALS_CHECK_ERROR_TYPE,
    ERROR_DETAIL_TYPE,
    FAILED_PRECONDITION,
    INTERNAL,
    INVALID_ARGUMENT,
    NOT_FOUND,
    PERMISSION_DENIED,
    UNAUTHENTICATED,
    ApiError,
    Malformed,
    OddInput,
    bad,
    dumps,
    format_timestamp,
    invalid,
    json_response,
    parse_body,
    raw_response,
)

PROVIDER_STATES = ("zitadel user exists", "zitadel idp intent succeeded")
PREFIXES = (("/v2", False), ("/v2beta", True))
MAX_BODY_BYTES = 1 << 20
RACE_WINDOW_S = 0.2  # ztd-racing-set-lost: how long a SetSession works on what it read before the lock
LIST_LAG_NS = 400_000_000  # ztd-list-lag: how far ListSessions may trail the writes
LIST_NEVER_CATCHES_UP_NS = (
    60_000_000_000  # ztd-list-never-catches-up: how far it trails (far beyond "briefly")
)
MAX_LIMIT = 1000  # ztd-limit-max-1000: the newest Zitadel's maximum `query.limit`
_KNOWN_PATH = re.compile(r"/v2(?:beta)?/sessions(?:/[^/]+)?")

Handler = Callable[[Request, Instance, Account, bool], Awaitable[Response]]


def http_error(status: int, message: str) -> Response:
    """An ``rpcStatus`` for an HTTP-level error (routing, unexpected exceptions; used by ``app.py``)."""
    code = CODE_OF_HTTP.get(status)
    if code is None:  # keep the status/code pair consistent with grpc-gateway's table
        code, status = (2, 500) if status >= 500 else (INVALID_ARGUMENT, 400)
    return json_response({"code": code, "message": message}, status)


def _store(state: ServerState) -> Store:
    return state.store("zitadel", Store)


def _error(state: ServerState, exc: ApiError) -> Response:
    body = exc.body()
    variants = state.variants
    if exc.error_id and V.ERROR_ID_IN_DETAILS_ONLY in variants:  # Z-12: the ID only in the ErrorDetail
        body["message"] = exc.message
    if exc.failed_attempts is not None and V.CREDENTIALS_CHECK_ERROR in variants:
        body["details"] = [
            {
                "@type": CREDENTIALS_CHECK_ERROR_TYPE,
                "id": exc.error_id,
                "message": exc.message,
                "failedAttempts": exc.failed_attempts,
            }
        ]
    if exc.validation and F.VALIDATION_WITH_DETAILS in state.faults:
        body["details"] = [{"@type": ERROR_DETAIL_TYPE, "id": "EMBED-Va1id", "message": exc.message}]
    if F.ERROR_SHAPE in state.faults:
        del body["code"]
    if F.PLAIN_403_404 in state.faults and exc.status in (403, 404):
        body = {"error": exc.message}
    headers = {"WWW-Authenticate": exc.message} if exc.code == UNAUTHENTICATED else None
    return json_response(body, exc.status, headers)


def _authenticate(state: ServerState, request: Request) -> Account:
    header = request.headers.get("authorization")
    account = state.zitadel_caller_for(header)
    if account is not None:
        return account
    if F.NO_AUTH in state.faults:
        return state.accounts[0]
    if not header:
        raise ApiError(UNAUTHENTICATED, "auth header missing")
    if not header.lower().startswith("bearer "):
        raise ApiError(UNAUTHENTICATED, "invalid auth header (AUTH-toLo1)")
    raise ApiError(UNAUTHENTICATED, "Errors.Token.Invalid (AUTH-7fs1e)")


async def _body(state: ServerState, request: Request) -> dict[str, Any]:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise bad(f"grpc: received message larger than max ({MAX_BODY_BYTES} bytes)")
        chunks.append(chunk)
    try:
        return parse_body(b"".join(chunks))
    except Malformed as exc:
        if F.BAD_JSON_500 in state.faults:
            raise ApiError(INTERNAL, "internal error") from None
        raise bad(str(exc)) from None
    except OddInput as exc:
        if F.ODD_INPUT_500 in state.faults:
            raise ApiError(2, "unknown error") from None
        raise bad(str(exc)) from None


def _path_id(request: Request, message: str) -> str:
    session_id: str = request.path_params["sessionId"]
    if len(session_id) > 200:
        raise invalid(f"{message}.SessionId: value length must be between 1 and 200 runes, inclusive")
    return session_id


def _token_param(query: bytes) -> str:
    """``sessionToken`` (or ``session_token``) from a query string; cheaper than a full parse."""
    if not query:
        return ""
    found = [
        unquote_plus(part.split(b"=", 1)[1].decode("latin-1"), errors="replace")
        for part in query.split(b"&")
        if part.startswith((b"sessionToken=", b"session_token="))
    ]
    if len(found) > 1:
        raise bad("sessionToken: too many values")
    return found[0] if found else ""


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _token_ok(state: ServerState, inst: Instance, session: Session, token: str) -> bool:
    if _same(token, session.token):
        return True
    faults = state.faults
    if F.OLD_TOKEN_VALID in faults and any(_same(token, old) for old in session.old_tokens):
        return True
    return F.TOKEN_ANY_SESSION in faults and any(_same(token, s.token) for s in list(inst.sessions.values()))


def _verify_write_token(
    state: ServerState,
    inst: Instance,
    session: Session,
    token: str,
    ok_fault: str | None,
    variants: VariantSet,
) -> None:
    """Set/Delete: undecodable -> 400, wrong or outdated -> 403 (fact sheet §5.7)."""
    if not token_decodable(token):
        raise ApiError(INVALID_ARGUMENT, "the session token is malformed", "COMMAND-hi6Ph")
    if not _token_ok(state, inst, session, token) and not (ok_fault and ok_fault in state.faults):
        message = quoted(variants, "the session token is invalid", session.id)
        raise ApiError(PERMISSION_DENIED, message, "COMMAND-sGr42")


def _may_delete(caller: Account, session: Session) -> bool:
    """ZTD-R49: without a token, only the checked user or a holder of session.delete ends a session."""
    own = bool(session.user_id) and session.user_id == caller.caller_user_id
    return own or "session.delete" in caller.permissions


def _metadata_only(change: Change) -> bool:
    """A create that carries metadata and nothing else (ztd-metadata-only-create-400)."""
    return bool(change.metadata) and (
        change.checks is None
        and change.challenges is None
        and change.lifetime_ns is None
        and change.user_agent is None
    )


def _with_challenges(payload: dict[str, Any], challenges: dict[str, Any] | None, state: ServerState) -> None:
    if challenges is not None and (challenges or F.NO_CHALLENGES_OBJECT not in state.faults):
        payload["challenges"] = challenges


# --- the five operations -------------------------------------------------------------------------


def routes(state: ServerState) -> list[Route]:
    store = _store(state)
    faults = state.faults
    variants = state.variants

    async def create_session(request: Request, inst: Instance, account: Account, beta: bool) -> Response:
        change = parse_change(
            await _body(state, request),
            create=True,
            allow_non_positive_lifetime=F.VALIDATION_IGNORED in faults,
        )
        if F.METADATA_ONLY_CREATE_400 in faults and _metadata_only(change):
            raise ApiError(INVALID_ARGUMENT, "a user check is required", "EMBED-Us3r1")
        session_id = secrets.token_hex(9) if F.NONNUMERIC_ID in faults else store.ids.next()
        with inst.lock:  # creation time and insertion (eviction) order agree
            now = store.clock.now()
            blank = Session(
                id=session_id, creator=account.caller_user_id, created=now, changed=now, token=new_token()
            )
            outcome = run_change(
                inst,
                blank,
                change,
                now=now,
                faults=faults,
                host=request.url.hostname,
                create=True,
                variants=variants,
            )
            session = outcome.session
            for effect in outcome.effects:
                effect()
            inst.events += 1
            inst.add_session(session)
        sequence = session.sequence + (1 if F.SEQUENCE_MISMATCH in faults else 0)
        payload: dict[str, Any] = {
            "details": details(inst, sequence, now, faults, variants, created=now),
            "sessionId": session.id,
        }
        if F.NO_TOKEN_ON_CREATE not in faults:
            payload["sessionToken"] = session.token
        _with_challenges(payload, outcome.challenges, state)
        return json_response(payload, 200 if F.CREATE_200 in faults else 201)

    async def list_sessions(request: Request, inst: Instance, account: Account, beta: bool) -> Response:
        wanted = parse_search(await _body(state, request), beta=beta)
        if wanted.limit > MAX_LIMIT and V.LIMIT_MAX_1000 in variants:
            message = quoted(variants, f"the limit must not exceed {MAX_LIMIT}", str(wanted.limit))
            raise ApiError(INVALID_ARGUMENT, message, "EMBED-L1m1t")
        with inst.lock:
            page, total = search(inst, account, wanted, faults, variants, _list_view(inst), store.clock.now())
            chunks = [rendered(session, faults, variants) for session in page]
            events = inst.events
        if V.TOTAL_BEFORE_PERMISSION in variants:  # Z-07: other instances' matches, not readable here
            total += sum(
                count_matches(other, account, wanted, faults)
                for other in store.instances()
                if other is not inst
            )
        list_details: dict[str, Any] = {}
        if total and not (beta and F.V2BETA_TOTAL_MISSING in faults):
            list_details["totalResult"] = str(total) if F.INT64_AS_NUMBER not in faults else total
        if events:
            list_details["processedSequence"] = str(events) if F.INT64_AS_NUMBER not in faults else events
        list_details["timestamp"] = format_timestamp(store.clock.now())
        if V.EXTRA_PROPERTIES in variants:
            list_details["resourceOwner"] = inst.id
        body = b'{"details":' + dumps(list_details)
        if V.EXTRA_PROPERTIES in variants and wanted.sorting:
            body += b',"sortingColumn":"SESSION_FIELD_NAME_CREATION_DATE"'
        if chunks:
            body += b',"sessions":[' + b",".join(chunks) + b"]"
        return raw_response(body + b"}")

    async def get_session(request: Request, inst: Instance, account: Account, beta: bool) -> Response:
        session_id: str = request.path_params["sessionId"]
        token = _token_param(request.scope["query_string"])
        session = inst.sessions.get(session_id)
        if session is None:
            session = _lost_session(inst, session_id)
            if session is None:
                if F.UNKNOWN_GET_200 in faults and session_id not in inst.tombstones:
                    return raw_response(b'{"session":{}}')
                raise ApiError(
                    NOT_FOUND, quoted(variants, "Session does not exist", session_id), "QUERY-SFeaa"
                )
        refused = token and not _token_ok(state, inst, session, token) and F.GET_WRONG_TOKEN_OK not in faults
        if token and F.GET_TOKEN_REFUSED in faults:  # the token is not honoured, only a permission would be
            refused = True
        if (
            token and not refused and V.EXPIRED_TOKEN_REFUSED in variants
        ):  # Z-21: an expired token reads nothing
            refused = session.expiration is not None and session.expiration <= store.clock.now()
        if refused:
            raise ApiError(
                PERMISSION_DENIED, quoted(variants, "the session token is invalid", session_id), "QUERY-dsfr3"
            )
        if not token and not may_read(account, session) and F.READ_WITHOUT_PERMISSION not in faults:
            message = quoted(variants, "No matching permissions found", session_id)
            raise ApiError(PERMISSION_DENIED, message, "AUTH-5mWD2")
        return raw_response(b'{"session":' + rendered(session, faults, variants) + b"}")

    def _lost_session(inst: Instance, session_id: str) -> Session | None:
        """Where faults find sessions a conformant server no longer (or never) shows this caller."""
        if F.DELETED_STILL_READABLE in faults and session_id in inst.tombstones:
            return inst.tombstones[session_id]
        if F.OTHER_ACCOUNT_VISIBLE in faults:
            for other in store.instances():
                if session_id in other.sessions:
                    return other.sessions[session_id]
        return None

    async def set_session(request: Request, inst: Instance, account: Account, beta: bool) -> Response:
        session_id = _path_id(request, "SetSessionRequest")
        change = parse_change(
            await _body(state, request),
            create=False,
            allow_non_positive_lifetime=F.VALIDATION_IGNORED in faults,
            read_user_agent=F.USERAGENT_CHANGED in faults,
        )
        stale: dict[str, bytes] | None = None
        if F.RACING_SET_LOST in faults and change.metadata and session_id in inst.sessions:
            stale = dict(inst.sessions[session_id].metadata)  # read outside the lock, then wait
            await asyncio.sleep(RACE_WINDOW_S)
        with inst.lock:
            session = inst.sessions.get(session_id)
            if session is not None and stale is not None:
                session.metadata = stale  # the other write's change is lost
            if session is None and F.SET_TERMINATED_OK in faults:
                session = inst.tombstones.get(session_id)
            if session is None:  # deleted, evicted or never created: not an active session
                message = quoted(variants, "Session is terminated", session_id)
                raise ApiError(FAILED_PRECONDITION, message, "COMMAND-Hewfq")
            if change.token and V.SET_TOKEN_IGNORED not in variants:  # Z-04: verified when given (≈v4)
                _verify_write_token(state, inst, session, change.token, None, variants)
            now = store.clock.now()
            if (
                session.expiration is not None
                and session.expiration <= now
                and F.EXPIRED_SET_ALLOWED not in faults
            ):
                raise ApiError(
                    FAILED_PRECONDITION, quoted(variants, "Session is expired", session_id), "COMMAND-Hkl3d"
                )
            try:
                outcome = run_change(
                    inst,
                    session,
                    change,
                    now=now,
                    faults=faults,
                    host=request.url.hostname,
                    create=False,
                    variants=variants,
                )
            except ApiError:
                if F.PARTIAL_FAILURE_APPLIES in faults and change.metadata:
                    session.metadata.update({k: v for k, v in change.metadata.items() if v})
                    session.touch()
                raise
            draft, token = outcome.session, None
            if outcome.changed or F.NOOP_ROTATES in faults:
                if outcome.changed and F.TOKEN_NOT_ROTATED in faults:
                    token = session.token
                else:
                    if F.OLD_TOKEN_VALID in faults:
                        draft.old_tokens = [*draft.old_tokens, session.token][-MAX_OLD_TOKENS:]
                    draft.token = token = new_token()
            frozen = F.SECOND_SET_FROZEN in faults and draft.sequence > 1
            if outcome.changed and not frozen:
                draft.sequence += 1
                draft.changed = now
                inst.events += 1
            for effect in outcome.effects:
                effect()
            (inst.tombstones if session.terminated else inst.sessions)[session_id] = draft
        payload: dict[str, Any] = {
            "details": details(inst, draft.sequence, draft.changed, faults, variants, created=draft.created)
        }
        if token:
            payload["sessionToken"] = token
        elif (beta and F.V2BETA_DIFFERS in faults) or V.NOOP_ECHOES_TOKEN in variants:  # Z-05 (≈2.4x)
            payload["sessionToken"] = draft.token
        _with_challenges(payload, outcome.challenges, state)
        return json_response(payload, 201 if F.SET_201 in faults else 200)

    async def delete_session(request: Request, inst: Instance, account: Account, beta: bool) -> Response:
        session_id = _path_id(request, "DeleteSessionRequest")
        token = parse_delete(await _body(state, request))
        with inst.lock:
            session = inst.sessions.get(session_id)
            if session is None and not token and F.DELETE_OTHER_INSTANCE in faults:
                for other in store.instances():
                    if session_id in other.sessions:
                        other.bury(other.sessions[session_id])
                        return json_response({"details": {}})
            if session is None:  # not active: nothing to do (ZTD-R51, Z-10)
                if F.DELETE_NOT_IDEMPOTENT in faults:
                    raise ApiError(NOT_FOUND, "Session does not exist", "COMMAND-D2s3f")
                buried = inst.tombstones.get(session_id)
                if buried is None:
                    if V.DELETE_UNKNOWN_404 in variants:  # Z-10
                        raise ApiError(
                            NOT_FOUND, quoted(variants, "Session does not exist", session_id), "COMMAND-D2s3f"
                        )
                    if V.DELETE_UNKNOWN_403 in variants:
                        message = quoted(variants, "No matching permissions found", session_id)
                        raise ApiError(PERMISSION_DENIED, message, "AUTH-5mWD2")
                    return json_response({"details": {}})
                if V.REDELETE_EMPTY_DETAILS in variants:
                    return json_response({"details": {}})
                answer = details(
                    inst, buried.sequence, buried.changed, faults, variants, created=buried.created
                )
                return json_response({"details": answer})
            if token:
                _verify_write_token(state, inst, session, token, F.DELETE_WRONG_TOKEN_OK, variants)
            elif not _may_delete(account, session) and F.DELETE_WITHOUT_PERMISSION not in faults:
                message = quoted(variants, "No matching permissions found", session_id)
                raise ApiError(PERMISSION_DENIED, message, "AUTH-5mWD2")
            if F.DELETE_NOOP in faults:  # answers like a delete, ends nothing
                answer = details(
                    inst, session.sequence, session.changed, faults, variants, created=session.created
                )
                return json_response({"details": answer})
            session.sequence += 1
            session.changed = store.clock.now()
            inst.events += 1
            inst.bury(session)
        answer = details(inst, session.sequence, session.changed, faults, variants, created=session.created)
        return json_response({"details": answer})

    def _list_view(inst: Instance) -> list[Session] | None:
        """ztd-list-lag: the sessions as of the last projection run, refreshed when older than the lag."""
        if F.LIST_NEVER_CATCHES_UP in faults:  # a projection that trails far behind (ZTD-R63: briefly)
            horizon = store.clock.now() - LIST_NEVER_CATCHES_UP_NS
            return [s for s in inst.sessions.values() if s.created <= horizon]
        if V.LIST_LAG not in variants:
            return None
        now = store.clock.now()
        if inst.list_view is None or now - inst.list_view_at > LIST_LAG_NS:
            inst.list_view, inst.list_view_at = list(inst.sessions.values()), now
        return inst.list_view

    def endpoint(handler: Handler, beta: bool) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                account = _authenticate(state, request)  # before any validation (ZTD-R01)
                # a restricted caller works in its account's instance, with its own permissions
                return await handler(request, store.instance(state.owner_of(account)), account, beta)
            except ApiError as exc:
                return _error(state, exc)

        return run

    async def unrouted(request: Request) -> Response:
        """Everything else under the prefixes: 405 on a known path, else 404 (no slash redirects)."""
        if _KNOWN_PATH.fullmatch(request.url.path):
            return http_error(405, "Method Not Allowed")
        return http_error(404, "Not Found")

    out: list[Route] = []
    for prefix, beta in PREFIXES:
        base = f"{prefix}/sessions"
        out += [
            Route(base, endpoint(create_session, beta), methods=["POST"]),
            Route(base + "/search", endpoint(list_sessions, beta), methods=["POST"]),
            Route(base + "/{sessionId}", endpoint(get_session, beta), methods=["GET"]),
            Route(base + "/{sessionId}", endpoint(set_session, beta), methods=["PATCH"]),
            Route(base + "/{sessionId}", endpoint(delete_session, beta), methods=["DELETE"]),
        ]
    for prefix, _ in PREFIXES:  # catch-alls: Starlette would otherwise answer some paths with a redirect
        out += [Route(prefix, unrouted), Route(f"{prefix}/{{rest:path}}", unrouted)]
    rpcs = {
        "CreateSession": create_session,
        "GetSession": get_session,
        "ListSessions": list_sessions,
        "SetSession": set_session,
        "DeleteSession": delete_session,
    }  # the same handlers and sessions over Connect (Connect sheet §1)
    out += connect.routes(state, store, rpcs, lambda r: _authenticate(state, r), lambda e: _error(state, e))
    return out


# --- provider states -----------------------------------------------------------------------------


def provider_state(state: ServerState, account: Account, name: str, params: dict[str, Any]) -> Response:
    """``zitadel user exists`` (target-interface.md) and ``zitadel idp intent succeeded`` (embedded)."""
    inst = _store(state).instance(account)
    if name == "zitadel user exists":
        user = inst.add_user()
        return JSONResponse({"user_id": user.id, "login_name": user.login_name, "password": user.password})
    if name == "zitadel idp intent succeeded":
        user_id = params.get("user_id")
        if not isinstance(user_id, str) or user_id not in inst.users:
            wanted = "params.user_id must be the ID of a user of this account's instance"
            return JSONResponse({"error": wanted}, 400)
        intent = inst.add_intent(user_id)
        return JSONResponse({"idp_intent_id": intent.id, "idp_intent_token": intent.token})
    return JSONResponse({"error": f"unknown provider state {name!r}"}, 400)
