"""What suites judge answers with: status expectations, masked one-line renderings, JSON bodies."""

from __future__ import annotations

import json

import pytest

from session_conformance.evidence import Exchange
from session_conformance.harness import Statuses, expect_status, json_of, shown, warn_status
from session_conformance.redaction import MASK, SECRETS, register_secret
from session_conformance.verdict import WARNINGS, RuleViolation


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    SECRETS.clear()
    WARNINGS.start()


def _exchange(
    status: int = 200,
    body: bytes | str | dict[str, object] = b"",
    *,
    method: str = "GET",
    url: str = "http://127.0.0.1:8080/v2/sessions/123",
    error: str | None = None,
) -> Exchange:
    if isinstance(body, dict):
        raw, content_type = json.dumps(body).encode(), "application/json"
    else:
        raw = body.encode() if isinstance(body, str) else body
        content_type = "text/plain"
    return Exchange(
        method=method,
        url=url,
        request_headers={"Authorization": "Bearer primary-token-0123456789"},
        request_body=b"",
        status=status,
        headers={"Content-Type": content_type},
        body=raw,
        error=error,
    )


# --- expect_status / warn_status ------------------------------------------------------------------


def test_expect_status_passes_on_a_matching_status() -> None:
    expect_status("ZTD-R03", _exchange(200), 200, "GetSession")
    expect_status("ZTD-R14", _exchange(201), (200, 201), "CreateSession")


def test_expect_status_names_the_rule_and_both_statuses() -> None:
    exchange = _exchange(404, {"code": 5, "message": "not found"})
    with pytest.raises(RuleViolation) as caught:
        expect_status("ZTD-R43", exchange, 200, "GetSession with the current token")
    failure = caught.value
    assert failure.rule == "ZTD-R43"
    assert failure.evidence is exchange
    message = str(failure)
    assert message.startswith("[ZTD-R43] GetSession with the current token must answer 200: ")
    assert "GET /v2/sessions/123 -> 404 " in message
    assert '"code":5' in message


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ({403, 404}, "must answer 403 or 404:"),
        (frozenset({404, 200, 403}), "must answer 200, 403 or 404:"),
        ([401, 403, 401], "must answer 401 or 403:"),
    ],
)
def test_expect_status_accepts_a_collection(statuses: Statuses, expected: str) -> None:
    expect_status("ZTD-R51", _exchange(403), statuses, "DeleteSession")
    with pytest.raises(RuleViolation, match=expected):
        expect_status("ZTD-R51", _exchange(500), statuses, "DeleteSession")


def test_expect_status_on_a_missing_response_shows_the_transport_error() -> None:
    with pytest.raises(RuleViolation) as caught:
        expect_status("TRN-R04", _exchange(0, error="ConnectError: refused"), 200, "Get Session")
    assert "Get Session must answer 200: GET /v2/sessions/123 -> no response: ConnectError" in str(
        caught.value
    )


def test_warn_status_records_a_warning_and_goes_on() -> None:
    assert warn_status("TRN-R02", _exchange(401), 401, "List Sessions without a token") is True
    assert WARNINGS.collect() == []
    assert warn_status("TRN-R02", _exchange(403), 401, "List Sessions without a token") is False
    (warning,) = WARNINGS.collect()
    assert warning.rule == "TRN-R02"
    assert warning.message.startswith("[TRN-R02] List Sessions without a token should answer 401: ")
    assert "-> 403" in warning.message


# --- shown ----------------------------------------------------------------------------------------


def test_shown_is_one_line_with_method_path_status_and_body() -> None:
    exchange = _exchange(400, "line one\nline two", method="POST", url="http://h:1/api/v1/sessions/widget")
    assert shown(exchange) == "POST /api/v1/sessions/widget -> 400 line one line two"


def test_shown_masks_a_registered_secret_wherever_it_is() -> None:
    secret = "configured-secret-9f8e7d6c5b"
    register_secret(secret)
    exchange = _exchange(
        500,
        f"internal error while checking {secret}",
        url=f"http://h:1/api/v1/sessions/{secret}/results",
    )
    text = shown(exchange)
    assert secret not in text
    assert text == f"GET /api/v1/sessions/{MASK}/results -> 500 internal error while checking {MASK}"


def test_shown_masks_tokens_in_json_bodies_and_query_parameters() -> None:
    exchange = _exchange(
        201,
        {"sessionId": "42", "sessionToken": "tok-abcdef-123456", "launchUrl": "https://idv.example/x"},
        method="POST",
        url="http://h:1/v2/sessions/42?sessionToken=tok-abcdef-123456",
    )
    text = shown(exchange)
    assert "tok-abcdef-123456" not in text
    assert "idv.example" not in text
    assert '"sessionId":"42"' in text
    assert f"sessionToken={MASK}" in text


def test_shown_masks_identity_data() -> None:
    exchange = _exchange(200, {"identityData": {"person": {"givenName": "Ada", "familyName": "Lovelace"}}})
    text = shown(exchange)
    assert "Lovelace" not in text
    assert "Ada" not in text


def test_shown_cuts_a_long_body() -> None:
    text = shown(_exchange(400, "x" * 5000), limit=50)
    assert text == "GET /v2/sessions/123 -> 400 " + "x" * 50 + "…"


def test_shown_cuts_a_long_json_body_and_marks_the_cut() -> None:
    sessions = [{"id": str(index), "sessionToken": f"tok-{index:04d}-abcdefgh"} for index in range(500)]
    text = shown(_exchange(200, {"sessions": sessions}), limit=120)
    assert text.startswith('GET /v2/sessions/123 -> 200 {"sessions":[{"id":"0","sessionToken":"***"}')
    assert text.endswith("…")
    assert "tok-" not in text


def test_shown_masks_a_secret_registered_after_an_earlier_rendering() -> None:
    secret = "late-registered-secret-5a4b3c"
    exchange = _exchange(500, f"failed with {secret}")
    assert secret in shown(exchange)  # nobody said it was a secret yet
    register_secret(secret)
    assert shown(exchange) == f"GET /v2/sessions/123 -> 500 failed with {MASK}"


def test_shown_of_an_empty_body_ends_with_the_status() -> None:
    assert shown(_exchange(204)) == "GET /v2/sessions/123 -> 204"


# --- json_of --------------------------------------------------------------------------------------


def test_json_of_answers_the_parsed_body() -> None:
    assert json_of(_exchange(200, {"session": {"id": "1"}}), "ZTD-R47") == {"session": {"id": "1"}}


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"", b"{not json", b"\xff\xfe"])
def test_json_of_fails_the_rule_when_the_body_is_not_json(body: bytes) -> None:
    exchange = _exchange(200, body)
    with pytest.raises(RuleViolation) as caught:
        json_of(exchange, rule="TRN-R04")
    assert caught.value.rule == "TRN-R04"
    assert caught.value.evidence is exchange
    assert str(caught.value).startswith("[TRN-R04] the answer is not JSON: GET /v2/sessions/123 -> 200")


def test_json_or_none_is_the_lenient_reading() -> None:
    assert _exchange(200, b"<html/>").json_or_none() is None
    assert _exchange(200, {"a": 1}).json_or_none() == {"a": 1}


def test_generic_problems_of_rules_that_fail_at_warning_are_warnings() -> None:
    """TRN-X01 (inferred: invalid input is never a 5xx) warns; TRN-R04 (documented) still fails."""
    from session_conformance.generic import raise_violations
    from session_conformance.verdict import WARNINGS

    WARNINGS.start()
    raise_violations([("TRN-X01", "a 500")], _exchange(500), only=None, context="case")
    assert [w.rule for w in WARNINGS.collect()] == ["TRN-X01"]
    with pytest.raises(RuleViolation) as caught:
        raise_violations([("TRN-X01", "a 500"), ("TRN-R04", "bad")], _exchange(500), only=None, context="c")
    assert caught.value.rule == "TRN-R04"
    assert [w.rule for w in WARNINGS.collect()] == ["TRN-X01"]
