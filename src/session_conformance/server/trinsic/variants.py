"""Variant switches of the embedded Trinsic server: other legitimate readings of the fact sheet.

Registered at import; the server tests ``NAME in state.variants``. Each names the ambiguity (``A-nn``)
or convention it comes from; ``docs/decisions/trinsic-server.md`` says which checks meet each one and
whether they pass or warn. ``rules`` are the rule IDs whose checks meet the variant; an empty tuple
means a broad variant that every check of the API meets.
"""

from __future__ import annotations

from session_conformance.server.variants import register

UNKNOWN_400 = register(
    "trn-unknown-session-400",
    "A-01",
    "an unknown session ID is answered 400 ProblemDetails instead of 404",
    ("TRN-R03", "TRN-R24", "TRN-R30", "TRN-R01", "TRN-R02", "TRN-X01", "TRN-R43"),
)
FOREIGN_403 = register(
    "trn-foreign-session-403",
    "A-24",
    "another account's session is answered 403 (ProblemDetails) instead of looking unknown",
    ("TRN-R02", "TRN-R30", "TRN-R43"),
)
WRONG_KEY_400 = register(
    "trn-wrong-key-400",
    "A-03",
    "a wrong results access key is answered 400 (an unknown session stays 404)",
    ("TRN-R24",),
)
REFRESH_KEY_REQUIRED = register(
    "trn-refresh-key-required",
    "A-09",
    "Refresh Step Content without resultsAccessKey is answered 400",
    ("TRN-R21", "TRN-R22", "TRN-X01", "TRN-R45"),
)
REDACT_204 = register(
    "trn-redact-204", "A-10", "Redact Session answers 204 No Content", ("TRN-R04", "TRN-R33", "TRN-R36")
)
FINISHED_REFUSES = register(
    "trn-finished-refuses",
    "A-11",
    "cancel of a finished session and a repeated redact are answered 400 (nothing changes)",
    ("TRN-R04", "TRN-R25", "TRN-R29", "TRN-R33", "TRN-R36", "TRN-R42", "TRN-R49"),
)
REDACT_NEEDS_FINISHED = register(
    "trn-redact-needs-finished",
    "A-11",
    "redact of a session still in progress is answered 400",
    ("TRN-R04", "TRN-R24", "TRN-R29", "TRN-R33", "TRN-R36", "TRN-R49"),
)
REFRESH_OMITTED = register(
    "trn-refresh-omitted",
    "A-16",
    "IntegrationStep.refresh is left out instead of written as null",
    ("TRN-R13", "TRN-R14", "TRN-R16", "TRN-R17", "TRN-R20", "TRN-R21", "TRN-R22", "TRN-R45"),
)
UPPER_CASE_IDS = register(
    "trn-upper-case-ids",
    "A-17",
    "session IDs are upper-case UUIDs (looked up case-insensitively, like a .NET Guid)",
    (
        "TRN-R06",
        "TRN-R24",
        "TRN-R29",
        "TRN-R30",
        "TRN-R31",
        "TRN-R32",
        "TRN-R37",
        "TRN-R49",
        "TRN-R50",
        "TRN-R51",
    ),
)
EMPTY_BODY_IS_OBJECT = register(
    "trn-empty-body-object",
    "A-20",
    "a zero-length body on create, results and refresh is read as {}",
    ("TRN-X01", "TRN-R11", "TRN-R12", "TRN-R22", "TRN-R24"),
)
TEXT_PLAIN = register(
    "trn-text-plain",
    "A-21",
    "every JSON answer (models and ProblemDetails) is served with Content-Type text/plain, except "
    "redact's (its only documented type is application/json)",
    (),
)
LAUNCH_URL_ABSENT = register(
    "trn-launch-url-absent",
    "A-23",
    "a hosted session whose provider needs no user interaction (a lookup provider given its input) "
    "has no launchUrl",
    ("TRN-R05", "TRN-R06", "TRN-R07", "TRN-R38", "TRN-R39"),
)
QUERY_CASE_SENSITIVE = register(
    "trn-query-case-sensitive",
    "A-04",
    "only the PascalCase query names bind (OrderBy, OrderDirection, PageSize, Page); others are ignored",
    ("TRN-R03", "TRN-R31", "TRN-R32", "TRN-X01", "TRN-R50"),
)
PAGE_SIZE_25 = register(
    "trn-page-size-25",
    "A-05",
    "List Sessions' default PageSize is 25 instead of 50",
    ("TRN-R31", "TRN-R32", "TRN-R50"),
)
STATE_ORDER = register(
    "trn-state-order",
    "A-13",
    "OrderBy=State sorts failed < succeeded < in progress (the reverse of the default reading)",
    ("TRN-R32", "TRN-R42"),
)
DETAIL_QUOTES = register(
    "trn-detail-quotes-request",
    "convention",
    "ProblemDetails.detail quotes what the caller sent: the session ID, the offending value",
    (),
)
EXTRA_PROPERTIES = register(
    "trn-extra-properties",
    "convention (SDK 2.0.0)",
    "undocumented response properties: resultsAccessKey on widget/hosted create, "
    "identityData.originatingSubProviderId, Session.provider",
    (),
)
AUTH_PROBLEM = register(
    "trn-auth-problem-body",
    "A-02",
    "401 (no token) and 403 (unknown token) carry a ProblemDetails body and no WWW-Authenticate",
    ("TRN-R01", "TRN-R02", "TRN-R43"),
)
NO_MAX_LENGTH = register(
    "trn-no-max-length",
    "convention",
    "no maximum string length in request bodies (a 200 kB redirectUrl is accepted)",
    ("TRN-X01", "TRN-R10", "TRN-R11"),
)
VALIDATION_PROBLEM = register(
    "trn-validation-problem",
    "A-18",
    "400 answers are HttpValidationProblemDetails (errors map, traceId, no detail)",
    (),
)
OMIT_NULLS = register(
    "trn-omit-nulls",
    "A-15",
    "null properties are left out (Session.errorCode, resultCollection.resultsAccessKey)",
    (
        "TRN-R04",
        "TRN-R23",
        "TRN-R25",
        "TRN-R26",
        "TRN-R27",
        "TRN-R29",
        "TRN-R42",
        "TRN-R46",
        "TRN-R47",
        "TRN-R49",
    ),
)
LIST_HIDES_REDACTED = register(
    "trn-list-hides-redacted",
    "A-12",
    "redacted sessions are no longer listed nor counted in total (Get Session still finds them)",
    ("TRN-R30", "TRN-R31", "TRN-R32", "TRN-R24", "TRN-R25", "TRN-R29", "TRN-R36", "TRN-R50", "TRN-R49"),
)
