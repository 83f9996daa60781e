"""Zitadel sessions: how request bodies are decoded (ZTD-R09) and validated (ZTD-R10, ZTD-R35)."""

from __future__ import annotations

from typing import Any

import pytest
from _zitadel_steps import (
    INVALID_ARGUMENT,
    Zitadel,
    b64,
    error_status,
    ids_query,
    random_id,
)

from session_conformance.harness import ConformanceClient, Exchange, expect, expect_status, shown

JSON = {"Content-Type": "application/json"}
CHALLENGE_WEBAUTHN = {
    "domain": "example.com",
    "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED",
}


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


def expect_decode_error(exchange: Exchange, what: str) -> None:
    """ZTD-R09: a body protojson cannot decode is 400 with code 3 (never a 5xx, never accepted)."""
    expect(
        "ZTD-R09",
        exchange.status < 500,
        f"{what}: invalid input must be answered 400, not a server error: {shown(exchange)}",
        evidence=exchange,
    )
    expect_status("ZTD-R09", exchange, 400, f"{what} (InvalidArgument)")
    code, _, _ = error_status(exchange)
    expect(
        "ZTD-R09",
        code in (None, INVALID_ARGUMENT),  # a missing code is ZTD-R04's business
        f"{what}: rpcStatus code must be 3, got {code!r}: {shown(exchange)}",
        evidence=exchange,
    )


def expect_validation_error(exchange: Exchange, what: str, rule: str = "ZTD-R10") -> None:
    """ZTD-R10: a request-validation failure is 400, code 3, without details."""
    expect_status(rule, exchange, 400, f"{what} (a validation failure)")
    code, _, details = error_status(exchange)
    expect(
        "ZTD-R10",
        code in (None, INVALID_ARGUMENT),  # a missing code is ZTD-R04's business
        f"{what}: a validation failure must carry code 3, got {code!r}: {shown(exchange)}",
        evidence=exchange,
    )
    expect(
        "ZTD-R10",
        not details,
        f"{what}: a validation failure carries no details, got {details!r}",
        evidence=exchange,
    )


# --- ZTD-R09: decoding ---------------------------------------------------------------------------

SEARCH_UNDECODABLE: dict[str, Any] = {
    "malformed JSON": b'{"queries": [',
    "a JSON array instead of an object": b"[]",
    "unknown sortingColumn enum name": {"sortingColumn": "SESSION_FIELD_NAME_NOPE"},
    "unknown TimestampQueryMethod name": {
        "queries": [
            {
                "creationDateQuery": {
                    "creationDate": "2025-01-01T00:00:00Z",
                    "method": "TIMESTAMP_QUERY_METHOD_SOMETIMES",
                }
            }
        ]
    },
    "bad timestamp syntax": {"queries": [{"creationDateQuery": {"creationDate": "yesterday"}}]},
    "limit is not a number": {"query": {"limit": "many"}},
    "limit out of uint32 range": {"query": {"limit": 2**40}},
    "negative offset": {"query": {"offset": "-1"}},
    "asc is not a boolean": {"query": {"asc": "yes"}},
    "queries is an object": {"queries": {"idsQuery": {"ids": []}}},
    "ids is a string": {"queries": [{"idsQuery": {"ids": "123"}}]},
    "two members of the SearchQuery oneof": {
        "queries": [{"idsQuery": {"ids": ["1"]}, "userIdQuery": {"id": "1"}}]
    },
}


@pytest.mark.rules("ZTD-R09")
@pytest.mark.parametrize("case", sorted(SEARCH_UNDECODABLE))
def test_search_body_that_cannot_be_decoded(zt: Zitadel, case: str) -> None:
    body = SEARCH_UNDECODABLE[case]
    exchange = zt.search(content=body, headers=JSON) if isinstance(body, bytes) else zt.search(body)
    expect_decode_error(exchange, f"ListSessions with {case}")


CREATE_UNDECODABLE: dict[str, Any] = {
    "malformed JSON": b'{"metadata": {"k": ',
    "not UTF-8": b'{"metadata": {"k": "\xff\xfe"}}',
    "a lone UTF-16 surrogate in a string": b'{"userAgent": {"description": "broken \\ud800 text"}}',
    "a lone UTF-16 surrogate in a map key": b'{"metadata": {"k\\udc00": "YQ=="}}',
    "lifetime is a number": {"lifetime": 300},
    "metadata is a string": {"metadata": "key=value"},
    "checks is an array": {"checks": []},
    "userId is a number": {"checks": {"user": {"userId": 5}}},
    "header values are a string": {"userAgent": {"header": {"accept": "text/html"}}},
    "bad base64 metadata": {"metadata": {"k": "***not base64***"}},
    "bad duration syntax": {"lifetime": "5 minutes"},
    "duration with unit other than s": {"lifetime": "5m"},
    "duration out of range": {"lifetime": "999999999999999s"},
    "unknown userVerificationRequirement name": {
        "challenges": {
            "webAuthN": {
                "domain": "example.com",
                "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_SOMETIMES",
            }
        }
    },
    "two members of the OTPEmail deliveryType oneof": {
        "challenges": {"otpEmail": {"sendCode": {}, "returnCode": {}}}
    },
    "two members of the CheckUser oneof": {"checks": {"user": {"userId": "1", "loginName": "x"}}},
}


@pytest.mark.rules("ZTD-R09")
@pytest.mark.needs("writes")
@pytest.mark.parametrize("case", sorted(CREATE_UNDECODABLE))
def test_create_body_that_cannot_be_decoded(zt: Zitadel, case: str) -> None:
    body = CREATE_UNDECODABLE[case]
    exchange = zt.create(content=body, headers=JSON) if isinstance(body, bytes) else zt.create(body)
    expect_decode_error(exchange, f"CreateSession with {case}")


@pytest.mark.rules("ZTD-R09")
@pytest.mark.needs("writes")
def test_set_body_that_cannot_be_decoded(zt: Zitadel) -> None:
    session = zt.new_session()
    for case, body in (
        ("bad duration syntax", {"lifetime": "soon"}),
        ("bad base64 metadata", {"metadata": {"k": "%%"}}),
        ("malformed JSON", b"{"),
    ):
        if isinstance(body, bytes):
            exchange = zt.set(session.id, content=body, headers=JSON)
        else:
            exchange = zt.set(session.id, body)
        expect_decode_error(exchange, f"SetSession with {case}")
    exchange = zt.get(session.id, session.token)
    expect_status(
        "ZTD-R09", exchange, 200, "GetSession with the token after the refused bodies (still valid)"
    )


@pytest.mark.rules("ZTD-R09")
@pytest.mark.needs("writes")
def test_unknown_properties_are_ignored(zt: Zitadel) -> None:
    exchange = zt.create(
        {"metadata": {"k": b64("v")}, "notAField": {"nested": [1, 2]}, "sessionFlavour": "mint"}
    )
    expect_status("ZTD-R09", exchange, (200, 201), "CreateSession with unknown properties (ignored, Z-15)")
    data = exchange.json_or_none() or {}
    sid = data.get("sessionId", "")
    exchange = zt.search({"queries": [ids_query(sid)], "notAField": True, "query": {"limit": 5, "extra": 1}})
    expect_status("ZTD-R09", exchange, 200, "ListSessions with unknown properties (ignored)")
    exchange = zt.set(sid, {"notAField": 1})
    expect(
        "ZTD-R09",
        200 <= exchange.status < 300,
        f"SetSession must ignore unknown properties, got {shown(exchange)}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R09")
@pytest.mark.needs("writes")
def test_accepted_input_variants(zt: Zitadel) -> None:
    """protojson input leniency: empty body, unpadded/URL-safe base64, numeric strings, null = unset."""
    if not zt.connect:  # over Connect an empty body is a 400 (Connect sheet §6, C04: ZTD-T05's)
        exchange = zt.create(content=b"", headers=JSON)
        expect_status("ZTD-R09", exchange, (200, 201), "CreateSession with an empty body (it means `{}`)")
    exchange = zt.create({"metadata": {"a": "YQ", "b": "-_8"}, "lifetime": None, "checks": None})
    if exchange.status not in (200, 201):  # is it the encoding, or metadata-only creates at all (R14)?
        zt.new_session({"metadata": {"a": b64("a")}}, rule="ZTD-R14")
    expect_status(
        "ZTD-R09", exchange, (200, 201), "CreateSession with unpadded / URL-safe base64 and null fields"
    )
    exchange = zt.search({"queries": [ids_query(random_id())], "query": {"limit": "3", "offset": 0}})
    expect_status(
        "ZTD-R09", exchange, 200, "ListSessions with numeric strings for uint32 and numbers for uint64"
    )


# --- ZTD-R10 / ZTD-R35: validation ----------------------------------------------------------------


@pytest.mark.rules("ZTD-R35", "ZTD-R10")
@pytest.mark.needs("writes")
def test_lifetime_must_be_positive(zt: Zitadel) -> None:
    for lifetime in ("0s", "-5s", "-0.5s"):
        exchange = zt.create({"lifetime": lifetime})
        expect_validation_error(exchange, f"CreateSession with lifetime {lifetime!r}", rule="ZTD-R35")
    session = zt.new_session()
    exchange = zt.set(session.id, {"lifetime": "0s"})
    expect_validation_error(exchange, "SetSession with lifetime '0s'", rule="ZTD-R35")


def _validation_cases() -> dict[str, dict[str, Any]]:
    user = {"userId": random_id()}  # valid in shape; validation must fail before the user is looked up
    return {
        "empty userId": {"checks": {"user": {"userId": ""}}},
        "userId longer than 200": {"checks": {"user": {"userId": "1" * 201}}},
        "empty loginName": {"checks": {"user": {"loginName": ""}}},
        "empty password": {"checks": {"user": user, "password": {"password": ""}}},
        "password longer than 200": {"checks": {"user": user, "password": {"password": "p" * 201}}},
        "TOTP code not 6 long": {"checks": {"user": user, "totp": {"code": "12345"}}},
        "empty SMS OTP code": {"checks": {"user": user, "otpSms": {"code": ""}}},
        "empty email OTP code": {"checks": {"user": user, "otpEmail": {"code": ""}}},
        "WebAuthN check without credentialAssertionData": {"checks": {"user": user, "webAuthN": {}}},
        "empty idpIntentId": {
            "checks": {"user": user, "idpIntent": {"idpIntentId": "", "idpIntentToken": "t"}}
        },
        "empty idpIntentToken": {
            "checks": {"user": user, "idpIntent": {"idpIntentId": "1", "idpIntentToken": ""}}
        },
        "WebAuthN challenge with empty domain": {
            "challenges": {"webAuthN": {**CHALLENGE_WEBAUTHN, "domain": ""}}
        },
        "WebAuthN challenge with UNSPECIFIED requirement": {
            "challenges": {
                "webAuthN": {
                    **CHALLENGE_WEBAUTHN,
                    "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_UNSPECIFIED",
                }
            }
        },
        "WebAuthN challenge without requirement": {"challenges": {"webAuthN": {"domain": "example.com"}}},
        "empty urlTemplate": {"challenges": {"otpEmail": {"sendCode": {"urlTemplate": ""}}}},
    }


@pytest.mark.rules("ZTD-R10")
@pytest.mark.needs("writes")
def test_create_validation_failures(zt: Zitadel) -> None:
    for case, body in _validation_cases().items():
        exchange = zt.create(body)
        expect_validation_error(exchange, f"CreateSession with {case}")


@pytest.mark.rules("ZTD-R10")
def test_search_validation_failures(zt: Zitadel) -> None:
    cases: dict[str, Any] = {
        "undefined TimestampQueryMethod number": {
            "queries": [{"creationDateQuery": {"creationDate": "2025-01-01T00:00:00Z", "method": 99}}]
        },
    }
    if not zt.beta:  # v2beta has neither query; there the element is empty (ZTD-R56)
        cases["creatorQuery id longer than 200"] = {"queries": [{"creatorQuery": {"id": "1" * 201}}]}
        cases["userAgentQuery fingerprintId longer than 200"] = {
            "queries": [{"userAgentQuery": {"fingerprintId": "f" * 201}}]
        }
    for case, body in cases.items():
        exchange = zt.search(body)
        expect_validation_error(exchange, f"ListSessions with {case}")
