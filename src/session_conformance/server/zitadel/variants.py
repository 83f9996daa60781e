"""Variant switches of the embedded Zitadel server: other legitimate readings of the fact sheet.

Registered at import; the server tests ``NAME in state.variants``. Each names the ambiguity (``Z-nn``)
or convention it comes from; ``docs/decisions/zitadel-server.md`` says which checks meet each one and
whether they pass or warn.
"""

from __future__ import annotations

from session_conformance.server.variants import register

SET_TOKEN_IGNORED = register(
    "ztd-set-token-ignored",
    "Z-04",
    "SetSession's deprecated `sessionToken` is ignored completely, also when wrong or malformed "
    "(mid-2024 code, zitadel@d88fff7)",
    ("ZTD-R41", "ZTD-R38", "ZTD-R40"),
)
NOOP_ECHOES_TOKEN = register(
    "ztd-noop-echoes-token",
    "Z-05",
    "a SetSession that changes nothing echoes the current `sessionToken` (≈2.4x code) instead of omitting it",
    ("ZTD-R40", "ZTD-R38", "ZTD-X01"),
)
TOTAL_BEFORE_PERMISSION = register(
    "ztd-total-before-permission",
    "Z-07",
    "`totalResult` counts matches before the read-permission filter (≈v4): a search that matches sessions "
    "of other instances counts them without returning them",
    ("ZTD-R59", "ZTD-R61", "ZTD-R45"),
)
LIMIT_ZERO_UNBOUNDED = register(
    "ztd-limit-zero-unbounded",
    "Z-08",
    "an absent or 0 `query.limit` means no limit (≈v4 code) instead of the documented default 1000",
    ("ZTD-R58", "ZTD-R60"),
)
LIMIT_MAX_1000 = register(
    "ztd-limit-max-1000",
    "Z-08",
    "`query.limit` above 1000 is refused with 400 InvalidArgument (newest Zitadel)",
    ("ZTD-R58", "ZTD-R60", "ZTD-R05", "ZTD-R09"),
)
DELETE_UNKNOWN_404 = register(
    "ztd-delete-unknown-404",
    "Z-10",
    "DeleteSession of an ID the instance never had answers 404 NotFound (deleted sessions still answer 200)",
    ("ZTD-R51", "ZTD-R45", "ZTD-R06"),
)
DELETE_UNKNOWN_403 = register(
    "ztd-delete-unknown-403",
    "Z-10",
    "DeleteSession of an ID the instance never had answers 403 PermissionDenied (≈v4 with a token)",
    ("ZTD-R51", "ZTD-R45", "ZTD-R06"),
)
ERROR_ID_IN_DETAILS_ONLY = register(
    "ztd-error-id-in-details-only",
    "Z-12",
    "service errors name their error ID only in the ErrorDetail (`@type`, `id`, `message`) of `details`; "
    "the `message` carries no ` (ID)` suffix",
    ("ZTD-R04", "ZTD-R19"),
)
CREDENTIALS_CHECK_ERROR = register(
    "ztd-credentials-check-error",
    "Z-12",
    "a wrong password attaches a `zitadel.v1.CredentialsCheckError` (`id`, `message`, `failedAttempts`) "
    "instead of an ErrorDetail (≈v4)",
    ("ZTD-R04", "ZTD-R19"),
)
INTENT_FAILURE_400 = register(
    "ztd-intent-failure-400",
    "Z-17",
    "an IdP-intent check with a wrong token fails with 400 InvalidArgument instead of 403",
    ("ZTD-R21",),
)
DETAILS_CREATION_DATE = register(
    "ztd-details-creation-date",
    "Z-18",
    "`details.creationDate` (the session's creation time) is set on every write answer",
    ("ZTD-R07", "ZTD-R08", "ZTD-R13", "ZTD-X01"),
)
USER_CHECK_REQUIRED = register(
    "ztd-user-check-required",
    "Z-19",
    "`checks.user: {}` fails request validation: 400, code 3, no details (newest Zitadel) instead of 501",
    ("ZTD-R15", "ZTD-R04", "ZTD-X01"),
)
EXPIRED_TOKEN_REFUSED = register(
    "ztd-expired-token-refused",
    "Z-21",
    "once a session has expired its token no longer reads it: GetSession with the token answers 403, "
    "GetSession by permission (no token) still returns it; Delete still works",
    ("ZTD-R37", "ZTD-R43", "ZTD-R62"),
)
LIST_LAG = register(
    "ztd-list-lag",
    "ZTD-R63",
    "ListSessions reads a projection that lags up to 0.4 s behind writes (GetSession stays read-after-write)",
    (
        "ZTD-R63",
        "ZTD-R34",
        "ZTD-R45",
        "ZTD-R52",
        "ZTD-R53",
        "ZTD-R54",
        "ZTD-R55",
        "ZTD-R57",
        "ZTD-R58",
        "ZTD-R61",
        "ZTD-R62",
    ),
)
WEBAUTHN_OPTIONS_EXTRA = register(
    "ztd-webauthn-options-extra",
    "Z-16",
    "`publicKeyCredentialRequestOptions.publicKey` carries extra W3C members (`extensions`, `hints`) and "
    "the options a `mediation` member",
    ("ZTD-R25", "ZTD-R28"),
)
UNSPECIFIED_ORDER_NEWEST = register(
    "ztd-unspecified-order-newest",
    "Z-09",
    "without a sorting column ListSessions returns the newest sessions first (no defined order)",
    ("ZTD-R57", "ZTD-R58", "ZTD-R52"),
)
REDELETE_EMPTY_DETAILS = register(
    "ztd-redelete-empty-details",
    "ZTD-R51",
    "deleting an already deleted session answers 200 with `details: {}`",
    ("ZTD-R51", "ZTD-X01"),
)
ERRORS_QUOTE_REQUEST = register(
    "ztd-errors-quote-request",
    "convention",
    "error messages quote what the caller sent (session ID, login name, user ID, limit)",
    (),
)
EXTRA_PROPERTIES = register(
    "ztd-extra-properties",
    "convention",
    "undocumented extra properties on sessions, user agents, user factors, write details, list details and "
    "list answers (accepted unless --strict-properties)",
    (),
)
