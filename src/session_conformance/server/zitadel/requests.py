"""Request messages of the Zitadel Session Service: decoded and validated (PGV rules, fact sheet §4.18).

Decoding and validation both end in ``400``/code 3 without details, so they run in one pass; the
service logic (``logic.py``) only ever sees well-formed, valid requests. This is what makes
"validation before lookup" hold: an invalid field next to an unknown user is a 400, never a 404.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from session_conformance.server.zitadel.wire import Msg, bad, invalid, oneof

USER_VERIFICATION = {
    "USER_VERIFICATION_REQUIREMENT_UNSPECIFIED": 0,
    "USER_VERIFICATION_REQUIREMENT_REQUIRED": 1,
    "USER_VERIFICATION_REQUIREMENT_PREFERRED": 2,
    "USER_VERIFICATION_REQUIREMENT_DISCOURAGED": 3,
}
SESSION_FIELD_NAME = {"SESSION_FIELD_NAME_UNSPECIFIED": 0, "SESSION_FIELD_NAME_CREATION_DATE": 1}
TIMESTAMP_METHOD = {
    "TIMESTAMP_QUERY_METHOD_EQUALS": 0,
    "TIMESTAMP_QUERY_METHOD_GREATER": 1,
    "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS": 2,
    "TIMESTAMP_QUERY_METHOD_LESS": 3,
    "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS": 4,
}
SORT_CREATION_DATE = 1
DEFAULT_LIMIT = 1000  # the documented server default (ZTD-R60)


@dataclass(slots=True)
class Checks:
    user: tuple[str, str] | None = None  # ("userId" | "loginName" | "", value)
    password: str | None = None
    webauthn: dict[str, Any] | None = None
    intent: tuple[str, str] | None = None  # (id, token)
    totp: str | None = None
    otp_sms: str | None = None
    otp_email: str | None = None


@dataclass(slots=True)
class Challenges:
    webauthn: tuple[str, int] | None = None  # (domain, user verification requirement)
    otp_sms: bool | None = None  # returnCode; None = not requested
    otp_email: str | None = None  # "return", "send" or "default"; None = not requested
    url_template: str | None = None


@dataclass(slots=True)
class Change:
    """The body of CreateSession or SetSession."""

    checks: Checks | None = None
    metadata: dict[str, bytes] | None = None
    challenges: Challenges | None = None
    lifetime_ns: int | None = None
    user_agent: dict[str, Any] | None = None  # output form (create only)
    token: str | None = None  # SetSession's deprecated sessionToken


@dataclass(slots=True)
class Query:
    kind: str | None  # None: an empty SearchQuery
    ids: list[str] = field(default_factory=list)
    value: str | None = None  # userIdQuery.id, creatorQuery.id, userAgentQuery.fingerprintId
    date_ns: int = 0
    method: int = 0


@dataclass(slots=True)
class Search:
    offset: int = 0
    limit: int = 0
    asc: bool = False
    queries: list[Query] = field(default_factory=list)
    sorting: int = 0


def _length(value: str | None, where: str, low: int, high: int | None) -> None:
    if value is None:
        return
    if len(value) < low:
        raise invalid(f"{where}: value length must be at least {low} runes")
    if high is not None and len(value) > high:
        raise invalid(f"{where}: value length must be at most {high} runes")


def _checks(msg: Msg) -> Checks:
    out = Checks()
    user = msg.message("user", "CheckUser")
    if user is not None:
        member = oneof(user, "userId", "loginName")
        value = user.string(member) if member else ""
        if member:
            _length(value, f"CheckUser.{member[0].upper()}{member[1:]}", 1, 200)
        out.user = (member or "", value or "")
    password = msg.message("password", "CheckPassword")
    if password is not None:
        out.password = password.string("password") or ""
        _length(out.password, "CheckPassword.Password", 1, 200)
    webauthn = msg.message("webAuthN", "CheckWebAuthN")
    if webauthn is not None:
        assertion = webauthn.struct("credentialAssertionData")
        if assertion is None:
            raise invalid("CheckWebAuthN.CredentialAssertionData: value is required")
        out.webauthn = assertion
    intent = msg.message("idpIntent", "CheckIDPIntent")
    if intent is not None:
        intent_id, token = intent.string("idpIntentId") or "", intent.string("idpIntentToken") or ""
        _length(intent_id, "CheckIDPIntent.IdpIntentId", 1, 200)
        _length(token, "CheckIDPIntent.IdpIntentToken", 1, 200)
        out.intent = (intent_id, token)
    totp = msg.message("totp", "CheckTOTP")
    if totp is not None:
        out.totp = totp.string("code") or ""
        if len(out.totp) != 6:
            raise invalid("CheckTOTP.Code: value length must be 6 runes")
    for name in ("otpSms", "otpEmail"):
        otp = msg.message(name, "CheckOTP")
        if otp is not None:
            code = otp.string("code") or ""
            _length(code, "CheckOTP.Code", 1, None)
            setattr(out, "otp_sms" if name == "otpSms" else "otp_email", code)
    return out


def _challenges(msg: Msg) -> Challenges:
    out = Challenges()
    webauthn = msg.message("webAuthN", "RequestChallenges.WebAuthN")
    if webauthn is not None:
        domain = webauthn.string("domain") or ""
        requirement = webauthn.enum("userVerificationRequirement", USER_VERIFICATION) or 0
        _length(domain, "RequestChallenges_WebAuthN.Domain", 1, 200)
        if requirement not in USER_VERIFICATION.values() or requirement == 0:
            raise invalid(
                "RequestChallenges_WebAuthN.UserVerificationRequirement: value must be a defined "
                "enum value and not in [0]"
            )
        out.webauthn = (domain, requirement)
    sms = msg.message("otpSms", "RequestChallenges.OTPSMS")
    if sms is not None:
        out.otp_sms = bool(sms.boolean("returnCode"))
    email = msg.message("otpEmail", "RequestChallenges.OTPEmail")
    if email is not None:
        member = oneof(email, "sendCode", "returnCode")
        if member == "sendCode":
            send = email.message("sendCode", "RequestChallenges.OTPEmail.SendCode")
            assert send is not None
            out.url_template = send.string("urlTemplate")
            _length(out.url_template, "RequestChallenges_OTPEmail_SendCode.UrlTemplate", 1, 200)
            out.otp_email = "send"
        elif member == "returnCode":
            email.message("returnCode", "RequestChallenges.OTPEmail.ReturnCode")  # must be an object
            out.otp_email = "return"
        else:
            out.otp_email = "default"
    return out


def _user_agent(msg: Msg) -> dict[str, Any] | None:
    """The user agent as it will be returned; an unparsable IP is dropped (Go's net.ParseIP)."""
    out: dict[str, Any] = {}
    fingerprint = msg.string("fingerprintId")
    if fingerprint is not None:
        out["fingerprintId"] = fingerprint
    ip = msg.string("ip")
    if ip:
        with contextlib.suppress(ValueError):  # dropped, like Go's net.ParseIP answering nil
            out["ip"] = str(ipaddress.ip_address(ip))
    description = msg.string("description")
    if description is not None:
        out["description"] = description
    header = msg.get("header")
    if header is not None:
        if not isinstance(header, dict):
            raise bad("proto: (UserAgent.header) invalid value for map<string, HeaderValues>")
        headers: dict[str, Any] = {}
        for name, entry in header.items():
            if not isinstance(entry, dict):
                raise bad("proto: (UserAgent.header) invalid value for message HeaderValues")
            values = Msg(entry, "UserAgent.HeaderValues").strings("values")
            headers[name] = {"values": list(values)} if values else {}
        if headers:
            out["header"] = headers
    return out or None


def _lifetime(msg: Msg, where: str, allow_non_positive: bool) -> int | None:
    lifetime = msg.duration("lifetime")
    if lifetime is not None and lifetime <= 0 and not allow_non_positive:
        raise invalid(f"{where}.Lifetime: value must be greater than 0s")
    return lifetime


def parse_change(
    body: dict[str, Any],
    *,
    create: bool,
    allow_non_positive_lifetime: bool = False,
    read_user_agent: bool = False,
) -> Change:
    """CreateSessionRequest (``create``) or SetSessionRequest minus the path's sessionId."""
    where = "CreateSessionRequest" if create else "SetSessionRequest"
    msg = Msg(body, where)
    out = Change()
    if not create:
        out.token = msg.string("sessionToken")
        _length(out.token, "SetSessionRequest.SessionToken", 0, 200)
    checks = msg.message("checks", "Checks")
    out.checks = _checks(checks) if checks is not None else None
    out.metadata = msg.bytes_map("metadata")
    challenges = msg.message("challenges", "RequestChallenges")
    out.challenges = _challenges(challenges) if challenges is not None else None
    if create or read_user_agent:  # SetSession has no userAgent: the key is unknown and ignored
        agent = msg.message("userAgent", "UserAgent")
        out.user_agent = _user_agent(agent) if agent is not None else None
    out.lifetime_ns = _lifetime(msg, where, allow_non_positive_lifetime)
    return out


def parse_delete(body: dict[str, Any]) -> str | None:
    return Msg(body, "DeleteSessionRequest").string("sessionToken")


def parse_search(body: dict[str, Any], *, beta: bool) -> Search:
    msg = Msg(body, "ListSessionsRequest")
    out = Search()
    query = msg.message("query", "ListQuery")
    if query is not None:
        out.offset = query.uint("offset", 64) or 0
        out.limit = query.uint("limit", 32) or 0
        out.asc = bool(query.boolean("asc"))
    out.sorting = msg.enum("sortingColumn", SESSION_FIELD_NAME) or 0
    members: tuple[str, ...] = ("idsQuery", "userIdQuery", "creationDateQuery")
    if not beta:  # v2beta's SearchQuery has neither: the key is unknown and ignored (fact sheet §8)
        members += ("creatorQuery", "userAgentQuery")
    for item in msg.messages("queries", "SearchQuery"):
        out.queries.append(_search_query(item, members))
    return out


def _search_query(item: Msg, members: tuple[str, ...]) -> Query:
    kind = oneof(item, *members)
    if kind is None:
        return Query(None)
    inner = item.message(kind, kind[0].upper() + kind[1:])
    assert inner is not None
    if kind == "idsQuery":
        return Query(kind, ids=list(inner.strings("ids")))
    if kind == "userIdQuery":
        return Query(kind, value=inner.string("id") or "")
    if kind == "creationDateQuery":
        method = inner.enum("method", TIMESTAMP_METHOD) or 0
        if method not in TIMESTAMP_METHOD.values():
            raise invalid("CreationDateQuery.Method: value must be one of the defined enum values")
        return Query(kind, date_ns=inner.timestamp("creationDate") or 0, method=method)
    name = "id" if kind == "creatorQuery" else "fingerprintId"
    value = inner.string(name)
    _length(value, f"{kind[0].upper()}{kind[1:-5]}Query.{name[0].upper()}{name[1:]}", 0, 200)
    return Query(kind, value=value)
