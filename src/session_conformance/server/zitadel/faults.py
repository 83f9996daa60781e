"""Fault switches of the embedded Zitadel server: each breaks one documented rule on purpose.

Registered at import; the server tests ``NAME in state.faults``. The names are a published
interface: the Zitadel suites (``suites/zitadel/``) are proven against exactly these.
"""

from __future__ import annotations

from session_conformance.server.faults import register

NO_AUTH = register(
    "ztd-no-auth", "ZTD-R01", "requests without a valid bearer token are served as the primary account"
)
CREATE_200 = register("ztd-create-200", "ZTD-R02", "CreateSession answers 200 instead of 201")
SET_201 = register("ztd-set-201", "ZTD-R03", "SetSession answers 201 instead of 200")
ERROR_SHAPE = register("ztd-error-shape", "ZTD-R04", "error bodies carry no `code` (only message/details)")
LIST_QUERY_404 = register(
    "ztd-list-query-404",
    "ZTD-R05",
    'an invalid list query ("List.Query.Invalid", an empty SearchQuery) is answered 404 NotFound, not 400',
)
PLAIN_403_404 = register(
    "ztd-plain-403-404",
    "ZTD-R06",
    '403 and 404 answers carry `{"error": ...}` instead of an rpcStatus body (other errors are fine)',
)
INT64_AS_NUMBER = register(
    "ztd-int64-as-number", "ZTD-R07", "`sequence` is written as a JSON number instead of a decimal string"
)
NULL_IN_RESPONSE = register(
    "ztd-null-in-response", "ZTD-R08", "sessions without a lifetime carry `expirationDate: null`"
)
BAD_JSON_500 = register("ztd-bad-json-500", "ZTD-R09", "malformed JSON is answered 500 instead of 400")
ODD_INPUT_500 = register(
    "ztd-500-odd-input", "ZTD-R09", "invalid UTF-8 or lone UTF-16 surrogates in a body are answered 500"
)
VALIDATION_WITH_DETAILS = register(
    "ztd-validation-with-details", "ZTD-R10", "request-validation errors carry an ErrorDetail in `details`"
)
VALIDATION_IGNORED = register(
    "ztd-validation-ignored", "ZTD-R35", "a lifetime of 0s or below is accepted instead of refused with 400"
)
NO_TOKEN_ON_CREATE = register(
    "ztd-no-token-on-create", "ZTD-R11", "CreateSession answers without `sessionToken`"
)
NONNUMERIC_ID = register("ztd-nonnumeric-id", "ZTD-R12", "session IDs are hex strings, not decimal")
SEQUENCE_MISMATCH = register(
    "ztd-sequence-mismatch", "ZTD-R13", "CreateSession's details.sequence is one above the session's sequence"
)
METADATA_ONLY_CREATE_400 = register(
    "ztd-metadata-only-create-400",
    "ZTD-R14",
    "a create with metadata and nothing else is refused with 400 (a user check demanded); `{}` still works",
)
EMPTY_USER_CHECK_400 = register(
    "ztd-empty-user-check-400",
    "ZTD-R15",
    "a user check with neither userId nor loginName answers 400, not 501",
)
UNKNOWN_USER_200 = register(
    "ztd-unknown-user-200", "ZTD-R16", "a user check on an unknown user is skipped and the request succeeds"
)
USER_CHANGE_ALLOWED = register(
    "ztd-user-change-allowed", "ZTD-R17", "a user check with a different user replaces the checked user"
)
PASSWORD_WITHOUT_USER = register(
    "ztd-password-without-user", "ZTD-R18", "a password check on a session without user is silently accepted"
)
WRONG_PASSWORD_ACCEPTED = register(
    "ztd-wrong-password-accepted", "ZTD-R19", "a wrong password passes the check"
)
WEBAUTHN_NO_CHALLENGE_OK = register(
    "ztd-webauthn-no-challenge-ok", "ZTD-R20", "a WebAuthN check without a requested challenge succeeds"
)
INTENT_REUSABLE = register("ztd-intent-reusable", "ZTD-R21", "a succeeded IdP intent can be checked again")
VERIFIED_AT_KEPT = register(
    "ztd-verified-at-kept",
    "ZTD-R22",
    "re-running a successful password check keeps the first `verifiedAt` instead of overwriting it",
)
FACTORS_WITHOUT_USER = register(
    "ztd-factors-without-user", "ZTD-R23", "sessions without a checked user carry `factors: {}`"
)
WEBAUTHN_CHALLENGE_WITHOUT_USER = register(
    "ztd-webauthn-challenge-without-user",
    "ZTD-R25",
    "a WebAuthN challenge is issued on a session without user",
)
OTP_CODE_NOT_RETURNED = register(
    "ztd-otp-code-not-returned", "ZTD-R26", "an SMS OTP challenge with returnCode does not return the code"
)
OTP_EMAIL_CODE_NOT_RETURNED = register(
    "ztd-otp-email-code-not-returned",
    "ZTD-R27",
    "an email OTP challenge with returnCode does not return the code",
)
NO_CHALLENGES_OBJECT = register(
    "ztd-no-challenges-object",
    "ZTD-R28",
    "`challenges` is left out of the answer when no challenge was created",
)
OTP_REUSABLE = register("ztd-otp-reusable", "ZTD-R29", "an OTP code can be checked more than once")
PARTIAL_FAILURE_APPLIES = register(
    "ztd-partial-failure-applies", "ZTD-R30", "SetSession applies its metadata although a check of it failed"
)
METADATA_NOT_STORED = register("ztd-metadata-not-stored", "ZTD-R32", "CreateSession drops the metadata")
METADATA_REPLACED = register(
    "ztd-metadata-replaced", "ZTD-R33", "SetSession replaces the metadata instead of merging it"
)
USERAGENT_CHANGED = register(
    "ztd-useragent-changed", "ZTD-R34", "a `userAgent` in a SetSession body replaces the session's user agent"
)
NO_EXPIRATION = register("ztd-no-expiration", "ZTD-R36", "`expirationDate` is never returned")
EXPIRED_SET_ALLOWED = register(
    "ztd-expired-set-allowed", "ZTD-R37", "SetSession on an expired session succeeds"
)
TOKEN_NOT_ROTATED = register(
    "ztd-token-not-rotated", "ZTD-R38", "a changing SetSession answers the current token instead of a new one"
)
OLD_TOKEN_VALID = register("ztd-old-token-valid", "ZTD-R38", "tokens replaced by a SetSession keep working")
TOKEN_ANY_SESSION = register(
    "ztd-token-any-session", "ZTD-R39", "a session token is accepted for every session of the instance"
)
NOOP_ROTATES = register(
    "ztd-noop-rotates",
    "ZTD-R40",
    "a SetSession that changes nothing still issues a new token (the old one dies)",
)
SET_TERMINATED_OK = register("ztd-set-terminated-ok", "ZTD-R42", "SetSession on a deleted session succeeds")
GET_TOKEN_REFUSED = register(
    "ztd-get-token-refused",
    "ZTD-R43",
    "GetSession with the current sessionToken answers 403 (only calls without a token, by permission, read)",
)
GET_WRONG_TOKEN_OK = register(
    "ztd-get-wrong-token-ok", "ZTD-R44", "GetSession ignores a wrong sessionToken and answers 200"
)
OTHER_ACCOUNT_VISIBLE = register(
    "ztd-other-account-visible",
    "ZTD-R45",
    "GetSession without token finds sessions of other accounts (instances)",
)
UNKNOWN_GET_200 = register(
    "ztd-unknown-get-200", "ZTD-R46", "GetSession of a never-existing ID answers 200 with an empty session"
)
DELETE_NOOP = register(
    "ztd-delete-noop",
    "ZTD-R48",
    "DeleteSession answers 200 but terminates nothing: the session stays readable, listed and changeable",
)
DELETE_WRONG_TOKEN_OK = register(
    "ztd-delete-wrong-token-ok", "ZTD-R49", "DeleteSession ignores a wrong sessionToken and deletes"
)
DELETE_OTHER_INSTANCE = register(
    "ztd-delete-other-instance",
    "ZTD-R49",
    "DeleteSession without a token ends a session of another account (instance): no permission checked",
)
DELETE_WITHOUT_PERMISSION = register(
    "ztd-delete-without-permission",
    "ZTD-R49",
    "DeleteSession without a token ends any session of the instance: session.delete is not checked",
)
READ_WITHOUT_PERMISSION = register(
    "ztd-read-without-permission",
    "ZTD-R45",
    "GetSession without a token and ListSessions show every session of the instance: session.read is not "
    "checked",
)
DELETED_STILL_READABLE = register(
    "ztd-deleted-still-readable", "ZTD-R50", "GetSession still answers 200 for a deleted session"
)
DELETE_NOT_IDEMPOTENT = register(
    "ztd-delete-not-idempotent", "ZTD-R51", "deleting a deleted (or unknown) session answers 404"
)
FILTER_IGNORED = register("ztd-filter-ignored", "ZTD-R52", "`idsQuery` is ignored by ListSessions")
CREATION_DATE_WRONG = register(
    "ztd-creation-date-wrong", "ZTD-R53", "creationDateQuery swaps GREATER and LESS (and their _OR_EQUALS)"
)
CREATOR_QUERY_IGNORED = register(
    "ztd-creator-query-ignored",
    "ZTD-R54",
    'creatorQuery matches every session (also for another creator or "")',
)
USERAGENT_QUERY_IGNORED = register(
    "ztd-useragent-query-ignored", "ZTD-R55", 'userAgentQuery matches every session (also for "")'
)
EMPTY_QUERY_ACCEPTED = register(
    "ztd-empty-query-accepted", "ZTD-R56", "an empty SearchQuery is ignored instead of refused with 400"
)
SORT_IGNORED = register("ztd-sort-ignored", "ZTD-R57", "`query.asc` is ignored: always descending")
LIMIT_IGNORED = register("ztd-limit-ignored", "ZTD-R58", "`query.limit` is ignored")
TOTAL_WRONG = register(
    "ztd-total-wrong", "ZTD-R61", "`totalResult` counts the returned page instead of all matches"
)
DELETED_LISTED = register("ztd-deleted-listed", "ZTD-R62", "deleted sessions are still listed")
# faults that show only at depth: past the first page, after a second operation, after expiry, in a race,
# in one of v2/v2beta
LATER_PAGES_OVERLAP = register(
    "ztd-later-pages-overlap", "ZTD-R58", "past the first page (offset > 0) a page starts one row early"
)
SECOND_SET_FROZEN = register(
    "ztd-second-set-frozen",
    "ZTD-R13",
    "from the second changing SetSession of a session on, sequence and changeDate no longer move",
)
EXPIRED_UNLISTED = register(
    "ztd-expired-unlisted", "ZTD-R62", "expired sessions drop out of ListSessions (they are still listed)"
)
RACING_SET_LOST = register(
    "ztd-racing-set-lost",
    "ZTD-R33",
    "SetSession merges into metadata read before it waits its turn: of two simultaneous changes one is lost",
)
V2BETA_TOTAL_MISSING = register(
    "ztd-v2beta-total-missing", "ZTD-R61", "v2beta ListSessions leaves out details.totalResult (v2 is right)"
)
LIST_NEVER_CATCHES_UP = register(
    "ztd-list-never-catches-up",
    "ZTD-R63",
    "ListSessions lists a session only 60 s after its creation (a projection far behind; Get stays current)",
)
V2BETA_DIFFERS = register(
    "ztd-v2beta-differs",
    "ZTD-X01",
    "v2beta echoes the current token on a SetSession that changes nothing (v2 omits it)",
)
