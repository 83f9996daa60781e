"""The Trinsic Sessions API v1 family: rule mapping, created sessions (cancelled at the end), probe."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from session_conformance.apis.family import Api, ApiFamily, CreatedSession, Probe

if TYPE_CHECKING:
    import httpx

_CREATE = re.compile(r"^/api/v1/sessions/(widget|provider/hosted|provider/advanced)/?$")


class Trinsic(ApiFamily):
    name = "trinsic"
    rule_prefix = "TRN-"
    switch_prefix = "trn-"
    apis = (Api("trinsic", "Trinsic Sessions API", "v1", "/api/v1"),)
    server_package = "session_conformance.server.trinsic"
    generic_rules = ("TRN-R02", "TRN-R03", "TRN-R04", "TRN-R37", "TRN-R42", "TRN-R51", "TRN-X01")
    malformed_rule = "TRN-X01"
    error_def = "response-400"  # ProblemDetails
    # the results read changes nothing; cancel and redact are not: a repeat may answer 400
    repeatable_operations = frozenset({"getSessionResult"})

    def response_rule(self, status: int, *, create: bool, kind: str) -> str:
        if kind == "enum":
            return "TRN-R42"
        if 200 <= status < 300:
            return "TRN-R04"
        return "TRN-R02" if status in (401, 403) else "TRN-R03"

    def generic_rule(self, check: str, *, negative: bool, description: str | None) -> str | None:
        if check in ("not_a_server_error", "negative_data_rejection"):
            return "TRN-X01" if negative or check == "negative_data_rejection" else "TRN-R04"
        return {"use_after_free": "TRN-R29", "ensure_resource_availability": "TRN-R51"}.get(check)

    def error_code(self, status: int) -> int | None:
        return None  # ProblemDetails carries the HTTP status itself

    def is_create(self, method: str, rel_path: str) -> bool:
        return method.upper() == "POST" and bool(_CREATE.match(rel_path))

    def create_path(self, api: str) -> str:
        return "/api/v1/sessions/widget"

    def end_session(self, client: httpx.Client, session: CreatedSession) -> int:
        path = f"/api/v1/sessions/{session.session_id}/cancel"
        return client.post(path, headers=self.auth(session)).status_code

    def probe(self, api: str) -> Probe:
        return Probe("GET", "/api/v1/sessions/list", params={"PageSize": 1})


TRINSIC = Trinsic()
