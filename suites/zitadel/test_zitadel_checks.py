"""Zitadel sessions: checks, factors and challenges (ZTD-R15..R30)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlparse

import pytest
from _zitadel_steps import (
    FACTOR_NAMES,
    Session,
    Zitadel,
    b64,
    decoded_metadata,
    documented_factors,
    known_user,
    mentions,
    parse_ts,
    random_id,
)

from session_conformance.harness import (
    ConformanceClient,
    ProviderState,
    Target,
    expect,
    expect_status,
    shown,
    warn_status,
)

WRONG_PASSWORD = "definitely-not-the-password-0!"
FAKE_ASSERTION = {
    "type": "public-key",
    "id": "Y29uZm9ybWFuY2UtY3JlZGVudGlhbA",
    "rawId": "Y29uZm9ybWFuY2UtY3JlZGVudGlhbA",
    "response": {
        "authenticatorData": "SZYN5YgOjGh0NBcPZHZgW4_krrmihjLHmVzzuoMdl2MFAAAAAQ",
        "clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0IiwiY2hhbGxlbmdlIjoiY29uZm9ybWFuY2UifQ",
        "signature": "MEUCIQDconformanceconformanceconformanceconformance",
        "userHandle": "Y29uZm9ybWFuY2U",
    },
}


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


@pytest.fixture
def human(zt: Zitadel, zitadel_user: dict[str, Any]) -> dict[str, Any]:
    """The test user, with its ID resolved when only a login name was given."""
    return known_user(zt, zitadel_user)


def user_check(user: dict[str, Any], by: str = "loginName") -> dict[str, Any]:
    return {"userId": user["user_id"]} if by == "userId" else {"loginName": user["login_name"]}


def with_user(zt: Zitadel, user: dict[str, Any], **extra: Any) -> Session:
    """A session whose user is checked (plus whatever ``extra`` adds to the create body)."""
    checks = {"user": user_check(user), **extra.pop("checks", {})}
    return zt.new_session({"checks": checks, **extra}, rule="ZTD-R15")


def factors_of(zt: Zitadel, session: Session) -> dict[str, Any]:
    factors = zt.read(session).get("factors")
    return factors if isinstance(factors, dict) else {}


# --- user check ----------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R15")
@pytest.mark.needs("writes")
def test_user_check_needs_exactly_one_identifier(zt: Zitadel) -> None:
    exchange = zt.create({"checks": {"user": {}}})
    expect_status(
        "ZTD-R15",
        exchange,
        (400, 501),
        "a user check with neither userId nor loginName (501, or 400 in newer Zitadel, Z-19)",
    )
    warn_status(
        "ZTD-R15",
        exchange,
        501,
        "a user check with neither userId nor loginName (v2.71.4-era code answers 501 Unimplemented, "
        "newer Zitadel 400; inferred, Z-19)",
    )
    exchange = zt.create(
        {"checks": {"user": {"userId": random_id(), "loginName": "someone@example.invalid"}}}
    )
    expect_status("ZTD-R15", exchange, 400, "a user check with both userId and loginName (two oneof members)")


@pytest.mark.rules("ZTD-R15", "ZTD-R23")
@pytest.mark.needs("writes", "zitadel_user")
def test_user_check_by_id_or_login_name_sets_the_user_factor(zt: Zitadel, human: dict[str, Any]) -> None:
    for by in ("userId", "loginName"):
        session = zt.new_session({"checks": {"user": user_check(human, by)}}, rule="ZTD-R15")
        factors = factors_of(zt, session)
        user = factors.get("user") or {}
        expect(
            "ZTD-R15",
            user.get("id") == human["user_id"],
            f"after a user check by {by}, factors.user.id must be {human['user_id']!r}, got {factors!r}",
        )
        expect(
            "ZTD-R23",
            parse_ts(user.get("verifiedAt")) is not None,
            f"factors.user.verifiedAt must be set after a user check, got {user!r}",
        )
        unverified = sorted((set(factors) & set(FACTOR_NAMES)) - {"user"})
        expect(
            "ZTD-R23",
            not unverified,
            f"factors that were never verified must be absent, found {unverified} after a user check only",
        )


@pytest.mark.rules("ZTD-R16")
@pytest.mark.needs("writes")
def test_unknown_user_is_404(zt: Zitadel) -> None:
    for check in ({"userId": random_id()}, {"loginName": f"nobody-{random_id()}@example.invalid"}):
        exchange = zt.create({"checks": {"user": check}})
        expect_status("ZTD-R16", exchange, 404, f"a user check on an unknown user ({next(iter(check))})")


@pytest.mark.rules("ZTD-R17")
@pytest.mark.needs("writes", "zitadel_user", "provider_state")
def test_checked_user_cannot_change(
    zt: Zitadel, human: dict[str, Any], provider_state: ProviderState
) -> None:
    other = provider_state("zitadel user exists", {})
    if other.get("user_id") == human["user_id"]:
        pytest.skip(
            "the provider state `zitadel user exists` gave the same user again; a second user is needed"
        )
    session = with_user(zt, human)
    exchange = zt.set(session.id, {"checks": {"user": {"userId": other["user_id"]}}})
    expect_status("ZTD-R17", exchange, 400, "a user check with a different user than the checked one")
    factors = factors_of(zt, session)
    expect(
        "ZTD-R17",
        (factors.get("user") or {}).get("id") == human["user_id"],
        f"the checked user changed after a refused user change: {factors.get('user')!r}",
    )
    # re-checking the same user is allowed (Z-20)
    zt.change(session, {"checks": {"user": user_check(human, "userId")}}, rule="ZTD-R17")


# --- password ------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R18")
@pytest.mark.needs("writes")
def test_user_bound_checks_need_a_user(zt: Zitadel) -> None:
    cases = {
        "password": {"password": {"password": WRONG_PASSWORD}},
        "totp": {"totp": {"code": "123456"}},
        "otpSms": {"otpSms": {"code": "123456"}},
        "otpEmail": {"otpEmail": {"code": "123456"}},
    }
    for name, checks in cases.items():
        exchange = zt.create({"checks": checks})
        expect_status("ZTD-R18", exchange, 400, f"CreateSession with a {name} check but no user")
    session = zt.new_session()
    exchange = zt.set(session.id, {"checks": cases["password"]})
    expect_status("ZTD-R18", exchange, 400, "SetSession with a password check on a session without user")


@pytest.mark.rules("ZTD-R19")
@pytest.mark.needs("writes", "zitadel_user")
def test_wrong_password_is_command_3m0fs(zt: Zitadel, human: dict[str, Any]) -> None:
    exchange = zt.create({"checks": {"user": user_check(human), "password": {"password": WRONG_PASSWORD}}})
    expect_status("ZTD-R19", exchange, 400, "a wrong password")
    expect(
        "ZTD-R19",
        mentions(exchange, "COMMAND-3M0fs"),
        f"a wrong password must name error ID COMMAND-3M0fs in the message or details: {shown(exchange)}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R22", "ZTD-R23")
@pytest.mark.needs("writes", "zitadel_user")
def test_password_factor_and_recheck(zt: Zitadel, human: dict[str, Any]) -> None:
    session = with_user(zt, human)
    expect(
        "ZTD-R23",
        "password" not in factors_of(zt, session),
        "factors.password must be absent before a password check",
    )
    zt.change(session, {"checks": {"password": {"password": human["password"]}}}, rule="ZTD-R22")
    first = factors_of(zt, session)
    first_at = parse_ts((first.get("password") or {}).get("verifiedAt"))
    expect(
        "ZTD-R22",
        first_at is not None,
        f"a successful password check must set factors.password.verifiedAt, got {first!r}",
    )
    zt.change(session, {"checks": {"password": {"password": human["password"]}}}, rule="ZTD-R22")
    second = factors_of(zt, session)
    second_at = parse_ts((second.get("password") or {}).get("verifiedAt"))
    first_raw = str((first.get("password") or {}).get("verifiedAt"))
    if second_at == first_at and "." not in first_raw:
        # whole seconds: the two checks may share one; a third, surely a second later, must differ
        time.sleep(1.1)
        zt.change(session, {"checks": {"password": {"password": human["password"]}}}, rule="ZTD-R22")
        second = factors_of(zt, session)
        second_at = parse_ts((second.get("password") or {}).get("verifiedAt"))
    expect(
        "ZTD-R22",
        second_at is not None and first_at is not None and second_at > first_at,
        f"re-running the password check must overwrite verifiedAt with the later check's time: "
        f"{(first.get('password') or {}).get('verifiedAt')} then "
        f"{(second.get('password') or {}).get('verifiedAt')}",
    )
    user_at = parse_ts((second.get("user") or {}).get("verifiedAt"))
    expect(
        "ZTD-R22", user_at is not None, f"factors.user.verifiedAt must stay set, got {second.get('user')!r}"
    )


# --- failing checks change nothing -----------------------------------------------------------------


def _expect_unchanged(zt: Zitadel, session: Session, before: dict[str, Any], what: str) -> None:
    after = zt.read(session, rule="ZTD-R30")
    expect(
        "ZTD-R30",
        decoded_metadata(after.get("metadata")) == decoded_metadata(before.get("metadata")),
        f"{what} failed but the metadata changed: {before.get('metadata')!r} -> {after.get('metadata')!r}",
    )
    expect(
        "ZTD-R30",
        after.get("expirationDate") == before.get("expirationDate"),
        f"{what} failed but the lifetime was applied: expirationDate {before.get('expirationDate')!r} -> "
        f"{after.get('expirationDate')!r}",
    )
    expect(
        "ZTD-R30",
        after.get("sequence") == before.get("sequence"),
        f"{what} failed but the session's sequence moved: {before.get('sequence')!r} -> "
        f"{after.get('sequence')!r}",
    )
    expect(
        "ZTD-R30",
        documented_factors(after.get("factors")) == documented_factors(before.get("factors")),
        f"{what} failed but the factors changed: {before.get('factors')!r} -> {after.get('factors')!r}",
    )


@pytest.mark.rules("ZTD-R30", "ZTD-R18")
@pytest.mark.needs("writes")
def test_failing_check_changes_nothing(zt: Zitadel) -> None:
    session = zt.new_session({"metadata": {"keep": b64("me")}})
    before = zt.read(session)
    exchange = zt.set(
        session.id,
        {
            "metadata": {"keep": b64("changed"), "new": b64("key")},
            "lifetime": "60s",
            "checks": {"password": {"password": WRONG_PASSWORD}},
        },
    )
    expect_status("ZTD-R18", exchange, 400, "a password check on a session without user")
    _expect_unchanged(zt, session, before, "a SetSession with a password check but no user")


@pytest.mark.rules("ZTD-R30", "ZTD-R19")
@pytest.mark.needs("writes", "zitadel_user")
def test_failing_password_changes_nothing(zt: Zitadel, human: dict[str, Any]) -> None:
    session = with_user(zt, human, metadata={"keep": b64("me")})
    before = zt.read(session)
    exchange = zt.set(
        session.id,
        {
            "metadata": {"keep": b64(""), "new": b64("key")},
            "lifetime": "60s",
            "checks": {"password": {"password": WRONG_PASSWORD}},
        },
    )
    expect_status("ZTD-R19", exchange, 400, "a wrong password")
    _expect_unchanged(zt, session, before, "a SetSession with a wrong password")


# --- WebAuthN ------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R20")
@pytest.mark.needs("writes", "zitadel_user")
def test_webauthn_check_needs_a_challenge(zt: Zitadel, human: dict[str, Any]) -> None:
    session = with_user(zt, human)
    exchange = zt.set(session.id, {"checks": {"webAuthN": {"credentialAssertionData": FAKE_ASSERTION}}})
    expect_status("ZTD-R20", exchange, 400, "a WebAuthN check without a previously requested challenge")
    expect(
        "ZTD-R20",
        "webAuthN" not in factors_of(zt, session),
        "a refused WebAuthN check must not set factors.webAuthN",
    )


def webauthn_domain(target: Target) -> str:
    """The instance's domain: Zitadel selects the instance by host, so it is the target's host."""
    return urlparse(str(getattr(target, "base_url", "") or "http://localhost")).hostname or "localhost"


@pytest.mark.rules("ZTD-R25")
@pytest.mark.needs("writes")
def test_webauthn_challenge_needs_a_user(zt: Zitadel, target: Target) -> None:
    challenge = {
        "webAuthN": {
            "domain": webauthn_domain(target),
            "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED",
        }
    }
    exchange = zt.create({"challenges": challenge})
    expect(
        "ZTD-R25",
        400 <= exchange.status < 500,
        f"a WebAuthN challenge without a checked user must fail with a 4xx: {shown(exchange)}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R25", "ZTD-R28")
@pytest.mark.needs("writes", "zitadel_user")
def test_webauthn_challenge_with_user(zt: Zitadel, human: dict[str, Any], target: Target) -> None:
    """The target's host is the instance's domain (Zitadel picks the instance by host).

    Whether the target accepts that domain (and a challenge for the test user) is learnt from its
    answer: a refusal skips the check, naming why; once accepted, the same challenge without a user
    must be refused (ZTD-R25), which the domain can then no longer explain.
    """
    domain = webauthn_domain(target)
    challenge = {
        "webAuthN": {
            "domain": domain,
            "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED",
        }
    }
    exchange = zt.create({"checks": {"user": user_check(human)}, "challenges": challenge})
    if 400 <= exchange.status < 500:
        pytest.skip(
            f"the target refused a WebAuthN challenge for the test user on domain {domain!r} "
            f"({exchange.status}): the domain is not registered for the instance or the user cannot use "
            f"WebAuthN; the positive ZTD-R25 case cannot be checked on this target"
        )
    expect_status("ZTD-R25", exchange, (200, 201), "a WebAuthN challenge with a checked user")
    challenges = (exchange.json_or_none() or {}).get("challenges")
    expect(
        "ZTD-R28",
        isinstance(challenges, dict),
        f"the response must carry `challenges` when challenges were requested: {shown(exchange)}",
        evidence=exchange,
    )
    options = ((challenges or {}).get("webAuthN") or {}).get("publicKeyCredentialRequestOptions")
    expect(
        "ZTD-R25",
        isinstance(options, dict) and isinstance(options.get("publicKey"), dict),
        f"challenges.webAuthN.publicKeyCredentialRequestOptions must be an object with `publicKey` (Z-16): "
        f"{shown(exchange)}",
        evidence=exchange,
    )
    without_user = zt.create({"challenges": challenge})
    expect(
        "ZTD-R25",
        400 <= without_user.status < 500,
        f"the WebAuthN challenge on domain {domain!r} succeeded with a checked user, so without a user it "
        f"must fail with a 4xx: {shown(without_user)}",
        evidence=without_user,
    )


# --- challenges object ---------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R28")
@pytest.mark.needs("writes")
def test_challenges_present_when_requested(zt: Zitadel) -> None:
    exchange = zt.create({"challenges": {}})
    expect_status("ZTD-R28", exchange, (200, 201), "a create with empty challenges")
    data = exchange.json_or_none() or {}
    expect(
        "ZTD-R28",
        isinstance(data.get("challenges"), dict),
        f"CreateSession must answer `challenges` (at least {{}}) when the request had `challenges`: "
        f"{shown(exchange)}",
        evidence=exchange,
    )
    plain = zt.new_session()
    exchange = zt.set(plain.id, {"challenges": {}})
    expect(
        "ZTD-R28",
        200 <= exchange.status < 300,
        f"a set with empty challenges must succeed: {shown(exchange)}",
        evidence=exchange,
    )
    expect(
        "ZTD-R28",
        isinstance((exchange.json_or_none() or {}).get("challenges"), dict),
        f"SetSession must answer `challenges` when the request had `challenges`: {shown(exchange)}",
        evidence=exchange,
    )
    created = zt.create({}).json_or_none() or {}
    expect(
        "ZTD-R28",
        "challenges" not in created,
        f"`challenges` must be absent when none were requested: {created.get('challenges')!r}",
    )


# --- OTP -----------------------------------------------------------------------------------------

OTP_CASES = {
    # factor name: (rule, challenge request)
    "otpSms": ("ZTD-R26", {"otpSms": {"returnCode": True}}),
    "otpEmail": ("ZTD-R27", {"otpEmail": {"returnCode": {}}}),
}


@pytest.mark.parametrize("kind", sorted(OTP_CASES))
@pytest.mark.rules("ZTD-R26", "ZTD-R27", "ZTD-R28", "ZTD-R29", "ZTD-R22")
@pytest.mark.needs("writes", "zitadel_user")
def test_otp_code_returned_checked_once(zt: Zitadel, human: dict[str, Any], kind: str) -> None:
    """The returned code checks once, then never.

    target-interface.md promises only user and password checks for the test user; whether it has
    this OTP method set up is learnt from the target's answer to the challenge (a refusal skips).
    """
    rule, challenge = OTP_CASES[kind]
    session = with_user(zt, human)
    requested = zt.set(session.id, {"challenges": challenge})
    if 400 <= requested.status < 500:
        pytest.skip(
            f"the target refused a {kind} challenge for the test user ({requested.status}): {kind} is not "
            f"set up for that user; {rule} and ZTD-R29 cannot be checked on this target"
        )
    expect(
        rule,
        200 <= requested.status < 300,
        f"a {kind} challenge for a user with {kind} set up must succeed: {shown(requested)}",
        evidence=requested,
    )
    answer = requested.json_or_none() or {}
    if isinstance(answer.get("sessionToken"), str) and answer["sessionToken"]:
        session.rotate(answer["sessionToken"])
    challenges = answer.get("challenges")
    expect(
        "ZTD-R28",
        isinstance(challenges, dict),
        f"SetSession must answer `challenges` when {kind} was requested, got {answer!r}",
    )
    code = (challenges or {}).get(kind)
    expect(
        rule,
        isinstance(code, str) and code != "",
        f"a {kind} challenge with returnCode must return the code in challenges.{kind}, got {challenges!r}",
    )
    assert isinstance(code, str)
    zt.change(session, {"checks": {kind: {"code": code}}}, rule=rule)
    factor = factors_of(zt, session).get(kind) or {}
    expect(
        rule,
        parse_ts(factor.get("verifiedAt")) is not None,
        f"checking the returned {kind} code must set factors.{kind}.verifiedAt, got {factor!r}",
    )
    token_before = session.token
    exchange = zt.set(session.id, {"checks": {kind: {"code": code}}})
    expect_status("ZTD-R29", exchange, 400, f"checking an {kind} code a second time (a code is single-use)")
    still = zt.get(session.id, token_before)
    expect_status(
        "ZTD-R30", still, 200, "GetSession with the current token after a failed re-check (still valid)"
    )


# --- IdP intent ----------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R21", "ZTD-R29", "ZTD-R22")
@pytest.mark.needs("writes", "zitadel_user", "provider_state")
def test_idp_intent_succeeds_once(zt: Zitadel, human: dict[str, Any], provider_state: ProviderState) -> None:
    intent = provider_state("zitadel idp intent succeeded", {"user_id": human["user_id"]})
    check = {"idpIntentId": intent["idp_intent_id"], "idpIntentToken": intent["idp_intent_token"]}
    first = zt.create({"checks": {"user": user_check(human, "userId"), "idpIntent": check}})
    expect_status("ZTD-R21", first, (200, 201), "a check with a succeeded IdP intent of the checked user")
    data = first.json_or_none() or {}
    session = zt.read(data.get("sessionId", ""), data.get("sessionToken"), rule="ZTD-R21")
    intent_factor = (session.get("factors") or {}).get("intent") or {}
    expect(
        "ZTD-R22",
        parse_ts(intent_factor.get("verifiedAt")) is not None,
        f"a successful IdP-intent check must set factors.intent.verifiedAt, got {session.get('factors')!r}",
    )
    again = zt.create({"checks": {"user": user_check(human, "userId"), "idpIntent": check}})
    expect(
        "ZTD-R21",
        400 <= again.status < 500,
        f"an IdP intent can be used only once: the second use must fail with a 4xx: {shown(again)}",
        evidence=again,
    )
    fresh = provider_state("zitadel idp intent succeeded", {"user_id": human["user_id"]})
    wrong = {
        "idpIntentId": fresh["idp_intent_id"],
        "idpIntentToken": "wrong-" + fresh["idp_intent_token"][:40],
    }
    exchange = zt.create({"checks": {"user": user_check(human, "userId"), "idpIntent": wrong}})
    expect_status("ZTD-R21", exchange, (400, 403), "an IdP-intent check with a wrong token (Z-17)")
