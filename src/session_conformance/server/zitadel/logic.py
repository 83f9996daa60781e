"""Checks, challenges, metadata and lifetime of one CreateSession/SetSession, and how sessions render.

A change runs on a *draft* copy of the session in Zitadel's evaluation order (user, password,
idpIntent, webAuthN, totp, otpSms, otpEmail, then challenges, metadata, lifetime). Any failure
raises before the draft replaces the session, so a failed request changes nothing (ZTD-R30) —
except the failed-password counter, which Zitadel records even then (ZTD-R31).
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from session_conformance.server.faults import FaultSet
from session_conformance.server.variants import VariantSet
from session_conformance.server.zitadel import faults as F
from session_conformance.server.zitadel import variants as V
from session_conformance.server.zitadel.requests import Challenges, Change, Checks
from session_conformance.server.zitadel.store import LOCKOUT_MAX_ATTEMPTS, Instance, Session, User, new_code
from session_conformance.server.zitadel.wire import (
    FAILED_PRECONDITION,
    INVALID_ARGUMENT,
    MAX_TIMESTAMP_NS,
    NOT_FOUND,
    PERMISSION_DENIED,
    UNIMPLEMENTED,
    ApiError,
    bad,
    dumps,
    encode_base64,
    format_timestamp,
    invalid,
)

# Domains a WebAuthN challenge may name: the loopback names plus the Host the request came to.
LOOPBACK_DOMAINS = frozenset({"localhost", "127.0.0.1", "::1"})
WEBAUTHN_TIMEOUT_MS = 300_000
USER_VERIFICATION_NAMES = {1: "required", 2: "preferred", 3: "discouraged"}
URL_TEMPLATE_FIELDS = frozenset(
    {"Code", "UserID", "LoginName", "DisplayName", "PreferredLanguage", "SessionID"}
)
_ACTION = re.compile(r"\{\{(.*?)\}\}", re.S)


@dataclass(slots=True)
class Outcome:
    session: Session  # the draft, to be committed
    changed: bool = False
    challenges: dict[str, Any] | None = None
    effects: list[Callable[[], None]] = field(default_factory=list)  # run only on commit


def draft_of(session: Session) -> Session:
    return dataclasses.replace(
        session,
        factors=dict(session.factors),
        metadata=dict(session.metadata),
        old_tokens=list(session.old_tokens),
        rendered=None,
    )


def user_missing() -> ApiError:
    return ApiError(FAILED_PRECONDITION, "User ID is missing", "COMMAND-Sfw3f")


def run_change(
    inst: Instance,
    session: Session,
    change: Change,
    *,
    now: int,
    faults: FaultSet,
    host: str | None,
    create: bool,
    variants: VariantSet | None = None,
) -> Outcome:
    """Apply ``change`` to a draft of ``session``; raise ``ApiError`` without touching the session."""
    out = Outcome(draft_of(session), changed=create)
    on = variants if variants is not None else VariantSet()
    if change.checks is not None:
        _run_checks(inst, out, change.checks, now, faults, on)
    if change.challenges is not None:
        out.challenges = {}
        _run_challenges(inst, out, change.challenges, faults, host, on)
    if change.metadata is not None:
        _merge_metadata(out, change.metadata, create, faults)
    if change.lifetime_ns is not None:
        expiration = now + change.lifetime_ns
        if not 0 <= expiration <= MAX_TIMESTAMP_NS:  # (below 0 only when a fault lets lifetimes < 0 in)
            raise bad("lifetime: the expiration date would be outside 1970-01-01 .. 9999-12-31")
        out.session.expiration = expiration
        out.changed = True
    if change.user_agent is not None and (create or F.USERAGENT_CHANGED in faults):
        out.session.user_agent = change.user_agent
        out.changed = True
    return out


def _merge_metadata(out: Outcome, metadata: dict[str, bytes], create: bool, faults: FaultSet) -> None:
    stored = out.session.metadata
    if create:
        if F.METADATA_NOT_STORED not in faults:
            stored.update({key: value for key, value in metadata.items() if value})
        return
    if F.METADATA_REPLACED in faults:
        out.session.metadata = {key: value for key, value in metadata.items() if value}
        out.changed = out.changed or out.session.metadata != stored
        return
    for key, value in metadata.items():
        if value and stored.get(key) != value:
            stored[key] = value
            out.changed = True
        elif not value and key in stored:
            del stored[key]
            out.changed = True


# --- checks --------------------------------------------------------------------------------------


def _user_of(inst: Instance, draft: Session) -> User:
    user = inst.users.get(draft.user_id) if draft.user_id else None
    if user is None:
        raise user_missing()
    return user


def _run_checks(
    inst: Instance, out: Outcome, checks: Checks, now: int, faults: FaultSet, variants: VariantSet
) -> None:
    draft = out.session
    if checks.user is not None:
        _check_user(inst, out, checks.user, now, faults, variants)
    if checks.password is not None:
        if not draft.user_id and F.PASSWORD_WITHOUT_USER in faults:
            pass  # the fault: accepted and forgotten
        else:
            _check_password(inst, out, checks.password, now, faults)
    if checks.intent is not None:
        _check_intent(inst, out, checks.intent, now, faults, variants)
    if checks.webauthn is not None:
        _user_of(inst, draft)
        if draft.webauthn_challenge is None:
            if F.WEBAUTHN_NO_CHALLENGE_OK not in faults:
                raise ApiError(FAILED_PRECONDITION, "WebAuthN challenge missing", "COMMAND-Ioqu5")
            draft.factors["webAuthN"] = now
            out.changed = True
        else:  # no authenticator is ever registered, so no assertion can name a known credential
            raise ApiError(INVALID_ARGUMENT, "WebAuthN credential not found", "COMMAND-Aej7i")
    if checks.totp is not None:
        user = _user_of(inst, draft)
        if not user.totp:
            raise ApiError(FAILED_PRECONDITION, "TOTP is not set up for the user", "EMBED-T0tp1")
    for kind, code in (("otpSms", checks.otp_sms), ("otpEmail", checks.otp_email)):
        if code is not None:
            _check_otp(inst, out, kind, code, now, faults)


def quoted(variants: VariantSet, message: str, value: str) -> str:
    """``message`` with what the caller sent, when the ``ztd-errors-quote-request`` variant is on."""
    if V.ERRORS_QUOTE_REQUEST not in variants:
        return message
    return f"{message} ({value[:120]!r})" if value else message


def _check_user(
    inst: Instance, out: Outcome, check: tuple[str, str], now: int, faults: FaultSet, variants: VariantSet
) -> None:
    by, value = check
    if not by:
        if F.EMPTY_USER_CHECK_400 in faults:
            raise bad("user search: either userId or loginName is required")
        if V.USER_CHECK_REQUIRED in variants:  # newest Zitadel: validate.required on the oneof
            raise invalid("CheckUser.Search: value is required")
        raise ApiError(UNIMPLEMENTED, "user search not implemented", "SESSION-d3b4g0")
    user = inst.user_by(by, value)
    if user is None:
        if F.UNKNOWN_USER_200 in faults:
            return
        raise ApiError(NOT_FOUND, quoted(variants, "User could not be found", value), "QUERY-Dfbg2")
    if user.locked:
        raise ApiError(FAILED_PRECONDITION, "User is not active", "SESSION-Gj4ko")
    draft = out.session
    if draft.user_id and draft.user_id != user.id:
        if F.USER_CHANGE_ALLOWED not in faults:
            raise ApiError(INVALID_ARGUMENT, "user change not possible", "")
        draft.factors.clear()
    draft.user_id, draft.user_login = user.id, user.login_name
    draft.user_display, draft.user_org = user.display_name, user.organization_id
    draft.factors["user"] = now
    out.changed = True


def _check_password(inst: Instance, out: Outcome, password: str, now: int, faults: FaultSet) -> None:
    user = _user_of(inst, out.session)
    if user.locked:
        raise ApiError(FAILED_PRECONDITION, "User is locked", "COMMAND-JLK35")
    if (
        not secrets.compare_digest(password.encode(), user.password.encode())
        and F.WRONG_PASSWORD_ACCEPTED not in faults
    ):
        # recorded although the request fails (ZTD-R31); the caller holds the instance lock
        user.failed_attempts += 1
        user.locked = user.failed_attempts >= LOCKOUT_MAX_ATTEMPTS
        error = ApiError(INVALID_ARGUMENT, "Password is invalid", "COMMAND-3M0fs")
        error.failed_attempts = user.failed_attempts
        raise error

    def reset() -> None:
        user.failed_attempts = 0

    out.effects.append(reset)
    factors = out.session.factors
    factors["password"] = factors.get("password", now) if F.VERIFIED_AT_KEPT in faults else now
    out.changed = True


def _check_intent(
    inst: Instance, out: Outcome, check: tuple[str, str], now: int, faults: FaultSet, variants: VariantSet
) -> None:
    draft = out.session
    _user_of(inst, draft)
    intent_id, token = check
    intent = inst.intents.get(intent_id)
    if intent is None or not secrets.compare_digest(token.encode(), intent.token.encode()):
        code = INVALID_ARGUMENT if V.INTENT_FAILURE_400 in variants else PERMISSION_DENIED
        raise ApiError(code, "IdP intent token is invalid", "EMBED-1ntTk")
    if intent.used and F.INTENT_REUSABLE not in faults:
        raise ApiError(
            FAILED_PRECONDITION, "IdP intent has not succeeded (or was already used)", "COMMAND-Df4bw"
        )
    if intent.user_id != draft.user_id:
        raise ApiError(FAILED_PRECONDITION, "IdP intent belongs to another user", "COMMAND-O8xk3w")

    def consume() -> None:
        intent.used = True

    out.effects.append(consume)
    draft.factors["intent"] = now
    out.changed = True


def _check_otp(inst: Instance, out: Outcome, kind: str, code: str, now: int, faults: FaultSet) -> None:
    draft = out.session
    user = _user_of(inst, draft)
    sms = kind == "otpSms"
    if not (user.otp_sms if sms else user.otp_email):
        raise ApiError(
            FAILED_PRECONDITION, "OTP is not set up for the user", "COMMAND-BJ2g3" if sms else "COMMAND-JKLJ3"
        )
    expected = draft.otp_sms_code if sms else draft.otp_email_code
    if expected is None:
        raise ApiError(
            FAILED_PRECONDITION, "no OTP challenge was requested", "COMMAND-G3t31" if sms else "COMMAND-SLr02"
        )
    if not secrets.compare_digest(code.encode(), expected.encode()):
        raise ApiError(INVALID_ARGUMENT, "the OTP code is invalid", "EMBED-0tpC0")
    if F.OTP_REUSABLE not in faults:  # the challenge is used up: a second check finds none
        if sms:
            draft.otp_sms_code = None
        else:
            draft.otp_email_code = None
    draft.factors[kind] = now
    out.changed = True


# --- challenges ----------------------------------------------------------------------------------


def _run_challenges(
    inst: Instance, out: Outcome, wanted: Challenges, faults: FaultSet, host: str | None, variants: VariantSet
) -> None:
    draft, answer = out.session, out.challenges
    assert answer is not None
    if wanted.webauthn is not None:
        domain, requirement = wanted.webauthn
        if not (F.WEBAUTHN_CHALLENGE_WITHOUT_USER in faults and not draft.user_id):
            _user_of(inst, draft)
        if domain not in LOOPBACK_DOMAINS and domain != host:
            raise ApiError(INVALID_ARGUMENT, "the domain is not a domain of the instance", "EMBED-D0ma1")
        challenge = secrets.token_urlsafe(32)
        draft.webauthn_challenge = (challenge, requirement)
        options: dict[str, Any] = {
            "publicKey": {
                "challenge": challenge,
                "timeout": WEBAUTHN_TIMEOUT_MS,
                "rpId": domain,
                "allowCredentials": [],  # no authenticator is registered (see the decisions page)
                "userVerification": USER_VERIFICATION_NAMES.get(requirement, "preferred"),
            }
        }
        if V.WEBAUTHN_OPTIONS_EXTRA in variants:  # Z-16: more of the W3C dictionary
            options["publicKey"]["extensions"] = {"appid": f"https://{domain}", "uvm": True}
            options["publicKey"]["hints"] = ["security-key", "client-device"]
            options["mediation"] = "optional"
        answer["webAuthN"] = {"publicKeyCredentialRequestOptions": options}
        out.changed = True
    if wanted.otp_sms is not None:
        user = _user_of(inst, draft)
        if not user.otp_sms:
            raise ApiError(FAILED_PRECONDITION, "OTP SMS is not set up for the user", "COMMAND-BJ2g3")
        draft.otp_sms_code = new_code()
        if wanted.otp_sms and F.OTP_CODE_NOT_RETURNED not in faults:
            answer["otpSms"] = draft.otp_sms_code
        out.changed = True
    if wanted.otp_email is not None:
        user = _user_of(inst, draft)
        if not user.otp_email:
            raise ApiError(FAILED_PRECONDITION, "OTP email is not set up for the user", "COMMAND-JKLJ3")
        if wanted.url_template is not None and not url_template_ok(wanted.url_template):
            raise ApiError(INVALID_ARGUMENT, "invalid URL template", "EMBED-Url7p")
        draft.otp_email_code = new_code()
        if wanted.otp_email == "return" and F.OTP_EMAIL_CODE_NOT_RETURNED not in faults:
            answer["otpEmail"] = draft.otp_email_code
        out.changed = True


def url_template_ok(template: str) -> bool:
    """A Go template that only prints the documented placeholders (``{{.Code}}`` ...)."""
    actions = _ACTION.findall(template)
    rest = _ACTION.sub("", template)
    if "{{" in rest or "}}" in rest:
        return False
    return all(re.fullmatch(r"\s*\.(\w+)\s*", a) and a.strip()[1:] in URL_TEMPLATE_FIELDS for a in actions)


# --- rendering -----------------------------------------------------------------------------------


def int64(value: int, faults: FaultSet) -> Any:
    return value if F.INT64_AS_NUMBER in faults else str(value)


def details(
    inst: Instance,
    sequence: int,
    changed: int,
    faults: FaultSet,
    variants: VariantSet | None = None,
    created: int = 0,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if sequence:
        out["sequence"] = int64(sequence, faults)
    if changed:
        out["changeDate"] = format_timestamp(changed)
    out["resourceOwner"] = inst.id
    if variants is not None:
        if created and V.DETAILS_CREATION_DATE in variants:
            out["creationDate"] = format_timestamp(created)
        if V.EXTRA_PROPERTIES in variants:
            out["resourceType"] = "session"
    return out


def _factors(session: Session, extra: bool) -> dict[str, Any]:
    factors = session.factors
    user: dict[str, Any] = {"verifiedAt": format_timestamp(factors["user"]), "id": session.user_id}
    if extra:
        user["type"] = "USER_TYPE_HUMAN"
    for key, value in (
        ("loginName", session.user_login),
        ("displayName", session.user_display),
        ("organizationId", session.user_org),
    ):
        if value:
            user[key] = value
    out: dict[str, Any] = {"user": user}
    for name in ("password", "webAuthN", "intent", "totp", "otpSms", "otpEmail"):
        if name in factors:
            out[name] = {"verifiedAt": format_timestamp(factors[name])}
    if "webAuthN" in out and session.webauthn_verified_user:
        out["webAuthN"]["userVerified"] = True
    return out


def session_json(session: Session, faults: FaultSet, variants: VariantSet | None = None) -> dict[str, Any]:
    extra = variants is not None and V.EXTRA_PROPERTIES in variants
    out: dict[str, Any] = {
        "id": session.id,
        "creationDate": format_timestamp(session.created),
        "changeDate": format_timestamp(session.changed),
    }
    if extra:
        out["state"] = "SESSION_STATE_ACTIVE"
    if session.sequence:
        out["sequence"] = int64(session.sequence, faults)
    if session.user_id and "user" in session.factors:
        out["factors"] = _factors(session, extra)
    elif F.FACTORS_WITHOUT_USER in faults:
        out["factors"] = {}
    if session.metadata:
        out["metadata"] = {key: encode_base64(value) for key, value in session.metadata.items()}
    if session.user_agent:
        out["userAgent"] = {**session.user_agent, "deviceClass": "unknown"} if extra else session.user_agent
    if session.expiration is not None and F.NO_EXPIRATION not in faults:
        out["expirationDate"] = format_timestamp(session.expiration)
    elif session.expiration is None and F.NULL_IN_RESPONSE in faults:
        out["expirationDate"] = None
    return out


def rendered(session: Session, faults: FaultSet, variants: VariantSet | None = None) -> bytes:
    """The Session message as JSON bytes, cached until the session changes (GetSession stays cheap)."""
    cached = session.rendered
    if cached is None:
        cached = session.rendered = dumps(session_json(session, faults, variants))
    return cached
