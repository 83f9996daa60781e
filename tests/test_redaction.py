"""Every kind of secret is masked in text, headers, JSON, URLs and cURL lines."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_conformance.evidence import Exchange
from session_conformance.redaction import (
    MASK,
    SECRETS,
    redact_body,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
    register_secret,
    remember_secrets,
)


@pytest.fixture(autouse=True)
def _fresh_registry() -> None:
    SECRETS.clear()


def test_authorization_header_keeps_the_scheme() -> None:
    assert redact_headers({"Authorization": "Bearer abc.def.ghi", "Accept": "x"}) == {
        "Authorization": f"Bearer {MASK}",
        "Accept": "x",
    }
    assert "abc.def.ghi" in SECRETS  # seen once, masked everywhere afterwards
    assert redact_text("token was abc.def.ghi") == f"token was {MASK}"


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer s3cr3t-token",
        "curl -H 'Authorization: Bearer s3cr3t-token' https://x",
        "sent bearer s3cr3t-token to it",
        '{"sessionToken": "s3cr3t-token"}',
        "GET /v2/sessions/1?sessionToken=s3cr3t-token&x=1",
        "resultsAccessKey=s3cr3t-token",
        "'password': 's3cr3t-token'",
    ],
)
def test_secrets_in_free_text(text: str) -> None:
    assert "s3cr3t-token" not in redact_text(text)


def test_json_secrets_and_identity_data() -> None:
    body = {
        "sessionId": "keep-me",
        "sessionToken": "tok-123456",
        "launchUrl": "https://launch.example/abc",
        "resultCollection": {"method": "PollResult", "resultsAccessKey": "key-123456"},
        "nextStep": {"method": "LaunchBrowser", "content": "https://idp.example/step/xyz", "refresh": None},
        "identityData": {
            "person": {"givenName": "Ada", "familyName": "Lovelace", "dateOfBirth": "1815-12-10"},
            "document": {"number": "X123"},
        },
        "providerInput": {"southAfricaNid": {"nationalIdNumber": "8001015009087", "fullName": "A B"}},
        "checks": {"password": {"password": "hunter22"}, "otpSms": {"code": "123456"}},
        "challenges": {"otpEmail": "654321"},
        "code": 3,
        "errorCode": "Canceled",
    }
    masked = redact_json(body)
    text = json.dumps(masked)
    for secret in (
        "tok-123456",
        "launch.example",
        "key-123456",
        "idp.example",
        "Ada",
        "Lovelace",
        "1815",
        "X123",
        "8001015009087",
        "hunter22",
        "123456",
        "654321",
    ):
        assert secret not in text, secret
    assert masked["sessionId"] == "keep-me" and masked["code"] == 3 and masked["errorCode"] == "Canceled"
    assert masked["nextStep"]["refresh"] is None and masked["nextStep"]["method"] == "LaunchBrowser"
    # masked values are remembered: they stay masked wherever they reappear
    assert "tok-123456" not in redact_text("later: /v2/sessions/1 with tok-123456")


def test_urls_and_bodies() -> None:
    assert "abc" not in redact_url("https://x.test/v2/sessions/1?sessionToken=abc&keep=1")
    assert "keep=1" in redact_url("https://x.test/v2/sessions/1?sessionToken=abc&keep=1")
    assert "pw-9876" not in redact_body(b'{"password": "pw-9876"}')
    assert "pw-9876" not in redact_body(b'not json, "password": "pw-9876"')


def test_registered_values_are_masked_in_exception_messages() -> None:
    register_secret("configured-token-xyz")
    error = AssertionError("expected 401 for configured-token-xyz")
    assert "configured-token-xyz" not in redact_text(str(error))


def test_curl_line_of_an_exchange_is_masked() -> None:
    exchange = Exchange(
        method="DELETE",
        url="http://t.test/v2/sessions/1?sessionToken=qs-token-1",
        request_headers={"Authorization": "Bearer hdr-token-1", "Content-Type": "application/json"},
        request_body=b'{"sessionToken": "body-token-1"}',
        status=200,
        headers={"content-type": "application/json"},
        body=b'{"details": {}, "sessionToken": "resp-token-1"}',
    )
    rendered = exchange.curl() + exchange.render() + json.dumps(exchange.to_dict())
    for secret in ("qs-token-1", "hdr-token-1", "body-token-1", "resp-token-1"):
        assert secret not in rendered
    assert rendered.startswith("curl -sS -X DELETE")


def test_lone_surrogates_become_writable() -> None:
    redact_text("x\ud800y").encode("utf-8")


def test_ordinary_words_under_secret_keys_are_masked_in_place_but_not_everywhere() -> None:
    from session_conformance.redaction import looks_like_secret, redact_json, redact_text

    for word in (
        "with",
        "token",
        "PollResult",
        "application/json",
        "conformance-test-mobile",
        "CaptureRedirect",
    ):
        assert redact_json({"password": word}) == {"password": "***"}
        assert not looks_like_secret(word)
        assert word in redact_text(f"[TRN-R16] with {word} the hosted UI covers every gap")
    secret = "pri_Ym1Bd-HksR5O7urnLPmjPELgAvcL0P7l"
    assert redact_json({"sessionToken": secret}) == {"sessionToken": "***"}
    assert secret not in redact_text(f"the token {secret} leaked")


def test_prose_after_bearer_survives_and_credentials_do_not() -> None:
    from session_conformance.redaction import redact_text

    assert (
        redact_text("answered 403 with an unknown bearer token")
        == "answered 403 with an unknown bearer token"
    )
    assert "eyJhbGciOi" not in redact_text("Authorization was Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig")


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(["s3cr3t-T0ken-42", "Alice", "https://idv.example/launch/Xy12zz99"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "sessionToken",
                    "resultsAccessKey",
                    "launchUrl",
                    "content",
                    "code",
                    "name",
                    "email",
                    "given_name",
                    "status",
                    "id",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(_JSON)
def test_remember_secrets_registers_what_redact_json_would(value: object) -> None:
    """The client only registers (remember_secrets); rendering masks later: both must see the same secrets."""
    SECRETS.clear()
    remember_secrets(value)
    remembered = set(SECRETS._values)
    SECRETS.clear()
    redact_json(value)
    assert remembered == SECRETS._values


def test_media_types_and_enum_values_in_identity_objects_stay_readable() -> None:
    """A media type or a document kind is no one's personal data: readable inside identity objects,
    and not remembered as a secret (else it is masked in every later message, the one under test too)."""
    body = {
        "provider": "g-brazil-digital-cnh",
        "providerInput": {
            "brazilDigitalCnh": {
                "cpfNumber": "12345678909",
                "digitalCnhFile": "JVBERi0xLjQK",
                "digitalCnhFileContentType": "image/gif",
            }
        },
        "identityData": {"document": {"type": "Passport", "number": "X1234567"}, "person": {"sex": "Female"}},
    }
    masked = redact_json(body)
    cnh = masked["providerInput"]["brazilDigitalCnh"]
    assert cnh == {"cpfNumber": MASK, "digitalCnhFile": MASK, "digitalCnhFileContentType": "image/gif"}
    identity = masked["identityData"]
    assert identity == {"document": {"type": "Passport", "number": MASK}, "person": {"sex": MASK}}
    message = '[TRN-R39] digitalCnhFileContentType "image/gif" should answer 400'
    assert redact_text(message) == message
    assert "12345678909" not in redact_text("cpf 12345678909 leaked")  # the personal values stay secret
    remember_secrets({"providerInput": {"x": {"mimeType": "application/pdf", "lastName": "Lovelace"}}})
    assert redact_text("application/pdf for Lovelace") == f"application/pdf for {MASK}"
