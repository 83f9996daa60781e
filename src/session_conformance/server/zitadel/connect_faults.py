"""Fault switches of the embedded Zitadel server's Connect transport: each breaks one Connect rule.

Registered at import (``catalogue.py`` imports this module); ``connect.py`` tests ``NAME in state.faults``.
The semantic faults of ``faults.py`` act over Connect as well: both transports run the same handlers.
"""

from __future__ import annotations

from session_conformance.server.faults import register

RPC_STATUS = register(
    "ztd-connect-rpc-status",
    "ZTD-T01",
    "Connect errors keep the gateway's rpcStatus body (numeric `code`, `@type` details) instead of the "
    "Connect error object",
)
CREATE_201 = register(
    "ztd-connect-create-201", "ZTD-T02", "CreateSession over Connect answers 201 (the gateway's status)"
)
MISSING_TYPE_IS_JSON = register(
    "ztd-connect-missing-type-json",
    "ZTD-T03",
    "a Connect request without a Content-Type (or text/plain) is decoded as JSON instead of answered 415",
)
METHOD_ERROR_BODY = register(
    "ztd-connect-405-body",
    "ZTD-T04",
    "a non-POST Connect request is answered 405 with a Connect error body and no `Allow: POST`",
)
EMPTY_BODY_OK = register(
    "ztd-connect-empty-body-ok", "ZTD-T05", "an empty application/json Connect body reads as `{}`"
)
PROTOCOL_HEADER_REQUIRED = register(
    "ztd-connect-protocol-header-required",
    "ZTD-T06",
    "Connect requests without `Connect-Protocol-Version: 1` are refused with 400 (the SDK sends none)",
)
TIMEOUT_UNPARSED = register(
    "ztd-connect-timeout-unparsed",
    "ZTD-T07",
    "a malformed `Connect-Timeout-Ms` (not 1 to 10 ASCII digits) is ignored instead of answered 400",
)
SEPARATE_STORE = register(
    "ztd-connect-separate-store",
    "ZTD-X02",
    "Connect keeps its sessions apart from REST: a session created over one transport is unknown to "
    "the other",
)
