"""The Zitadel Session Service family (v2, v2beta; REST and Connect): rules, created sessions, probe."""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any

from session_conformance.apis.family import Api, ApiFamily, CreatedSession, Probe
from session_conformance.apis.zitadel_connect import Call, connect_call, connect_service, rest_call

if TYPE_CHECKING:
    import httpx

_CREATE = re.compile(r"^/(v2|v2beta)/sessions/?$")
_SET = re.compile(r"^/(v2|v2beta)/sessions/([^/?]+)$")
_CONNECT_CREATE = re.compile(r"^/zitadel\.session\.(v2|v2beta)\.SessionService/CreateSession$")
CONNECT_APIS = frozenset({"zitadel-v2-connect", "zitadel-v2beta-connect"})
# rules of one transport only (Connect sheet §6): 201 and rpcStatus are the gateway's; ZTD-T.. Connect's
_REST_ONLY = frozenset({"ZTD-R02", "ZTD-R04", "ZTD-X01"})  # X01: the v2/v2beta parity is run over REST
_CONNECT_ONLY_PREFIX = "ZTD-T"
# gRPC status code -> HTTP status (grpc-gateway HTTPStatusFromCode; fact sheet §1.3)
HTTP_OF_GRPC: dict[int, int] = {
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}
# the error code of the gateway's own answers (fact sheet §1.3: 404 -> 5 NOT_FOUND, 405 -> 12 UNIMPLEMENTED)
_TRANSPORT_CODES = {404: 5, 405: 12}


class Zitadel(ApiFamily):
    name = "zitadel"
    rule_prefix = "ZTD-"
    switch_prefix = "ztd-"
    apis = (
        Api("zitadel-v2", "Zitadel Session Service", "2.0", "/v2"),
        Api("zitadel-v2beta", "Zitadel Session Service (beta)", "2.0-beta", "/v2beta"),
        Api("zitadel-v2-connect", "Zitadel Session Service over Connect", "2.0", connect_service("v2")),
        Api(
            "zitadel-v2beta-connect",
            "Zitadel Session Service (beta) over Connect",
            "2.0-beta",
            connect_service("v2beta"),
        ),
    )
    server_package = "session_conformance.server.zitadel"
    generic_rules = (
        "ZTD-R01",
        "ZTD-R02",
        "ZTD-R03",
        "ZTD-R04",
        "ZTD-R07",
        "ZTD-R08",
        "ZTD-R09",
        "ZTD-R10",
        "ZTD-R50",
        "ZTD-R63",
        "ZTD-T01",
        "ZTD-T02",
    )
    malformed_rule = "ZTD-R04"
    error_def = "response-default"  # rpcStatus
    documented_5xx = ("501",)
    empty_body_is_empty_message = True  # grpc-gateway decodes an empty body as {}
    create_status = 201
    no_nulls = True
    optional_apis = CONNECT_APIS  # Zitadel before v4 has no Connect handler (C01)
    # reads change nothing (GetSession is a POST over Connect); a delete is idempotent (ZTD-R51: a repeat
    # answers 200)
    repeatable_operations = frozenset(
        {"SessionService_GetSession", "SessionService_ListSessions", "SessionService_DeleteSession"}
    )

    def response_rule(self, status: int, *, create: bool, kind: str) -> str:
        if 200 <= status < 300:
            if kind == "status":
                return "ZTD-R02" if create else "ZTD-R03"
            return "ZTD-R08" if kind == "null" else "ZTD-R07"
        return "ZTD-R01" if status == 401 else "ZTD-R04"

    def fault_apis(self, fault: str) -> tuple[str, ...]:
        # REST and Connect run the same handlers: a REST fault shows over REST, a Connect one over Connect
        connect = fault.startswith("ztd-connect-")
        return tuple(api.name for api in self.apis if (api.name in CONNECT_APIS) == connect)

    def generic_rule(self, check: str, *, negative: bool, description: str | None) -> str | None:
        if check in ("not_a_server_error", "negative_data_rejection"):
            if not negative and check == "not_a_server_error":
                return "ZTD-R04"
            return "ZTD-R09" if "type" in (description or "").lower() else "ZTD-R10"
        return {"use_after_free": "ZTD-R50", "ensure_resource_availability": "ZTD-R63"}.get(check)

    def error_code(self, status: int) -> int | None:
        return _TRANSPORT_CODES.get(status)

    # --- per API: Connect differs from the gateway (Connect sheet §6) ---

    def response_rule_of(self, api: str, status: int, *, create: bool, kind: str) -> str:
        rule = self.response_rule(status, create=create, kind=kind)
        if api not in CONNECT_APIS:
            return rule
        return {"ZTD-R02": "ZTD-T02", "ZTD-R04": "ZTD-T01"}.get(rule, rule)

    def generic_rule_of(self, api: str, check: str, *, negative: bool, description: str | None) -> str | None:
        rule = self.generic_rule(check, negative=negative, description=description)
        return "ZTD-T01" if api in CONNECT_APIS and rule == "ZTD-R04" else rule

    def error_code_of(self, api: str, status: int) -> int | None:
        return None if api in CONNECT_APIS else self.error_code(status)

    def transport_answer_has_body(self, api: str, status: int) -> bool:
        # connect-go: unknown procedure 404 text/plain, wrong method 405 and media type 415 without body
        return api not in CONNECT_APIS

    def undocumented_method_rule(self, api: str) -> str:
        return "ZTD-T04" if api in CONNECT_APIS else self.malformed_rule

    def create_status_of(self, api: str) -> int | None:
        return 200 if api in CONNECT_APIS else self.create_status

    def reads_empty_body_as_empty_message(self, api: str) -> bool:
        return api not in CONNECT_APIS  # Connect's JSON codec refuses a zero-length payload (C04)

    def applies(self, rule_id: str, api: str) -> bool:
        if not self.owns_rule(rule_id) or api not in self.api_names():
            return self.owns_rule(rule_id)
        if api in CONNECT_APIS:
            return rule_id not in _REST_ONLY
        return not rule_id.startswith(_CONNECT_ONLY_PREFIX) and rule_id != "ZTD-X02"

    def unserved(self, api: str, status: int, content_type: str) -> str | None:
        if api in CONNECT_APIS and status in (404, 405, 415) and "json" not in content_type.lower():
            return (
                f"{api} skipped: the target does not serve Zitadel's Connect transport (its probe answered "
                f"{status} {content_type or 'without a Content-Type'}; Connect needs Zitadel v4+, C01)"
            )
        return None

    def is_connect(self, api: str) -> bool:
        return api in CONNECT_APIS

    def call(
        self,
        api: str,
        rpc: str,
        *,
        session_id: str | None = None,
        body: Any = None,
        token: str | None = None,
    ) -> Call:
        """The request that performs ``rpc`` on ``api``: how the suites address each operation."""
        build = connect_call if api in CONNECT_APIS else rest_call
        return build(self.api(api).path_prefix, rpc, session_id, body, token)

    def api_names(self) -> frozenset[str]:
        return frozenset(a.name for a in self.apis)

    def is_create(self, method: str, rel_path: str) -> bool:
        return method.upper() == "POST" and bool(_CREATE.match(rel_path) or _CONNECT_CREATE.match(rel_path))

    def create_path(self, api: str) -> str:
        return self.call(api, "CreateSession").path

    def session_token(self, created: dict[str, Any]) -> str | None:
        token = created.get("sessionToken")
        return token if isinstance(token, str) else None

    def rotated_token(
        self, method: str, rel_path: str, body: Any, sent: bytes = b""
    ) -> tuple[str, str, str] | None:
        token = body.get("sessionToken") if isinstance(body, dict) else None
        if method.upper() not in ("PATCH", "POST") or not isinstance(token, str):
            return None
        api = self.api_of_path(rel_path)
        if api is None:
            return None
        if api in CONNECT_APIS:  # SetSession names its session in the request body
            if method.upper() != "POST" or not rel_path.endswith("/SetSession"):
                return None
            with contextlib.suppress(ValueError, AttributeError, RecursionError):
                session_id = json.loads(sent).get("sessionId") if sent else None
                return (api, session_id, token) if isinstance(session_id, str) and session_id else None
            return None
        match = _SET.match(rel_path)
        return (api, match.group(2), token) if method.upper() == "PATCH" and match else None

    def end_session(self, client: httpx.Client, session: CreatedSession) -> int:
        headers = self.auth(session)
        if session.api in CONNECT_APIS:
            call = self.call(
                session.api, "DeleteSession", session_id=session.session_id, token=session.session_token
            )
            response = client.post(call.path, headers={**headers, **call.headers}, json=call.json)
            if response.status_code == 403 and session.session_token:
                fallback = self.call(session.api, "DeleteSession", session_id=session.session_id)
                response = client.post(
                    fallback.path, headers={**headers, **fallback.headers}, json=fallback.json
                )
            return response.status_code
        path = f"{self.api(session.api).path_prefix}/sessions/{session.session_id}"
        body = {"sessionToken": session.session_token} if session.session_token else {}
        response = client.request("DELETE", path, headers=headers, json=body)
        if response.status_code == 403 and body:
            # the token was rotated by a call we did not see: fall back on the caller's own permission
            response = client.request("DELETE", path, headers=headers, json={})
        return response.status_code

    def probe(self, api: str) -> Probe:
        call = self.call(api, "ListSessions", body={"query": {"limit": 1}})
        return Probe(call.method, call.path, json=call.json)


ZITADEL = Zitadel()
