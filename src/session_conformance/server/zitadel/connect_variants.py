"""Variant switches of the embedded Zitadel server's Connect transport: other readings of the Connect sheet.

Registered at import (``catalogue.py`` imports this module); each names its ``C-nn`` question.
``docs/decisions/zitadel-connect.md`` says which checks meet each one and whether they pass or warn.
"""

from __future__ import annotations

from session_conformance.server.variants import register

DETAILS_TYPE_URL = register(
    "ztd-connect-details-type-url",
    "C05",
    "Connect error `details[].type` keeps the `type.googleapis.com/` prefix (as the SDK model's example)",
    ("ZTD-T01",),
)
NO_DEBUG = register(
    "ztd-connect-no-debug",
    "C06",
    "Connect error details carry no `debug` member (optional by the spec)",
    ("ZTD-T01", "ZTD-R16", "ZTD-R31"),
)
GET_EMPTY_ID_400 = register(
    "ztd-connect-get-empty-id-400",
    "C08",
    "GetSession over Connect with an empty `sessionId` is refused 400 invalid_argument (newest protos: "
    "length 1..200) instead of reaching the query (404)",
    ("ZTD-R46", "ZTD-T01"),
)
ABSENT = register(
    "ztd-connect-absent",
    "C01",
    "no Connect transport at all, as in Zitadel before v4: every Connect path answers the router's "
    "`404 page not found` (text/plain); the Connect APIs are skipped with the reason, never failed",
    ("ZTD-T01", "ZTD-T02", "ZTD-T03", "ZTD-T04", "ZTD-T05", "ZTD-T06", "ZTD-X02"),
)
