"""Trinsic Sessions API v1: the embedded reference implementation of the nine operations.

Behaviour choices on the fact sheet's ambiguities are recorded in
``docs/decisions/trinsic-server.md``; every ``F.*`` test below is a fault switch that breaks one
documented rule on purpose (``trinsic/faults.py``).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.server.state import EMBEDDED_TRINSIC_PROVIDER, Account, ServerState
from session_conformance.server.trinsic import faults as F
from session_conformance.server.trinsic import providers as P
from session_conformance.server.trinsic import variants as V
from session_conformance.server.trinsic.http import (
    MAX_STRING,
    STRING_LIMIT,
    Invalid,
    check_string_fields,
    json_response,
    opt_bool,
    opt_object,
    opt_str,
    opt_str_list,
    parse_json_object,
    quoted,
    read_body,
    req_str,
    unauthorized,
)
from session_conformance.server.trinsic.http import problem as _problem
from session_conformance.server.trinsic.store import AccountSessions, TrinsicSession, TrinsicStore, order_key
from session_conformance.server.trinsic.validation import BodyValidator

PROVIDER_STATES = ("trinsic session finished",)
PREFIX = "/api/v1/sessions"
LAUNCH_BASE = "https://launch.conformance.test"  # reserved TLD: launch URLs never resolve
NOT_FOUND = "Session not found."  # one text for unknown, foreign and wrong-key: reveals nothing
ERROR_CODES = (
    "Internal",
    "Other",
    "Canceled",
    "UserAbandoned",
    "UserTimedOut",
    "Expired",
    "InvalidImage",
    "Inauthentic",
    "UnsupportedDocument",
    "AssuranceLevelNotMet",
)
ORDERINGS = ("Created", "Updated", "State")
DIRECTIONS = ("Ascending", "Descending")
MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE_25 = 25  # the default PageSize of the trn-page-size-25 variant
MAX_PAGE = 2**31 - 1

Handler = Callable[[Request, Account, AccountSessions], Awaitable[Response]]


def problem(status: int, detail: str) -> Response:
    return _problem(status, detail)


# --- state shared by the routes and the provider-state hook ---------------------------------------


def _store(state: ServerState) -> TrinsicStore:
    return state.store("trinsic", TrinsicStore)


# --- wire shapes ---------------------------------------------------------------------------------


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _session_json(state: ServerState, session: TrinsicSession, *, in_list: bool = False) -> dict[str, Any]:
    out = session.to_json()
    if F.TIMESTAMPS_MS in state.faults:
        out["created"], out["updated"] = out["created"] * 1000, out["updated"] * 1000
    if not session.finished and out["errorCode"] is None and F.ERROR_CODE_IN_PROGRESS in state.faults:
        out["errorCode"] = "Other"
    if in_list and out["errorCode"] == "Canceled" and F.UNKNOWN_ENUM_VALUE in state.faults:
        out["errorCode"] = "CANCELED"
    if V.OMIT_NULLS in state.variants and out["errorCode"] is None:
        del out["errorCode"]  # optional and nullable, so absent is as good as null
    if V.EXTRA_PROPERTIES in state.variants:
        out["provider"] = session.provider  # an undocumented property a newer API might add
    return out


def _step_json(state: ServerState, step: dict[str, Any] | None) -> dict[str, Any] | None:
    """The IntegrationStep as sent: A-16 lets a server leave out a null ``refresh``."""
    if step is None or step.get("refresh") is not None or V.REFRESH_OMITTED not in state.variants:
        return step
    return {key: value for key, value in step.items() if key != "refresh"}


def _identity(state: ServerState, provider: str) -> dict[str, Any]:
    """Verified identity data of a finished session: a fixed, clearly fictional person."""
    key = secrets.token_urlsafe(12)
    extra = {"originatingSubProviderId": f"{provider}-sub"} if V.EXTRA_PROPERTIES in state.variants else {}
    return {
        "originatingProviderId": provider,
        **extra,
        "person": {
            "givenName": "Ada",
            "familyName": "Lovelace",
            "fullName": "Ada Lovelace",
            "dateOfBirth": "1815-12-10",
            "sex": "Female",
            "nationality": "GB",
            "address": {
                "line1": "12 St James's Square",
                "city": "London",
                "postalCode": "SW1Y 4JH",
                "country": "GB",
                "fullAddress": "12 St James's Square, London SW1Y 4JH, GB",
            },
        },
        "document": {
            "type": "Passport",
            "number": "C01X00T47",
            "issueDate": "2020-01-01",
            "expirationDate": "2030-01-01",
            "issuingCountry": "GBR",
            "issuingAuthority": "HM Passport Office",
        },
        "attachmentAccessKeys": {
            "selfie": f"att_selfie_{key}",
            "documentFront": f"att_front_{key}",
            "provider": {"document-scan": {"report": f"att_report_{key}"}},
        },
    }


def _refresh_info(state: ServerState, issued: float) -> dict[str, Any]:
    ttl = P.CONTENT_TTL_SECONDS
    info = {
        "expiresAt": _iso(issued + ttl),
        "refreshAfter": _iso(issued + ttl * 2 // 3),
        "timeToLiveSeconds": ttl,
    }
    if F.REFRESH_INFO_INCONSISTENT in state.faults:
        info["refreshAfter"] = _iso(issued + ttl + 60)
        info["timeToLiveSeconds"] = 0
    return info


def _step(state: ServerState, session: TrinsicSession, method: str, provider: P.Provider | None) -> None:
    """Set the session's current IntegrationStep (fresh content each call)."""
    nonce = secrets.token_urlsafe(16)
    refresh = None
    if method == P.LAUNCH_BROWSER:
        where = "hosted" if provider is None else f"provider/{provider.id}"
        content = f"{LAUNCH_BASE}/{where}/{nonce}"
        if F.STEP_CONTENT_NOT_URL in state.faults:
            content = f"open provider {nonce}"
    elif method == P.DEEPLINK:
        content = f"trinsic-conformance://verify/{nonce}"
    elif method == P.SHOW_CONTENT:
        content = f"CONFORMANCE-TEST:{nonce}"  # text to show, e.g. as a QR code
    else:  # PollResult as a launch method: nothing for the user to do
        content = "No user interaction is needed; poll for the results."
    if provider is not None and provider.refreshable and method == P.SHOW_CONTENT:
        # Issued times only move forward, so a refresh always yields later expiry times.
        session.step_issued = max(time.time(), session.step_issued + 0.001)
        refresh = _refresh_info(state, session.step_issued)
    session.step = {"method": method, "content": content, "refresh": refresh}


# --- request plumbing ----------------------------------------------------------------------------


def _endpoint(
    state: ServerState, handler: Handler, *, text_plain: bool = True
) -> Callable[[Request], Awaitable[Response]]:
    store = _store(state)
    primary = state.accounts[0]

    async def endpoint(request: Request) -> Response:
        header = request.headers.get("authorization")
        account = state.account_for(header)
        if account is None:
            if F.AUTH_NOT_ENFORCED in state.faults:
                account = primary
            elif F.AUTH_WRONG_STATUS in state.faults:
                return _served(state, problem(400, "bad request"), text_plain)
            elif F.AUTH_403_FOR_MISSING in state.faults:
                return _served(state, Response(b"", status_code=403), text_plain)
            else:
                answer = unauthorized(bool(header), problem_body=V.AUTH_PROBLEM in state.variants)
                return _served(state, answer, text_plain)
        limit = STRING_LIMIT.set(None if V.NO_MAX_LENGTH in state.variants else MAX_STRING)
        try:
            response = await handler(request, account, store.of(account.token))
        except Invalid as exc:
            if exc.status == 400 and F.PROBLEM_PLAIN_TEXT in state.faults:
                return Response(exc.detail, status_code=400, media_type="text/plain")
            response = _problem_of(state, exc)
        finally:
            STRING_LIMIT.reset(limit)
        return _served(state, response, text_plain)

    return endpoint


def _problem_of(state: ServerState, exc: Invalid) -> Response:
    detail = exc.detail
    if exc.quote is not None and V.DETAIL_QUOTES in state.variants:
        detail = f"{detail} (got {quoted(exc.quote)})"
    if exc.status == 400 and V.VALIDATION_PROBLEM in state.variants:
        return _problem(400, detail, errors={exc.field: [detail]})
    return problem(exc.status, detail)


def _served(state: ServerState, response: Response, text_plain: bool) -> Response:
    """A-21: the JSON body served as ``text/plain``, one of the documented response types of every
    operation but redact (whose only documented type is ``application/json``)."""
    media = (response.headers.get("content-type") or "").split(";", 1)[0]
    plain = text_plain and V.TEXT_PLAIN in state.variants
    if plain and media in ("application/json", "application/problem+json"):
        response.headers["content-type"] = "text/plain; charset=utf-8"
    return response


async def _json_body(state: ServerState, request: Request) -> dict[str, Any]:
    raw = await read_body(request)
    if not raw and V.EMPTY_BODY_IS_OBJECT in state.variants:
        return {}  # a missing body binds as an empty model; the required fields are then missing
    if not raw.strip():
        raise Invalid(400, "a non-empty request body is required")
    try:
        return parse_json_object(raw, request.headers.get("content-type"))
    except Invalid as exc:
        if exc.status == 400 and F.SERVER_ERROR_ON_ODD_INPUT in state.faults:
            raise Invalid(500, "internal error") from None
        raise


def _session_id(state: ServerState, raw: str) -> str:
    """A-17 variant: IDs are upper-case UUIDs and, like a .NET Guid, match whatever their case."""
    return raw.upper() if V.UPPER_CASE_IDS in state.variants else raw


def _not_found(state: ServerState, session_id: str, *, wrong_key: bool = False) -> Invalid:
    """Unknown session (A-01), wrong results access key (A-03): 404 unless a variant says 400.

    With trn-unknown-session-400 a wrong key is the same 400 (no oracle); trn-wrong-key-400 alone keeps
    unknown sessions at 404, so a key can be told from a session (the suites warn about that)."""
    as_400 = V.UNKNOWN_400 in state.variants or (wrong_key and V.WRONG_KEY_400 in state.variants)
    return Invalid(400 if as_400 else 404, NOT_FOUND, quote=session_id, field="sessionId")


def _find(
    state: ServerState, sessions: AccountSessions, session_id: str, foreign_fault: str | None = None
) -> TrinsicSession:
    key = _session_id(state, session_id)
    session = sessions.get(key)
    if session is None and (
        V.FOREIGN_403 in state.variants or (foreign_fault is not None and foreign_fault in state.faults)
    ):
        store = _store(state)
        foreign = None
        for account in state.accounts:
            foreign = foreign or store.of(account.token).get(key)
        if foreign is not None and foreign_fault is not None and foreign_fault in state.faults:
            return foreign
        if foreign is not None:  # A-24 variant: the session exists, but not for this caller
            raise Invalid(403, "The session belongs to another account.", quote=session_id, field="sessionId")
    if session is None:
        raise _not_found(state, session_id)
    return session


def _created(state: ServerState, payload: dict[str, Any]) -> Response:
    return json_response(payload, 201 if F.CREATE_201 in state.faults else 200)


def _new_session(
    state: ServerState, sessions: AccountSessions, kind: str, provider: str | None
) -> TrinsicSession:
    session_id = secrets.token_hex(16) if F.NON_UUID_SESSION_ID in state.faults else None
    if V.UPPER_CASE_IDS in state.variants:
        session_id = (session_id or str(uuid.uuid4())).upper()
    session = sessions.create(kind, provider, session_id=session_id)
    if F.UPDATED_BEFORE_CREATED in state.faults:
        session.updated = session.created - 1
    return session


def _provider(provider_id: str) -> P.Provider:
    provider = P.PROVIDERS.get(provider_id)
    if provider is None:
        raise Invalid(
            400, "provider is not a provider enabled for this account", quote=provider_id, field="provider"
        )
    return provider


def _check_provider_input(state: ServerState, body: dict[str, Any]) -> dict[str, Any] | None:
    provider_input = opt_object(body, "providerInput")
    if provider_input is None:
        return None
    for rule, message in P.input_errors(provider_input):
        if rule == "TRN-R38" and F.INVALID_INPUT_ACCEPTED in state.faults:
            continue
        if rule == "TRN-R39" and F.CNH_CONTENT_TYPE_UNCHECKED in state.faults:
            continue
        raise Invalid(400, message)
    return provider_input


def _launch_url(kind: str) -> str:
    return f"{LAUNCH_BASE}/{kind}/{secrets.token_urlsafe(24)}"


# --- the nine operations ---------------------------------------------------------------------------


def routes(state: ServerState) -> list[Route]:
    validator = BodyValidator.for_state(state)
    faults = state.faults
    variants = state.variants

    async def create_widget(request: Request, account: Account, sessions: AccountSessions) -> Response:
        body = await _json_body(state, request)
        validator.check("createWidgetSession", body)
        opt_str(body, "redirectUrl")
        providers = opt_str_list(body, "providers")
        known = opt_object(body, "knownIdentityData")
        if providers is not None:
            if F.WIDGET_PROVIDERS_REJECTED in faults:
                raise Invalid(400, "providers cannot be restricted")
            if not providers:
                raise Invalid(400, "providers must name at least one provider when given")
            for provider_id in providers:
                _provider(provider_id)
        if known is not None:
            if F.KNOWN_IDENTITY_REJECTED in faults:
                raise Invalid(400, "knownIdentityData is not supported")
            person = opt_object(known, "person", where="knownIdentityData.")
            if person is not None:
                check_string_fields(person, "knownIdentityData.person.", nested=("address",))
        session = _new_session(state, sessions, "widget", None)
        session.launch_url = _launch_url("widget")
        if F.WIDGET_LAUNCH_URL_NOT_URL in faults:
            session.launch_url = "widget:" + secrets.token_urlsafe(24)
        payload = {"sessionId": session.id, "launchUrl": session.launch_url}
        if V.EXTRA_PROPERTIES in variants:
            payload["resultsAccessKey"] = session.results_access_key  # as SDK 2.0.0 has it
        return _created(state, payload)

    async def create_hosted(request: Request, account: Account, sessions: AccountSessions) -> Response:
        body = await _json_body(state, request)
        validator.check("createHostedProviderSession", body)
        provider = _provider(req_str(body, "provider"))
        if F.HOSTED_REDIRECT_OPTIONAL in faults:
            opt_str(body, "redirectUrl")
        else:
            req_str(body, "redirectUrl")
        provider_input = _check_provider_input(state, body)
        session = _new_session(state, sessions, "hosted", provider.id)
        session.launch_url = _launch_url("hosted")
        if F.HOSTED_LAUNCH_URL_RELATIVE in faults:
            session.launch_url = session.launch_url.removeprefix(LAUNCH_BASE)
        payload: dict[str, Any] = {"sessionId": session.id, "launchUrl": session.launch_url}
        if (
            V.LAUNCH_URL_ABSENT in variants
            and provider.launch == P.POLL
            and P.has_input(provider, provider_input)
        ):  # nothing for the user to do, so nothing to launch; the lookup runs server-side
            session.launch_url = None
            del payload["launchUrl"]
        if V.EXTRA_PROPERTIES in variants:
            payload["resultsAccessKey"] = session.results_access_key
        return _created(state, payload)

    async def create_advanced(request: Request, account: Account, sessions: AccountSessions) -> Response:
        body = await _json_body(state, request)
        validator.check("createAdvancedProviderSession", body)
        provider = _provider(req_str(body, "provider"))
        capabilities = opt_str_list(body, "capabilities", max_items=len(P.CAPABILITIES) * 4)
        if capabilities is None:
            raise Invalid(400, "capabilities is required")
        if not capabilities and F.EMPTY_CAPABILITIES not in faults:
            raise Invalid(400, "capabilities must contain at least one IntegrationCapability")
        unknown = [c for c in capabilities if c not in P.CAPABILITIES]
        if unknown:
            raise Invalid(400, "capabilities must only contain IntegrationCapability values")
        declared = frozenset(capabilities)
        if not declared and F.EMPTY_CAPABILITIES in faults:
            declared = provider.needs  # an empty list taken as "whatever the provider needs"
        redirect_url = opt_str(body, "redirectUrl")
        fallback = bool(opt_bool(body, "fallbackToHostedUI"))
        provider_input = _check_provider_input(state, body)

        if fallback and F.FALLBACK_WITHOUT_REDIRECT not in faults:  # TRN-R18
            if not redirect_url:
                raise Invalid(400, "fallbackToHostedUI requires a non-empty redirectUrl")
            if not set(P.HOSTED_FLOW) <= declared:
                raise Invalid(
                    400, "fallbackToHostedUI requires the LaunchBrowser and CaptureRedirect capabilities"
                )
        missing = sorted(provider.needs - declared)
        input_gap = provider.input_required and not P.has_input(provider, provider_input)
        hosted = False
        if missing or input_gap:
            if not fallback and F.CAPABILITY_GAP_ACCEPTED not in faults:  # TRN-R15
                what = (
                    f"capabilities {', '.join(missing)}" if missing else f"providerInput.{provider.input_key}"
                )
                raise Invalid(
                    422 if F.CAPABILITY_GAP_422 in faults else 400,
                    f"provider {provider.id} needs {what}; declare it or set fallbackToHostedUI",
                )
            if fallback and F.FALLBACK_REJECTED in faults:
                raise Invalid(400, "the integrator's capabilities do not cover the provider's needs")
            hosted = fallback and F.FALLBACK_NATIVE_STEP not in faults  # TRN-R16/R17
        if (
            not hosted
            and provider.redirect_based
            and not redirect_url
            and F.REDIRECT_PROVIDER_WITHOUT_URL not in faults
        ):  # TRN-R19
            raise Invalid(400, f"provider {provider.id} is redirect based and needs a redirectUrl")

        session = _new_session(state, sessions, "advanced", provider.id)
        session.capabilities = declared
        if hosted:
            _step(state, session, P.LAUNCH_BROWSER, None)
            session.result_method = P.CAPTURE_REDIRECT
            if F.FALLBACK_NATIVE_COLLECTION in faults and provider.collect in declared:
                session.result_method = provider.collect
        elif (
            F.MOBILE_STEP_WRONG in faults and provider.launch == P.DEEPLINK and set(P.HOSTED_FLOW) <= declared
        ):
            _step(state, session, P.LAUNCH_BROWSER, provider)  # a browser flow instead of the deeplink one
            session.result_method = P.CAPTURE_REDIRECT
        else:
            _step(state, session, provider.launch, provider)
            session.result_method = provider.collect
            if F.STEP_OUTSIDE_CAPABILITIES in faults:
                undeclared = [m for m in (P.POLL, P.CAPTURE_REDIRECT) if m not in declared]
                session.result_method = undeclared[0] if undeclared else session.result_method
        key = session.results_access_key if session.result_method == P.POLL else None
        if F.POLL_WITHOUT_KEY in faults:
            key = None
        if session.result_method == P.CAPTURE_REDIRECT and F.CAPTURE_WITH_KEY in faults:
            key = session.results_access_key
        collection: dict[str, Any] = {"method": session.result_method, "resultsAccessKey": key}
        if key is None and V.OMIT_NULLS in variants:
            del collection["resultsAccessKey"]
        return _created(
            state,
            {
                "sessionId": session.id,
                "resultCollection": collection,
                "nextStep": _step_json(state, session.step),
            },
        )

    async def get_session(request: Request, account: Account, sessions: AccountSessions) -> Response:
        session = _find(state, sessions, request.path_params["sessionId"], F.GET_FOREIGN)
        payload: dict[str, Any] = {"session": _session_json(state, session)}
        if F.READ_ID_DIFFERS in faults:
            payload["session"]["id"] = session.id.replace("-", "")
        if F.LAUNCH_URL_ON_GET in faults and session.launch_url:
            payload["launchUrl"] = session.launch_url
        return json_response(payload)

    async def list_sessions(request: Request, account: Account, sessions: AccountSessions) -> Response:
        order_by, direction, page_size, page = _list_params(state, request)
        items = sessions.snapshot()
        if F.SECOND_ACCOUNT_SEES_PRIMARY in faults and account is state.accounts[1]:
            items = _store(state).of(state.accounts[0].token).snapshot()
        if F.LIST_FOREIGN in faults:
            store = _store(state)
            items = [s for a in state.accounts for s in store.of(a.token).snapshot()]
        if V.LIST_HIDES_REDACTED in variants:  # a redacted session has left the listing
            items = [s for s in items if not s.redacted]
        if F.DIRECTION_IGNORED in faults:
            direction = "Descending"
        if F.ORDER_BY_IGNORED in faults:
            order_by = "Created"
        if order_by == "Created" and F.LIST_FOREIGN not in faults:
            if direction == "Descending":  # creation order is the store's order: no sort needed
                items.reverse()
        else:
            items.sort(
                key=order_key(order_by, failed_first=V.STATE_ORDER in variants),
                reverse=direction == "Descending",
            )
        total = len(items)
        if F.PAGE_SIZE_IGNORED in faults:
            page_size = max(total, 1)
        start = (page if F.PAGE_OFF_BY_ONE in faults else page - 1) * page_size
        chunk = items[start : start + page_size]
        more = page * page_size < total and F.MORE_WRONG not in faults
        if F.TOTAL_WRONG in faults:
            total = len(chunk)
        return json_response(
            {"sessions": [_session_json(state, s, in_list=True) for s in chunk], "total": total, "more": more}
        )

    async def cancel_session(request: Request, account: Account, sessions: AccountSessions) -> Response:
        session = _find(state, sessions, request.path_params["sessionId"], F.CANCEL_FOREIGN)
        if session.finished and V.FINISHED_REFUSES in variants:  # refused, nothing changes
            raise Invalid(400, "The session is already finished; it cannot be cancelled.", field="sessionId")
        if not session.finished and F.CANCEL_REFUSED in faults:
            raise Invalid(400, "The session cannot be cancelled.", field="sessionId")
        with sessions.lock:
            if not session.finished and F.CANCEL_NOT_FINISHING not in faults:  # finished = no-op
                session.finished = session.done = True
                session.success = False
                session.error_code = "Other" if F.CANCEL_WRONG_ERROR_CODE in faults else "Canceled"
                session.step = None
                if F.UPDATED_GOES_BACK in faults:
                    session.updated -= 1
                elif F.UPDATED_FROZEN not in faults:
                    sessions.touch(session)
        return json_response({"session": _session_json(state, session)})

    async def redact_session(request: Request, account: Account, sessions: AccountSessions) -> Response:
        session = _find(state, sessions, request.path_params["sessionId"])
        if session.redacted and V.FINISHED_REFUSES in variants:  # a second redact is refused
            raise Invalid(400, "The session has already been redacted.", field="sessionId")
        if not session.finished and V.REDACT_NEEDS_FINISHED in variants:
            raise Invalid(
                400, "The session is still in progress; cancel it before redacting.", field="sessionId"
            )
        with sessions.lock:
            session.redacted = True
            if F.REDACT_TEMPORARY in faults:
                session.hide_identity_calls = 1  # hidden once, then back
            elif F.REDACT_KEEPS_DATA not in faults:
                session.identity = None  # gone for good: nothing to restore from
        if F.REDACT_JSON_BODY in faults:
            return json_response({"session": _session_json(state, session)})
        return Response(b"", status_code=204 if V.REDACT_204 in variants else 200)

    async def get_results(request: Request, account: Account, sessions: AccountSessions) -> Response:
        body = await _json_body(state, request)
        validator.check("getSessionResult", body)
        key = opt_str(body, "resultsAccessKey")
        if key is None:
            raise Invalid(400, "resultsAccessKey is required", field="resultsAccessKey")
        session_id = request.path_params["sessionId"]
        session = sessions.get(_session_id(state, session_id))
        if session is None:
            raise _not_found(state, session_id)
        if not (
            secrets.compare_digest(key.encode(), session.results_access_key.encode())
            or F.RESULTS_WRONG_KEY_ACCEPTED in faults
        ):
            raise _not_found(state, session_id, wrong_key=True)
        payload: dict[str, Any] = {"session": _session_json(state, session)}
        identity = session.identity
        if session.hide_identity_calls > 0:
            session.hide_identity_calls -= 1
            identity = None
        if identity is not None and F.RESULTS_WITHOUT_IDENTITY not in faults:
            payload["identityData"] = identity
        elif session.redacted and F.REDACT_NULLED_IDENTITY in faults:
            payload["identityData"] = dict.fromkeys(
                ("originatingProviderId", "person", "document", "attachmentAccessKeys")
            )
        return json_response(payload)

    async def refresh_step(request: Request, account: Account, sessions: AccountSessions) -> Response:
        body = await _json_body(state, request)  # required by the contract; {} is fine
        validator.check("refreshStepContent", body)
        key = opt_str(body, "resultsAccessKey")
        if key is None and V.REFRESH_KEY_REQUIRED in variants:  # the key is what authorises it
            raise Invalid(400, "resultsAccessKey is required", field="resultsAccessKey")
        session_id = request.path_params["acceptanceSessionId"]
        session = sessions.get(_session_id(state, session_id))
        if session is None:
            raise _not_found(state, session_id)
        if key is not None and not secrets.compare_digest(key.encode(), session.results_access_key.encode()):
            raise _not_found(state, session_id, wrong_key=True)
        if session.kind != "advanced":
            raise Invalid(400, "only Advanced Provider Sessions have steps to refresh")
        if session.finished or session.step is None:
            raise Invalid(400, "the session is finished; there is no step to refresh")
        if session.step["refresh"] is None:
            raise Invalid(400, "the current step has no refreshable content")
        if F.REFRESH_STALE not in faults:
            with sessions.lock:
                _step(state, session, session.step["method"], P.PROVIDERS.get(session.provider or ""))
        step = _step_json(state, session.step)
        if step is not None and F.REFRESH_INFO_DROPPED in faults:
            step = {**step, "refresh": None}
        return json_response({"nextStep": step})

    def route(path: str, handler: Handler, method: str, *, text_plain: bool = True) -> Route:
        return Route(PREFIX + path, _endpoint(state, handler, text_plain=text_plain), methods=[method])

    return [
        # The literal "list" segment must win over "{sessionId}" (fact sheet 2.7 route note).
        route("/list", list_sessions, "GET"),
        route("/widget", create_widget, "POST"),
        route("/provider/hosted", create_hosted, "POST"),
        route("/provider/advanced", create_advanced, "POST"),
        route("/{sessionId}", get_session, "GET"),
        route("/{sessionId}/cancel", cancel_session, "POST"),
        route("/{sessionId}/redact", redact_session, "POST", text_plain=False),
        route("/{sessionId}/results", get_results, "POST"),
        route("/{acceptanceSessionId}/step/refresh", refresh_step, "POST"),
    ]


def _list_params(state: ServerState, request: Request) -> tuple[str, str, int, int]:
    """OrderBy, OrderDirection, PageSize, Page; names bind case-insensitively like ASP.NET (A-04)."""
    exact = V.QUERY_CASE_SENSITIVE in state.variants  # A-04 variant: only PascalCase binds
    given: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if exact and name not in ("OrderBy", "OrderDirection", "PageSize", "Page"):
            continue
        given.setdefault(name.lower(), value)
    order_by = given.get("orderby", "Created")
    if order_by not in ORDERINGS:
        raise Invalid(400, "OrderBy must be one of Created, Updated, State", quote=order_by, field="OrderBy")
    direction = given.get("orderdirection", "Descending")
    if direction not in DIRECTIONS:
        raise Invalid(
            400, "OrderDirection must be Ascending or Descending", quote=direction, field="OrderDirection"
        )
    unbounded = F.PAGE_SIZE_UNBOUNDED in state.faults
    default_size = DEFAULT_PAGE_SIZE_25 if V.PAGE_SIZE_25 in state.variants else MAX_PAGE_SIZE
    page_size = _int_param(given.get("pagesize"), "PageSize", default_size, MAX_PAGE_SIZE, unbounded)
    page = _int_param(given.get("page"), "Page", 1, MAX_PAGE, False)
    return order_by, direction, page_size, page


def _int_param(raw: str | None, name: str, default: int, high: int, unbounded: bool) -> int:
    if raw is None:
        return default
    text = raw.strip()
    if not (text.lstrip("-").isascii() and text.lstrip("-").isdigit()) or len(text) > 12:
        raise Invalid(400, f"{name} must be an integer between 1 and {high}", quote=raw, field=name)
    value = int(text)
    if unbounded:
        return max(value, 1)
    if not 1 <= value <= high:
        raise Invalid(400, f"{name} must be an integer between 1 and {high}", quote=raw, field=name)
    return value


# --- provider state ------------------------------------------------------------------------------


def provider_state(state: ServerState, account: Account, name: str, params: dict[str, Any]) -> Response:
    """``trinsic session finished``: the end user finished the session (target-interface.md)."""
    if name != PROVIDER_STATES[0]:
        return JSONResponse({"error": f"unknown provider state {name!r}"}, 400)
    session_id, success = params.get("session_id"), params.get("success")
    error_code = params.get("error_code", None if success else "Other")
    if not isinstance(session_id, str) or not isinstance(success, bool):
        return JSONResponse({"error": "params: session_id (string) and success (boolean) are required"}, 400)
    if not success and error_code not in ERROR_CODES:
        return JSONResponse({"error": "params.error_code must be a SessionErrorCode value"}, 400)
    sessions = _store(state).of(account.token)
    session = sessions.get(_session_id(state, session_id))
    if session is None:
        return JSONResponse({"error": "no such session for this account"}, 404)
    faults = state.faults
    with sessions.lock:
        if session.finished:
            return JSONResponse({"error": "the session is already finished"}, 409)
        session.finished = True
        session.done = not (
            (success and F.SUCCESS_WITHOUT_DONE in faults) or (not success and F.FAILED_NOT_DONE in faults)
        )
        session.success = success
        session.error_code = None if success else error_code
        if not session.done and not success:
            session.error_code = None  # trn-failed-not-done: looks like a session still in progress
        if success and F.ERROR_CODE_ON_SUCCESS in faults:
            session.error_code = "Other"
        session.step = None
        if success and (not session.redacted or F.REDACT_KEEPS_DATA in faults):
            session.identity = _identity(state, session.provider or EMBEDDED_TRINSIC_PROVIDER)
            if F.ATTACHMENT_KEYS_WITHOUT_PROVIDER in faults:
                del session.identity["attachmentAccessKeys"]["provider"]
        if F.UPDATED_FROZEN not in faults:
            sessions.touch(session)
    return JSONResponse({"results_access_key": session.results_access_key})
