"""Fault switches of the embedded Trinsic server: each breaks one documented rule on purpose.

Registered at import; the server tests ``NAME in state.faults``. The check in ``suites/trinsic/``
that detects each fault is listed in ``docs/decisions/trinsic-server.md``.
"""

from __future__ import annotations

from session_conformance.server.faults import register

AUTH_NOT_ENFORCED = register(
    "trn-auth-not-enforced",
    "TRN-R01",
    "requests without a valid bearer token are served as the primary account",
)
AUTH_WRONG_STATUS = register(
    "trn-auth-wrong-status", "TRN-R02", "a missing or unknown bearer token is answered 400 instead of 401/403"
)
AUTH_403_FOR_MISSING = register(
    "trn-auth-403-for-missing-token",
    "TRN-R43",
    "a missing or unknown bearer token is answered 403 (not allowed) instead of 401",
)
PROBLEM_PLAIN_TEXT = register(
    "trn-problem-plain-text", "TRN-R03", "400 answers carry a plain-text body instead of ProblemDetails"
)
REDACT_JSON_BODY = register(
    "trn-redact-json-body", "TRN-R04", "redact answers 200 with a JSON body instead of an empty one"
)
CREATE_201 = register("trn-create-201", "TRN-R04", "session creation answers 201 instead of 200")
WIDGET_LAUNCH_URL_NOT_URL = register(
    "trn-widget-launch-url-not-url", "TRN-R05", "the widget launchUrl is not an absolute http(s) URL"
)
LAUNCH_URL_ON_GET = register(
    "trn-launch-url-on-get", "TRN-R06", "Get Session returns the session's launchUrl again"
)
HOSTED_LAUNCH_URL_RELATIVE = register(
    "trn-hosted-launch-url-relative",
    "TRN-R07",
    "the hosted launchUrl is a relative path, not a navigable URL",
)
WIDGET_PROVIDERS_REJECTED = register(
    "trn-widget-providers-rejected",
    "TRN-R09",
    "a widget session restricted to an enabled provider is refused",
)
KNOWN_IDENTITY_REJECTED = register(
    "trn-known-identity-rejected", "TRN-R10", "a widget session with knownIdentityData is refused"
)
HOSTED_REDIRECT_OPTIONAL = register(
    "trn-hosted-redirect-optional", "TRN-R11", "hosted sessions are created without a non-empty redirectUrl"
)
EMPTY_CAPABILITIES = register(
    "trn-empty-capabilities-accepted",
    "TRN-R12",
    "advanced sessions are created with an empty capabilities list (taken as whatever the provider needs)",
)
STEP_OUTSIDE_CAPABILITIES = register(
    "trn-step-outside-capabilities",
    "TRN-R13",
    "without fallback, resultCollection.method is one the integrator did not declare",
)
MOBILE_STEP_WRONG = register(
    "trn-mobile-step-wrong",
    "TRN-R14",
    "with browser capabilities declared too, the mobile provider runs a "
    "LaunchBrowser/CaptureRedirect flow instead of DeeplinkToMobile/PollResult",
)
CAPABILITY_GAP_ACCEPTED = register(
    "trn-capability-gap-accepted",
    "TRN-R15",
    "a capability gap without fallbackToHostedUI creates a session anyway",
)
CAPABILITY_GAP_422 = register(
    "trn-capability-gap-422",
    "TRN-R44",
    "a capability gap without fallbackToHostedUI is refused with 422 instead of 400",
)
FALLBACK_REJECTED = register(
    "trn-fallback-rejected", "TRN-R16", "with fallbackToHostedUI a capability gap is still refused"
)
FALLBACK_NATIVE_STEP = register(
    "trn-fallback-native-step",
    "TRN-R17",
    "on fallback the provider's native step is returned instead of LaunchBrowser/CaptureRedirect",
)
FALLBACK_NATIVE_COLLECTION = register(
    "trn-fallback-native-collection",
    "TRN-R17",
    "on fallback nextStep is LaunchBrowser, but resultCollection keeps the provider's method when declared",
)
FALLBACK_WITHOUT_REDIRECT = register(
    "trn-fallback-without-redirect", "TRN-R18", "fallbackToHostedUI is accepted without redirectUrl"
)
REDIRECT_PROVIDER_WITHOUT_URL = register(
    "trn-redirect-provider-without-url",
    "TRN-R19",
    "a redirect-based provider is accepted without redirectUrl",
)
STEP_CONTENT_NOT_URL = register(
    "trn-step-content-not-url", "TRN-R20", "LaunchBrowser step content is not a URL"
)
REFRESH_INFO_INCONSISTENT = register(
    "trn-refresh-info-inconsistent",
    "TRN-R45",
    "step refresh info has refreshAfter after expiresAt and a zero TTL",
)
REFRESH_INFO_DROPPED = register(
    "trn-refresh-info-dropped",
    "TRN-R21",
    "Refresh Step Content answers new content without its refresh metadata (refresh null)",
)
REFRESH_STALE = register(
    "trn-refresh-stale", "TRN-R22", "Refresh Step Content returns the old content and refresh times"
)
POLL_WITHOUT_KEY = register(
    "trn-poll-without-key", "TRN-R23", "resultCollection PollResult comes without a resultsAccessKey"
)
CAPTURE_WITH_KEY = register(
    "trn-capture-with-key", "TRN-R46", "resultCollection CaptureRedirect comes with a resultsAccessKey"
)
RESULTS_WRONG_KEY_ACCEPTED = register(
    "trn-results-wrong-key-accepted",
    "TRN-R24",
    "Get Session Results answers 200 with identity data for a wrong key",
)
RESULTS_WITHOUT_IDENTITY = register(
    "trn-results-without-identity", "TRN-R24", "results of a successful session carry no identityData"
)
FAILED_NOT_DONE = register(
    "trn-failed-not-done",
    "TRN-R25",
    "a session that failed keeps looking in progress (done false, no errorCode)",
)
SUCCESS_WITHOUT_DONE = register(
    "trn-success-without-done", "TRN-R26", "a session that succeeded has success true but done false"
)
ERROR_CODE_ON_SUCCESS = register(
    "trn-error-code-on-success", "TRN-R27", 'a successful session carries errorCode "Other"'
)
ERROR_CODE_IN_PROGRESS = register(
    "trn-error-code-in-progress", "TRN-R47", 'sessions in progress carry errorCode "Other"'
)
UPDATED_BEFORE_CREATED = register(
    "trn-updated-before-created", "TRN-R48", "new sessions have updated one second before created"
)
UPDATED_GOES_BACK = register("trn-updated-goes-back", "TRN-R28", "cancelling moves updated backwards")
TIMESTAMPS_MS = register(
    "trn-timestamps-ms", "TRN-R28", "created and updated are unix timestamps in milliseconds, not seconds"
)
UPDATED_FROZEN = register(
    "trn-updated-frozen",
    "TRN-R28",
    "updated stays at the creation time when the session ends (cancel, finish)",
)
CANCEL_REFUSED = register(
    "trn-cancel-refused", "TRN-R29", "Cancel Session of a session in progress answers 400"
)
CANCEL_NOT_FINISHING = register(
    "trn-cancel-not-finishing", "TRN-R49", "cancel answers 200 but the session stays in progress"
)
CANCEL_WRONG_ERROR_CODE = register(
    "trn-cancel-wrong-error-code",
    "TRN-R49",
    'a cancelled session carries errorCode "Other" instead of "Canceled"',
)
LIST_FOREIGN = register(
    "trn-list-foreign-sessions", "TRN-R30", "List Sessions includes the other account's sessions"
)
SECOND_ACCOUNT_SEES_PRIMARY = register(
    "trn-second-account-sees-primary",
    "TRN-R30",
    "List Sessions of the second account lists the primary account's sessions instead of its own",
)
GET_FOREIGN = register("trn-get-foreign-session", "TRN-R30", "Get Session returns another account's session")
CANCEL_FOREIGN = register(
    "trn-cancel-foreign-session", "TRN-R30", "Cancel Session cancels another account's session"
)
PAGE_SIZE_IGNORED = register(
    "trn-page-size-ignored", "TRN-R50", "List Sessions ignores PageSize and returns every session"
)
PAGE_SIZE_UNBOUNDED = register(
    "trn-page-size-unbounded", "TRN-R50", "PageSize outside 1..50 is accepted instead of answered 400"
)
PAGE_OFF_BY_ONE = register(
    "trn-page-off-by-one", "TRN-R31", "Page counts from 0, so Page=1 skips the first page"
)
MORE_WRONG = register("trn-more-wrong", "TRN-R31", "more is always false")
TOTAL_WRONG = register("trn-total-wrong", "TRN-R31", "total is the size of the page, not of the account")
DIRECTION_IGNORED = register(
    "trn-direction-ignored", "TRN-R32", "OrderDirection is ignored (always Descending)"
)
ORDER_BY_IGNORED = register(
    "trn-order-by-ignored", "TRN-R32", "OrderBy Updated and State are ignored (always by Created)"
)
REDACT_TEMPORARY = register(
    "trn-redact-temporary",
    "TRN-R33",
    "identity data hidden by redact comes back from the second results call on",
)
REDACT_KEEPS_DATA = register(
    "trn-redact-keeps-data", "TRN-R33", "redact answers 200 but results still carry the identity data"
)
REDACT_NULLED_IDENTITY = register(
    "trn-redact-nulled-identity",
    "TRN-R36",
    "after redaction results still carry an identityData object, every member null (no data, not absent)",
)
NON_UUID_SESSION_ID = register(
    "trn-non-uuid-session-id", "TRN-R37", "create responses carry a sessionId that is not a UUID"
)
READ_ID_DIFFERS = register(
    "trn-read-id-differs", "TRN-R51", "Get Session answers the session's id without its hyphens"
)
INVALID_INPUT_ACCEPTED = register(
    "trn-invalid-provider-input-accepted",
    "TRN-R38",
    "provider input with wrongly formatted fields is accepted",
)
CNH_CONTENT_TYPE_UNCHECKED = register(
    "trn-cnh-content-type-unchecked", "TRN-R39", "a Brazil digital CNH file of any content type is accepted"
)
ATTACHMENT_KEYS_WITHOUT_PROVIDER = register(
    "trn-attachment-keys-without-provider", "TRN-R41", "identityData.attachmentAccessKeys lacks provider"
)
UNKNOWN_ENUM_VALUE = register(
    "trn-unknown-enum-value", "TRN-R42", 'List Sessions writes errorCode "CANCELED", not an enum value'
)
SERVER_ERROR_ON_ODD_INPUT = register(
    "trn-500-on-odd-input", "TRN-X01", "malformed JSON bodies are answered 500"
)
