"""Trinsic sessions: authentication, statuses, error bodies, invalid input (TRN-R01..R04, TRN-X01)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from _trinsic_steps import (
    PREFIX,
    REDIRECT_URL,
    Trinsic,
    expect_redacted,
    hypothesis_settings,
    is_json_media_type,
    problem_body,
    warn_rejected,
)
from hypothesis import given
from hypothesis import strategies as st

from session_conformance.harness import (
    ConformanceClient,
    Profile,
    Target,
    expect,
    expect_status,
    json_of,
    shown,
    warn,
    warn_status,
)

BODY_PATHS = (f"{PREFIX}/widget", f"{PREFIX}/provider/hosted", f"{PREFIX}/provider/advanced")


def _calls(session_id: str, writes: bool) -> list[tuple[str, str, Any]]:
    calls: list[tuple[str, str, Any]] = [
        ("GET", f"{PREFIX}/list", None),
        ("GET", f"{PREFIX}/{session_id}", None),
        ("POST", f"{PREFIX}/{session_id}/results", {"resultsAccessKey": "k"}),
    ]
    if writes:
        calls += [
            ("POST", f"{PREFIX}/widget", {}),
            ("POST", f"{PREFIX}/provider/hosted", {"provider": "p", "redirectUrl": REDIRECT_URL}),
            ("POST", f"{PREFIX}/provider/advanced", {"provider": "p", "capabilities": ["PollResult"]}),
            ("POST", f"{PREFIX}/{session_id}/cancel", None),
            ("POST", f"{PREFIX}/{session_id}/redact", None),
            ("POST", f"{PREFIX}/{session_id}/step/refresh", {}),
        ]
    return calls


@pytest.mark.rules("TRN-R01", "TRN-R02", "TRN-R43")
def test_every_operation_needs_a_bearer_token(anon_client: ConformanceClient, target: Target) -> None:
    """Without ``Authorization``, and with a token the target never issued: 401 (or 403), never served."""
    sid = str(uuid.uuid4())
    for method, path, body in _calls(sid, not target.read_only):
        kwargs = {"json": body} if body is not None else {}
        for label, token in (("no Authorization header", None), ("an unknown token", "not-a-token-" + sid)):
            exchange = anon_client.request(method, path, token=token, **kwargs)
            expect(
                "TRN-R01",
                not 200 <= exchange.status < 300,
                f"{method} {path} with {label} was served: {shown(exchange)}",
                evidence=exchange,
            )
            expect_status("TRN-R02", exchange, (401, 403), f"{method} {path} with {label}")
            warn_status("TRN-R43", exchange, 401, f"{method} {path} with {label} (401 per HTTP, inferred)")


@pytest.mark.rules("TRN-R03", "TRN-R50")
def test_bad_requests_carry_problem_details(client: ConformanceClient) -> None:
    """A 400 (here: PageSize outside 1..50) carries a ProblemDetails body."""
    trn = Trinsic(client)
    for params in ({"PageSize": 0}, {"PageSize": 51}, {"Page": 0}, {"OrderBy": "Nothing"}):
        exchange = trn.list(params)
        if not warn_status("TRN-R50", exchange, 400, f"List Sessions with {params} (A-19, inferred)"):
            continue  # accepting an out-of-range value is the target's reading: no 400 to judge
        expect(
            "TRN-R03",
            problem_body(exchange) is not None,
            f"a 400 must carry ProblemDetails: {shown(exchange)}",
            evidence=exchange,
        )
        warn(  # the body is JSON whatever the type; the documented types are JSON ones and text/plain
            "TRN-R03",
            is_json_media_type(exchange.content_type),
            f"ProblemDetails came with Content-Type {exchange.content_type!r}, none of the documented "
            "JSON types or text/plain",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-R04")
@pytest.mark.needs("writes")
def test_successful_calls_answer_200_and_redact_has_no_body(client: ConformanceClient) -> None:
    trn = Trinsic(client)
    created = trn.new_widget()  # asserts 200
    for exchange in (trn.get(created.session_id), trn.list({"PageSize": 1}), trn.cancel(created.session_id)):
        expect_status("TRN-R04", exchange, 200, "a valid call")
        body = json_of(exchange, rule="TRN-R04")
        expect(
            "TRN-R04",
            isinstance(body, dict),
            f"the 200 body must be the model: {shown(exchange)}",
            evidence=exchange,
        )
    expect_redacted(trn.redact(created.session_id))


MALFORMED: list[tuple[str, bytes, str]] = [
    ("broken JSON", b'{"provider": ', "application/json"),
    ("a JSON array", b"[]", "application/json"),
    ("a JSON string", b'"widget"', "application/json"),
    ("null", b"null", "application/json"),
    ("an empty body", b"", "application/json"),
    ("invalid UTF-8", b'{"redirectUrl": "\xff\xfe"}', "application/json"),
    ("a lone surrogate", b'{"redirectUrl": "\\ud800", "provider": "\\udfff"}', "application/json"),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000, "application/json"),
    ("a huge number", b'{"provider": 1e999999, "capabilities": [' + b"9" * 5000 + b"]}", "application/json"),
    (
        "wrong types",
        b'{"provider": 7, "redirectUrl": true, "capabilities": "PollResult", "providers": {}}',
        "application/json",
    ),
    (
        "an unknown enum value",
        b'{"provider": "x", "capabilities": ["Teleport"], "providers": [7]}',
        "application/json",
    ),
    (
        "an oversize string",
        json.dumps({"provider": "p" * 200_000, "redirectUrl": "r" * 200_000}).encode(),
        "application/json",
    ),
    ("form data", b"provider=x&redirectUrl=y", "application/x-www-form-urlencoded"),
    ("XML", b"<provider>x</provider>", "application/xml"),
    ("no content type", b'{"provider": "x"}', ""),
]


# Bodies that a legitimate reading may accept where a create needs nothing else (the widget's every
# property is optional): what the suite then requires is only "never a 5xx".
MAY_BE_ACCEPTED = {
    "an empty body": "A-20: a zero-length body may bind as {}",
    "an oversize string": "no maximum length is documented for these strings",
}


@pytest.mark.rules("TRN-X01")
@pytest.mark.needs("writes")
@pytest.mark.parametrize("label,body,content_type", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_are_a_4xx_problem(
    client: ConformanceClient, label: str, body: bytes, content_type: str
) -> None:
    for path in BODY_PATHS:
        headers = {"Content-Type": content_type} if content_type else {}
        exchange = client.request("POST", path, content=body, headers=headers)
        warn(
            "TRN-X01",
            exchange.status < 500,
            f"POST {path} with {label} answered a server error: {shown(exchange)}",
            evidence=exchange,
        )
        if label in MAY_BE_ACCEPTED and exchange.status == 200:
            warn(
                "TRN-X01",
                label != "an empty body",
                f"POST {path} with {label} created a session ({MAY_BE_ACCEPTED[label]}); the suite reads "
                f"a missing body as invalid (400): {shown(exchange)}",
                evidence=exchange,
            )
            continue
        warn(
            "TRN-X01",
            400 <= exchange.status < 500,
            f"POST {path} with {label} must be a 4xx: {shown(exchange)}",
            evidence=exchange,
        )
        warn(
            "TRN-X01",
            problem_body(exchange) is not None,
            f"POST {path} with {label}: the {exchange.status} must carry ProblemDetails: {shown(exchange)}",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-X01")
def test_malformed_results_and_list_input_is_a_4xx(client: ConformanceClient) -> None:
    """Read-only variants: results with odd bodies, list with odd query values."""
    sid = str(uuid.uuid4())
    for body in (b"{", b"[]", b'{"resultsAccessKey": 5}', b'{"resultsAccessKey": "\\ud800"}'):
        exchange = client.request(
            "POST", f"{PREFIX}/{sid}/results", content=body, headers={"Content-Type": "application/json"}
        )
        warn(
            "TRN-X01",
            400 <= exchange.status < 500,
            f"results with {body!r} must be a 4xx: {shown(exchange)}",
            evidence=exchange,
        )
    for params in (
        {"PageSize": "many"},
        {"Page": "-1"},
        {"Page": "99999999999999999999"},
        {"OrderDirection": "Sideways"},
        {"PageSize": "\u0663"},
    ):
        exchange = Trinsic(client).list(params)
        warn_rejected("TRN-X01", exchange, f"List Sessions with {params}", statuses=(400,))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    [
        "provider",
        "redirectUrl",
        "capabilities",
        "fallbackToHostedUI",
        "providerInput",
        "providers",
        "knownIdentityData",
        "resultsAccessKey",
    ]
)


@pytest.mark.rules("TRN-X01")
@pytest.mark.needs("writes")
def test_generated_bodies_never_cause_a_server_error(client: ConformanceClient, budget: Profile) -> None:
    """Random JSON under the documented field names: whatever the verdict, never a 5xx."""

    @hypothesis_settings(budget)
    @given(path=st.sampled_from(BODY_PATHS), body=st.dictionaries(FIELDS, JSON_VALUES, max_size=5))
    def check(path: str, body: dict[str, Any]) -> None:
        exchange = client.request("POST", path, json=body)
        warn(
            "TRN-X01",
            exchange.status < 500,
            f"POST {path} with {body!r} answered a 5xx: {shown(exchange)}",
            evidence=exchange,
        )
        if exchange.status >= 400:
            warn(
                "TRN-X01",
                problem_body(exchange) is not None,
                f"the {exchange.status} must carry ProblemDetails: {shown(exchange)}",
                evidence=exchange,
            )

    check()
