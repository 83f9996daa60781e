"""``session-conformance openapi --api X --schemathesis-config``: what no OpenAPI document can say.

A vendor runs plain Schemathesis over our exported document against their server; this
``schemathesis.toml`` adds only the facts an OpenAPI document cannot express, each with its reason:
answers that depend on the server's state (a provider the account has not enabled, a user that does
not exist, a check that needs a user checked before), and Zitadel's documented ``501`` for an empty
user check (Z-19), which Schemathesis would otherwise count as a server error.
"""

from __future__ import annotations

from session_conformance.apis import API_FAMILY

POSITIVE_DEFAULT = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def schemathesis_config(api: str) -> str:
    family = API_FAMILY[api]
    lines = [
        f"# Schemathesis configuration for the session-conformance {api} document.",
        "# Use: st --config-file THIS run DOCUMENT --url BASE_URL -H 'Authorization: Bearer TOKEN'",
        "# Only what no OpenAPI document can say; every entry names its reason.",
        "",
    ]
    if family == "trinsic":
        lines += [
            "# A schema-valid create can name a provider the account has not enabled, or provider input",
            "# the provider rejects: a 400 ProblemDetails that depends on the account, not on the schema.",
            "[[operations]]",
            'include-operation-id = ["createWidgetSession", "createHostedProviderSession", '
            '"createAdvancedProviderSession"]',
            f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*POSITIVE_DEFAULT, '400'])}",
            "",
            "# Get Session's only invalid path values address other operations: `list` is List Sessions",
            "# (route note of sheet 2.7), an empty one the collection. Negative cases would test those.",
            "[[operations]]",
            'include-operation-id = "getSession"',
            'generation.mode = "positive"',
            "",
            "# Refresh, results, cancel and redact depend on the session's state and its results access key:",
            "# a schema-valid request for a session in the wrong state (or with a key of another session)",
            "# is refused with 400 ProblemDetails (A-03, A-09, A-11).",
            "[[operations]]",
            'include-operation-id = ["refreshStepContent", "getSessionResult", "cancelSession", '
            '"redactSession"]',
            f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*POSITIVE_DEFAULT, '400'])}",
            "",
        ]
    else:
        lines += [
            "# `checks.user: {}` (neither userId nor loginName) is documented as 501 Unimplemented (Z-19).",
            "# Checks also depend on state: a password, OTP or WebAuthN check needs a user checked before",
            "# (400, ZTD-R18/R20), a user check may name a user that does not exist (404 for the *user*,",
            "# ZTD-R16, not for the session), and a session token sent along must be the current one.",
            "[[operations]]",
            'include-operation-id = ["SessionService_CreateSession", "SessionService_SetSession"]',
            f"checks.not_a_server_error.expected-statuses = {_toml_list(['2xx', '3xx', '4xx', '501'])}",
            f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*POSITIVE_DEFAULT, '400'])}",
            "checks.ensure_resource_availability.enabled = false",
            "",
            "# Delete and Get verify the session token they are given (ZTD-R44/R49): a schema-valid token of",
            "# another session is refused, and a malformed one is 400 (COMMAND-hi6Ph). A search whose",
            "# userAgentQuery or creatorQuery omits its value means the caller's own, 400 when the caller's",
            "# token has none (ZTD-R54/R55).",
            "[[operations]]",
            'include-operation-id = ["SessionService_DeleteSession", "SessionService_GetSession", '
            '"SessionService_ListSessions"]',
            f"checks.positive_data_acceptance.expected-statuses = {_toml_list([*POSITIVE_DEFAULT, '400'])}",
            "",
        ]
    return "\n".join(lines)
