"""The Zitadel Session Service family (v2, v2beta): rule mapping, created sessions (deleted), probe."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from session_conformance.apis.family import Api, ApiFamily, CreatedSession, Probe

if TYPE_CHECKING:
    import httpx

_CREATE = re.compile(r"^/(v2|v2beta)/sessions/?$")
_SET = re.compile(r"^/(v2|v2beta)/sessions/([^/?]+)$")
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
    )
    malformed_rule = "ZTD-R04"
    error_def = "response-default"  # rpcStatus
    documented_5xx = ("501",)
    empty_body_is_empty_message = True  # grpc-gateway decodes an empty body as {}
    create_status = 201
    no_nulls = True
    # the search changes nothing; a delete is idempotent (ZTD-R51: a repeat answers 200)
    repeatable_operations = frozenset({"SessionService_ListSessions", "SessionService_DeleteSession"})

    def response_rule(self, status: int, *, create: bool, kind: str) -> str:
        if 200 <= status < 300:
            if kind == "status":
                return "ZTD-R02" if create else "ZTD-R03"
            return "ZTD-R08" if kind == "null" else "ZTD-R07"
        return "ZTD-R01" if status == 401 else "ZTD-R04"

    def generic_rule(self, check: str, *, negative: bool, description: str | None) -> str | None:
        if check in ("not_a_server_error", "negative_data_rejection"):
            if not negative and check == "not_a_server_error":
                return "ZTD-R04"
            return "ZTD-R09" if "type" in (description or "").lower() else "ZTD-R10"
        return {"use_after_free": "ZTD-R50", "ensure_resource_availability": "ZTD-R63"}.get(check)

    def error_code(self, status: int) -> int | None:
        return _TRANSPORT_CODES.get(status)

    def is_create(self, method: str, rel_path: str) -> bool:
        return method.upper() == "POST" and bool(_CREATE.match(rel_path))

    def create_path(self, api: str) -> str:
        return f"{self.api(api).path_prefix}/sessions"

    def session_token(self, created: dict[str, Any]) -> str | None:
        token = created.get("sessionToken")
        return token if isinstance(token, str) else None

    def rotated_token(self, method: str, rel_path: str, body: Any) -> tuple[str, str, str] | None:
        match = _SET.match(rel_path)
        token = body.get("sessionToken") if isinstance(body, dict) else None
        if method.upper() != "PATCH" or match is None or not isinstance(token, str):
            return None
        api = self.api_of_path(rel_path)
        return (api, match.group(2), token) if api else None

    def end_session(self, client: httpx.Client, session: CreatedSession) -> int:
        headers = self.auth(session)
        path = f"{self.api(session.api).path_prefix}/sessions/{session.session_id}"
        body = {"sessionToken": session.session_token} if session.session_token else {}
        response = client.request("DELETE", path, headers=headers, json=body)
        if response.status_code == 403 and body:
            # the token was rotated by a call we did not see: fall back on the caller's own permission
            response = client.request("DELETE", path, headers=headers, json={})
        return response.status_code

    def probe(self, api: str) -> Probe:
        return Probe("POST", f"{self.api(api).path_prefix}/sessions/search", json={"query": {"limit": 1}})


ZITADEL = Zitadel()
