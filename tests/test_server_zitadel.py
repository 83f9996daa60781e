"""The embedded Zitadel server over real sockets: flows, protojson, contracts, odd input, limits, faults."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_conformance.contracts import load_contracts
from session_conformance.server import EmbeddedServer
from session_conformance.server import zitadel as zitadel_module
from session_conformance.server.catalogue import all_faults, all_variants
from session_conformance.server.state import HOOK_PATH
from session_conformance.server.zitadel import http_error
from session_conformance.server.zitadel import variants as zitadel_variants
from session_conformance.server.zitadel.store import LOCKOUT_MAX_ATTEMPTS, Store
from session_conformance.server.zitadel.store import Session as ZSession

V2, BETA = "/v2/sessions", "/v2beta/sessions"
# the Connect transport's faults are probed in tests/test_server_zitadel_connect.py
ZTD_FAULTS = sorted(name for name in all_faults() if name.startswith("ztd-") and "-connect-" not in name)
FAST = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
HTTP_OF_CODE = {
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}
FOREIGN_TOKEN = "Zm9yZWlnbi1zZXNzaW9uLXRva2VuLWZvci1jb25mb3JtYW5jZQ"
ASSERTION = {"id": "Y3JlZA", "type": "public-key", "response": {"signature": "c2ln"}}
FREE_FORM = frozenset({"metadata", "header", "publicKeyCredentialRequestOptions"})
CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


# --- conformance of every answer -------------------------------------------------------------------


def operation_of(method: str, path: str) -> str | None:
    match = re.fullmatch(r"/(v2|v2beta)/sessions(/search|/[^/]+)?", path)
    if match is None:
        return None
    api, tail = f"zitadel-{match.group(1)}", match.group(2)
    if tail is None:
        name = "CreateSession" if method == "POST" else None
    elif tail == "/search":
        name = "ListSessions" if method == "POST" else "GetSession" if method == "GET" else None
    else:
        name = {"GET": "GetSession", "PATCH": "SetSession", "DELETE": "DeleteSession"}.get(method)
    return f"{api}:SessionService_{name}" if name else None


def protojson_problems(value: Any, key: str | None = None) -> list[str]:
    """Output rules: lowerCamelCase names, no null, no [] / false outside free-form maps."""
    if value is None:
        return [f"{key}: null"]
    problems: list[str] = []
    if isinstance(value, dict):
        for name, child in value.items():
            if key in FREE_FORM:
                problems += [f"{name}: null"] if child is None else []
                continue
            if name != "@type" and not CAMEL.match(name):
                problems.append(f"{name}: not lowerCamelCase")
            if child == [] or child is False:
                problems.append(f"{name}: zero value")
            problems += protojson_problems(child, name)
    elif isinstance(value, list):
        for child in value:
            problems += protojson_problems(child, key)
    return problems


def conform(response: httpx.Response) -> Any:
    """No 5xx, rpcStatus errors with a matching code, protojson output, valid against the contract."""
    request = response.request
    shown = f"{request.method} {request.url} -> {response.status_code} {response.text}"
    assert response.status_code < 500 or (response.status_code == 501 and '"code":12' in response.text), shown
    assert response.headers["content-type"] == "application/json", response.headers
    body = response.json()
    assert not protojson_problems(body), protojson_problems(body)
    if response.status_code >= 400:
        assert set(body) <= {"code", "message", "details"}, body
        assert HTTP_OF_CODE[body["code"]] == response.status_code or body["code"] == 12, body
        assert isinstance(body["message"], str)
        for detail in body.get("details", []):
            assert detail["@type"] == "type.googleapis.com/zitadel.v1.ErrorDetail"
    key = operation_of(request.method, request.url.path)
    if key is not None:
        contracts = load_contracts()
        errors = contracts.validate_response(contracts.operations[key], response.status_code, body)
        assert not errors, f"{request.method} {request.url.path} -> {response.status_code}: {errors}"
    return body


# --- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


def client_for(server: EmbeddedServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def pri(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with client_for(server, server.primary_token) as client:
        yield client


@pytest.fixture(scope="module")
def sec(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with client_for(server, server.other_token) as client:
        yield client


@pytest.fixture(scope="module")
def anon(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with client_for(server, None) as client:
        yield client


@pytest.fixture(scope="module")
def rst(server: EmbeddedServer) -> Iterator[httpx.Client]:
    """The primary instance's restricted caller (session.write only)."""
    with client_for(server, server.restricted_token) as client:
        yield client


def hook(client: httpx.Client, name: str, **params: Any) -> dict[str, Any]:
    response = client.post(HOOK_PATH, json={"state": name, "params": params})
    assert response.status_code == 200, response.text
    return response.json()


def new_user(client: httpx.Client) -> dict[str, Any]:
    return hook(client, "zitadel user exists")


def create(client: httpx.Client, body: Any = None, base: str = V2, status: int = 201) -> dict[str, Any]:
    response = client.post(base, json={} if body is None else body)
    data = conform(response)
    assert response.status_code == status, response.text
    return data


def get(client: httpx.Client, sid: str, token: str | None = None, base: str = V2) -> httpx.Response:
    return client.get(f"{base}/{sid}", params={"sessionToken": token} if token else None)


def session_of(client: httpx.Client, sid: str, token: str | None = None, base: str = V2) -> dict[str, Any]:
    response = get(client, sid, token, base)
    assert response.status_code == 200, response.text
    return conform(response)["session"]


def patch(client: httpx.Client, sid: str, body: Any, base: str = V2) -> httpx.Response:
    response = client.patch(f"{base}/{sid}", json=body)
    conform(response)
    return response


def delete(client: httpx.Client, sid: str, token: str | None = None, base: str = V2) -> httpx.Response:
    response = client.request("DELETE", f"{base}/{sid}", json={"sessionToken": token} if token else {})
    conform(response)
    return response


def search(client: httpx.Client, body: Any, base: str = V2) -> httpx.Response:
    response = client.post(f"{base}/search", json=body)
    conform(response)
    return response


def listed(client: httpx.Client, queries: list[Any], base: str = V2, **extra: Any) -> list[str]:
    response = search(client, {"queries": queries, **extra}, base)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json().get("sessions", [])]


def ids(*session_ids: str) -> dict[str, Any]:
    return {"idsQuery": {"ids": list(session_ids)}}


def error_id(response: httpx.Response) -> str | None:
    details = response.json().get("details") or [{}]
    return details[0].get("id")


def with_user(client: httpx.Client, user: dict[str, Any], base: str = V2, **extra: Any) -> dict[str, Any]:
    return create(client, {"checks": {"user": {"loginName": user["login_name"]}}, **extra}, base)


# --- main flows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", [V2, BETA])
def test_lifecycle(pri: httpx.Client, base: str) -> None:
    created = create(pri, {"metadata": {"a": b64("alpha")}}, base)
    sid, token = created["sessionId"], created["sessionToken"]
    assert sid.isdigit() and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert created["details"]["resourceOwner"] == "300000000000000001"
    seen = session_of(pri, sid, token, base)
    assert seen["sequence"] == created["details"]["sequence"] == "1"
    assert seen["creationDate"] == created["details"]["changeDate"]
    assert "factors" not in seen and "expirationDate" not in seen

    changed = patch(pri, sid, {"metadata": {"b": b64("beta")}}, base).json()
    new = changed["sessionToken"]
    assert new != token and changed["details"]["sequence"] == "2"
    assert session_of(pri, sid, new, base)["sequence"] == "2"
    assert get(pri, sid, token, base).status_code == 403  # the replaced token is dead

    noop = patch(pri, sid, {}, base).json()
    assert "sessionToken" not in noop and noop["details"]["sequence"] == "2"  # ZTD-R40
    assert get(pri, sid, new, base).status_code == 200

    assert delete(pri, sid, token, base).status_code == 403  # outdated token
    gone = delete(pri, sid, new, base)
    assert gone.status_code == 200 and gone.json()["details"]["sequence"] == "3"
    assert get(pri, sid, None, base).status_code == 404
    assert sid not in listed(pri, [ids(sid)], base)
    again = delete(pri, sid, new, base)
    assert again.status_code == 200 and again.json() == gone.json()  # idempotent
    refused = patch(pri, sid, {"metadata": {"c": b64("c")}}, base)
    assert refused.status_code == 400 and error_id(refused) == "COMMAND-Hewfq"
    unknown = delete(pri, "1" + sid, None, base)
    assert unknown.status_code == 200 and unknown.json() == {"details": {}}


def test_v2_and_v2beta_share_one_backend(pri: httpx.Client) -> None:
    created = create(pri, {}, V2)
    assert session_of(pri, created["sessionId"], created["sessionToken"], BETA)["id"] == created["sessionId"]


def test_user_and_password_checks(pri: httpx.Client) -> None:
    user, other = new_user(pri), new_user(pri)
    assert set(user) == {"user_id", "login_name", "password"}
    empty = pri.post(V2, json={"checks": {"user": {}}})
    assert conform(empty)["code"] == 12 and empty.status_code == 501
    both = pri.post(V2, json={"checks": {"user": {"userId": user["user_id"], "loginName": "x"}}})
    assert both.status_code == 400 and "details" not in both.json()
    for check in ({"userId": "1234"}, {"loginName": "nobody@example.invalid"}):
        response = pri.post(V2, json={"checks": {"user": check}})
        assert conform(response)["code"] == 5
    nouser = pri.post(V2, json={"checks": {"password": {"password": "x"}}})
    assert conform(nouser)["code"] == 9
    wrong = pri.post(
        V2, json={"checks": {"user": {"userId": user["user_id"]}, "password": {"password": "no"}}}
    )
    assert wrong.status_code == 400 and error_id(wrong) == "COMMAND-3M0fs"
    assert "(COMMAND-3M0fs)" in wrong.json()["message"]

    created = create(
        pri, {"checks": {"user": {"userId": user["user_id"]}, "password": {"password": user["password"]}}}
    )
    sid = created["sessionId"]
    factors = session_of(pri, sid)["factors"]
    assert factors["user"]["id"] == user["user_id"] and factors["user"]["loginName"] == user["login_name"]
    assert set(factors) == {"user", "password"}
    change = patch(pri, sid, {"checks": {"user": {"userId": other["user_id"]}}})
    assert change.status_code == 400 and session_of(pri, sid)["factors"]["user"]["id"] == user["user_id"]
    first = factors["user"]["verifiedAt"]
    assert patch(pri, sid, {"checks": {"user": {"loginName": user["login_name"]}}}).status_code == 200
    assert session_of(pri, sid)["factors"]["user"]["verifiedAt"] > first  # re-check refreshes


def test_password_lockout(pri: httpx.Client) -> None:
    user = new_user(pri)
    check = {"user": {"userId": user["user_id"]}}
    for _ in range(LOCKOUT_MAX_ATTEMPTS):
        response = pri.post(V2, json={"checks": {**check, "password": {"password": "wrong"}}})
        assert error_id(response) == "COMMAND-3M0fs"
    locked = pri.post(V2, json={"checks": {**check, "password": {"password": user["password"]}}})
    assert conform(locked)["code"] == 9
    assert conform(pri.post(V2, json={"checks": check}))["code"] == 9  # user check: not active


def test_failed_attempts_reset_on_success(pri: httpx.Client) -> None:
    user = new_user(pri)
    check = {"user": {"userId": user["user_id"]}}
    for _ in range(3):
        for _ in range(LOCKOUT_MAX_ATTEMPTS - 1):
            pri.post(V2, json={"checks": {**check, "password": {"password": "wrong"}}})
        create(pri, {"checks": {**check, "password": {"password": user["password"]}}})


@pytest.mark.parametrize(
    "kind, request_", [("otpSms", {"returnCode": True}), ("otpEmail", {"returnCode": {}})]
)
def test_otp_single_use(pri: httpx.Client, kind: str, request_: dict[str, Any]) -> None:
    user = new_user(pri)
    sid = with_user(pri, user)["sessionId"]
    nochallenge = patch(pri, sid, {"checks": {kind: {"code": "12345678"}}})
    assert nochallenge.json()["code"] == 9
    code = patch(pri, sid, {"challenges": {kind: request_}}).json()["challenges"][kind]
    assert patch(pri, sid, {"checks": {kind: {"code": code + "0"}}}).status_code == 400
    assert patch(pri, sid, {"checks": {kind: {"code": code}}}).status_code == 200
    assert "verifiedAt" in session_of(pri, sid)["factors"][kind]
    assert patch(pri, sid, {"checks": {kind: {"code": code}}}).status_code == 400


def test_otp_without_return_code_and_templates(pri: httpx.Client) -> None:
    sid = with_user(pri, new_user(pri))["sessionId"]
    answer = patch(pri, sid, {"challenges": {"otpSms": {}, "otpEmail": {"sendCode": {}}}}).json()
    assert answer["challenges"] == {}  # "sent": no code in the answer
    good = {"otpEmail": {"sendCode": {"urlTemplate": "https://x.test/{{.Code}}?u={{.UserID}}"}}}
    assert patch(pri, sid, {"challenges": good}).status_code == 200
    for template in ("https://x.test/{{.Nope}}", "https://x.test/{{.Code}", "{{", ""):
        bad = patch(pri, sid, {"challenges": {"otpEmail": {"sendCode": {"urlTemplate": template}}}})
        assert bad.status_code == 400, template
    assert (
        patch(pri, sid, {"challenges": {"otpEmail": {"sendCode": {}, "returnCode": {}}}}).status_code == 400
    )


def test_totp_is_never_set_up(pri: httpx.Client) -> None:
    sid = with_user(pri, new_user(pri))["sessionId"]
    response = patch(pri, sid, {"checks": {"totp": {"code": "123456"}}})
    assert response.json()["code"] == 9
    assert patch(pri, sid, {"checks": {"totp": {"code": "12345"}}}).json()["code"] == 3  # PGV: 6 long


def test_webauthn(pri: httpx.Client, server: EmbeddedServer) -> None:
    challenge = {
        "webAuthN": {
            "domain": "localhost",
            "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_REQUIRED",
        }
    }
    assert pri.post(V2, json={"challenges": challenge}).status_code == 400  # no user
    user = new_user(pri)
    sid = with_user(pri, user)["sessionId"]
    assert patch(pri, sid, {"checks": {"webAuthN": {}}}).status_code == 400  # assertion required
    missing = patch(pri, sid, {"checks": {"webAuthN": {"credentialAssertionData": ASSERTION}}})
    assert missing.json()["code"] == 9 and error_id(missing) == "COMMAND-Ioqu5"
    foreign = {"webAuthN": {**challenge["webAuthN"], "domain": "evil.example"}}
    assert patch(pri, sid, {"challenges": foreign}).status_code == 400
    for domain in ("localhost", server.host):
        wanted = {"webAuthN": {"domain": domain, "userVerificationRequirement": 3}}
        answer = patch(pri, sid, {"challenges": wanted}).json()
        options = answer["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"]["publicKey"]
        assert options["rpId"] == domain and options["userVerification"] == "discouraged"
        assert options["challenge"] and options["allowCredentials"] == []
    unknown = patch(pri, sid, {"checks": {"webAuthN": {"credentialAssertionData": ASSERTION}}})
    assert unknown.json()["code"] == 3 and error_id(unknown) == "COMMAND-Aej7i"
    assert "webAuthN" not in session_of(pri, sid)["factors"]


def test_idp_intent(pri: httpx.Client, sec: httpx.Client) -> None:
    user, other = new_user(pri), new_user(pri)
    intent = hook(pri, "zitadel idp intent succeeded", user_id=user["user_id"])
    check = {"idpIntentId": intent["idp_intent_id"], "idpIntentToken": intent["idp_intent_token"]}
    assert pri.post(V2, json={"checks": {"idpIntent": check}}).json()["code"] == 9  # no user
    wrong_user = pri.post(V2, json={"checks": {"user": {"userId": other["user_id"]}, "idpIntent": check}})
    assert wrong_user.status_code == 400
    bad_token = {**check, "idpIntentToken": "x" + check["idpIntentToken"]}
    assert (
        pri.post(
            V2, json={"checks": {"user": {"userId": user["user_id"]}, "idpIntent": bad_token}}
        ).status_code
        == 403
    )
    created = create(pri, {"checks": {"user": {"userId": user["user_id"]}, "idpIntent": check}})
    assert "verifiedAt" in session_of(pri, created["sessionId"])["factors"]["intent"]
    reused = pri.post(V2, json={"checks": {"user": {"userId": user["user_id"]}, "idpIntent": check}})
    assert conform(reused)["code"] == 9
    # hook: the user must be one of the caller's instance
    refused = sec.post(
        HOOK_PATH, json={"state": "zitadel idp intent succeeded", "params": {"user_id": user["user_id"]}}
    )
    assert refused.status_code == 400
    assert pri.post(HOOK_PATH, json={"state": "zitadel nope", "params": {}}).status_code == 400


def test_failing_request_changes_nothing(pri: httpx.Client) -> None:
    user = new_user(pri)
    created = with_user(pri, user, metadata={"keep": b64("1")})
    sid = created["sessionId"]
    before = session_of(pri, sid)
    for checks in (
        {"password": {"password": "wrong"}},
        {"otpSms": {"code": "1"}},
        {"user": {"userId": "999"}},
    ):
        body = {
            "metadata": {"keep": "", "new": b64("x")},
            "lifetime": "60s",
            "challenges": {"otpEmail": {"returnCode": {}}},
            "checks": checks,
        }
        assert patch(pri, sid, body).status_code in (400, 404)
        assert session_of(pri, sid) == before
    assert get(pri, sid, created["sessionToken"]).status_code == 200  # no rotation


def test_metadata(pri: httpx.Client) -> None:
    created = create(
        pri, {"metadata": {"a": "YQ", "b": "-_8", "c": "+/8=", "empty": "", "bin": b64(b"\0\xff")}}
    )
    sid = created["sessionId"]
    metadata = session_of(pri, sid)["metadata"]
    assert metadata == {"a": "YQ==", "b": "+/8=", "c": "+/8=", "bin": b64(b"\0\xff")}
    patch(pri, sid, {"metadata": {"a": "", "b": b64("new"), "d": b64("d"), "gone": ""}})
    assert session_of(pri, sid)["metadata"] == {
        "b": b64("new"),
        "c": "+/8=",
        "bin": b64(b"\0\xff"),
        "d": b64("d"),
    }
    same = patch(pri, sid, {"metadata": {"d": b64("d"), "absent": ""}}).json()
    assert "sessionToken" not in same  # nothing changed
    for value in ("***", "YQ=x", "Y", "+-8", 5):
        assert pri.post(V2, json={"metadata": {"k": value}}).status_code == 400, value


def test_user_agent(pri: httpx.Client) -> None:
    agent = {
        "fingerprintId": "",
        "ip": "2001:db8::0:1",
        "description": "d",
        "header": {"accept": {"values": ["a", "b"]}, "empty": {"values": []}},
    }
    sid = create(pri, {"userAgent": agent})["sessionId"]
    seen = session_of(pri, sid)["userAgent"]
    assert seen == {
        "fingerprintId": "",
        "ip": "2001:db8::1",
        "description": "d",
        "header": {"accept": {"values": ["a", "b"]}, "empty": {}},
    }
    patch(pri, sid, {"userAgent": {"description": "changed"}, "metadata": {"k": b64("v")}})
    assert session_of(pri, sid)["userAgent"] == seen
    dropped = create(pri, {"userAgent": {"ip": "not-an-ip"}})["sessionId"]
    assert "userAgent" not in session_of(pri, dropped)


def test_lifetime_and_expiry(pri: httpx.Client) -> None:
    for lifetime in ("0s", "-1s", "-0.5s", "0.000000000s"):
        response = pri.post(V2, json={"lifetime": lifetime})
        assert response.status_code == 400 and "details" not in response.json(), lifetime
    for odd_lifetime in (300, "5m", "1e3s", "315576000001s"):
        assert pri.post(V2, json={"lifetime": odd_lifetime}).status_code == 400, odd_lifetime
    created = create(pri, {"lifetime": "1.5s"})
    seen = session_of(pri, created["sessionId"])
    created_ns = _ns(seen["creationDate"])
    assert _ns(seen["expirationDate"]) - created_ns == 1_500_000_000
    # a 1 ns lifetime has surely passed by the next request: the server's clock strictly increases
    short = create(pri, {"lifetime": "0.000000001s"})
    refused = patch(pri, short["sessionId"], {"metadata": {"k": b64("v")}})
    assert refused.status_code == 400 and error_id(refused) == "COMMAND-Hkl3d"
    assert session_of(pri, short["sessionId"], short["sessionToken"])["expirationDate"]
    assert short["sessionId"] in listed(pri, [ids(short["sessionId"])])
    assert delete(pri, short["sessionId"], short["sessionToken"]).status_code == 200
    renewed = patch(pri, created["sessionId"], {"lifetime": "100s"}).json()
    expires = _ns(session_of(pri, created["sessionId"])["expirationDate"])
    assert expires - _ns(renewed["details"]["changeDate"]) == 100_000_000_000


def _ns(stamp: str) -> int:
    match = re.fullmatch(r"(.{19})(?:\.(\d+))?Z", stamp)
    assert match, stamp
    from datetime import UTC, datetime

    seconds = int(datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC).timestamp())
    return seconds * 1_000_000_000 + int((match.group(2) or "").ljust(9, "0"))


def test_session_tokens(pri: httpx.Client) -> None:
    a, b = create(pri), create(pri)
    assert get(pri, a["sessionId"], b["sessionToken"]).status_code == 403  # bound to its session
    assert get(pri, a["sessionId"], "not base64 !").status_code == 403  # any failure on Get: 403
    assert get(pri, a["sessionId"]).status_code == 200  # the caller holds session.read
    for response, status in (
        (patch(pri, a["sessionId"], {"sessionToken": "bad token!"}), 400),
        (patch(pri, a["sessionId"], {"sessionToken": FOREIGN_TOKEN}), 403),
        (patch(pri, a["sessionId"], {"sessionToken": "x" * 201}), 400),
        (delete(pri, a["sessionId"], "bad token!"), 400),
        (delete(pri, a["sessionId"], "abcde"), 400),  # length 5: not RawURL base64
        (delete(pri, a["sessionId"], b["sessionToken"]), 403),
    ):
        assert response.status_code == status, response.text
    # Z-04: the deprecated token is verified when given
    assert (
        patch(pri, a["sessionId"], {"sessionToken": a["sessionToken"], "metadata": {"k": "YQ"}}).status_code
        == 200
    )
    assert delete(pri, a["sessionId"]).status_code == 200  # own instance: session.delete


def test_search(pri: httpx.Client) -> None:
    user = new_user(pri)
    made = [
        create(pri, {"userAgent": {"fingerprintId": "fp-search"}} if i % 2 else {})["sessionId"]
        for i in range(4)
    ]
    made.append(with_user(pri, user)["sessionId"])
    mine = ids(*made)
    by_creation = {"sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE"}
    assert listed(pri, [mine], query={"asc": True}, **by_creation) == made
    assert listed(pri, [mine], **by_creation) == made[::-1]
    assert listed(pri, [mine], query={"asc": True}, sorting_column=1) == made  # snake_case, number
    assert listed(pri, [mine, ids(made[0], made[1], "7")]) == made[:2]
    assert listed(pri, [mine, {"userIdQuery": {"id": user["user_id"]}}]) == [made[4]]
    assert listed(pri, [mine, {"creatorQuery": {}}], query={"asc": True}, **by_creation) == made
    assert listed(pri, [mine, {"creatorQuery": {"id": "123"}}]) == []
    assert sorted(listed(pri, [mine, {"userAgentQuery": {"fingerprintId": "fp-search"}}])) == sorted(
        made[1:4:2]
    )
    bad: dict[str, Any]
    for bad in (
        {"creatorQuery": {"id": ""}},
        {"userAgentQuery": {"fingerprintId": ""}},
        {"userAgentQuery": {}},
        {},
        {"expirationDateQuery": {}},
    ):
        response = search(pri, {"queries": [mine, bad]})
        assert response.status_code == 400 and response.json()["code"] == 3, bad
    for bad in ({"creatorQuery": {}}, {"userAgentQuery": {"fingerprintId": "fp-search"}}):
        assert search(pri, {"queries": [mine, bad]}, BETA).status_code == 400  # unknown in v2beta
    created = [session_of(pri, sid)["creationDate"] for sid in made]
    pivot = created[2]
    expect = {
        "TIMESTAMP_QUERY_METHOD_EQUALS": made[2:3],
        "TIMESTAMP_QUERY_METHOD_GREATER": made[3:],
        "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS": made[2:],
        "TIMESTAMP_QUERY_METHOD_LESS": made[:2],
        "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS": made[:3],
    }
    for method, wanted in expect.items():
        query = {"creationDateQuery": {"creationDate": pivot, "method": method}}
        assert listed(pri, [mine, query], query={"asc": True}, **by_creation) == wanted, method
    assert listed(pri, [mine, {"creationDateQuery": {"creationDate": pivot}}]) == made[2:3]  # default EQUALS
    page = search(
        pri, {"queries": [mine], "query": {"offset": "1", "limit": "2", "asc": True}, **by_creation}
    )
    assert [s["id"] for s in page.json()["sessions"]] == made[1:3]
    assert page.json()["details"]["totalResult"] == "5" and page.json()["details"]["timestamp"]
    empty = search(pri, {"queries": [ids("1")], "query": {"offset": 2**64 - 1}}).json()
    assert set(empty) == {"details"} and "totalResult" not in empty["details"]


def test_protojson_input(pri: httpx.Client) -> None:
    user = new_user(pri)
    snake = {
        "checks": {"user": {"login_name": user["login_name"]}},
        "user_agent": {"fingerprint_id": "s"},
        "challenges": {"web_auth_n": {"domain": "localhost", "user_verification_requirement": 2}},
    }
    created = create(pri, snake)
    assert "webAuthN" in created["challenges"]
    assert session_of(pri, created["sessionId"])["userAgent"] == {"fingerprintId": "s"}
    ok = [b"", b"  ", b'{"checks": null, "metadata": null, "lifetime": null, "unknown": {"x": [1]}}']
    for raw in ok:
        assert conform(pri.post(V2, content=raw)) and pri.post(V2, content=raw).status_code == 201, raw
    refused = [
        b'{"checks": {"user": {"userId": "1"}}, "checks": {}}',  # duplicate key
        b'{"userAgent": {"fingerprintId": "a", "fingerprint_id": "b"}}',  # both names
        b'{"lifetime": NaN}',
        b"null",
        b"[]",
        b'"x"',
        b"{",
        b'{"a":"\\ud800"}',
        b"\xff",
        b'{"challenges": {"webAuthN": {"domain": "localhost", "userVerificationRequirement": "NOPE"}}}',
        b'{"challenges": {"webAuthN": {"domain": "localhost", "userVerificationRequirement": 7}}}',
    ]
    for raw in refused:
        response = pri.post(V2, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and conform(response)["code"] == 3, raw
    for query in (
        {"limit": 2**32},
        {"limit": -1},
        {"offset": "1.5"},
        {"offset": 2**64},
        {"asc": 1},
        {"limit": 1.5},
    ):
        assert search(pri, {"query": query}).status_code == 400, query
    assert search(pri, {"query": {"limit": 2.0, "offset": "0"}, "sortingColumn": 9}).status_code == 200


def test_validation_before_lookup(pri: httpx.Client) -> None:
    unknown = {"userId": "999999"}
    for checks in (
        {"user": unknown, "password": {"password": ""}},
        {"user": unknown, "totp": {"code": "1"}},
        {"user": unknown, "idpIntent": {"idpIntentId": "", "idpIntentToken": "t"}},
        {"user": {"userId": "1" * 201}},
    ):
        response = pri.post(V2, json={"checks": checks})
        assert response.status_code == 400 and "details" not in response.json(), checks
    too_long = pri.patch(f"{V2}/{'1' * 201}", json={})
    assert too_long.status_code == 400 and "details" not in too_long.json()


# --- auth and routing --------------------------------------------------------------------------------


def test_authentication(server: EmbeddedServer, anon: httpx.Client) -> None:
    missing = anon.post(f"{V2}/search", json={})
    assert missing.status_code == 401 and missing.json() == {"code": 16, "message": "auth header missing"}
    assert anon.post(V2, content=b"{not json").status_code == 401  # authentication before validation
    for header in ("Bearer nope", f"Basic {server.primary_token}", "Bearer"):
        response = anon.get(f"{V2}/1", headers={"Authorization": header})
        assert response.status_code == 401 and conform(response)["code"] == 16
        assert response.headers["www-authenticate"]


def test_routing_errors(pri: httpx.Client) -> None:
    for path in ("/v2/nope", "/v2/sessions/", "/v2/sessions/1/extra", "/v2", "/v2beta", "/v2beta/x/y"):
        response = pri.get(path)
        assert response.status_code == 404 and response.json() == {"code": 5, "message": "Not Found"}, path
    for method, path in (
        ("GET", V2),
        ("PUT", V2),
        ("POST", f"{V2}/123"),
        ("PUT", f"{BETA}/search"),
        ("PUT", f"{BETA}/1"),
    ):
        response = pri.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.json() == {"code": 12, "message": "Method Not Allowed"}


def test_http_error_mapping() -> None:
    assert json.loads(http_error(404, "Not Found").body) == {"code": 5, "message": "Not Found"}
    assert json.loads(http_error(405, "Method Not Allowed").body) == {
        "code": 12,
        "message": "Method Not Allowed",
    }
    internal = http_error(500, "internal error")
    assert internal.status_code == 500 and json.loads(internal.body)["code"] == 13
    odd = http_error(413, "too large")
    assert odd.status_code == 400 and json.loads(odd.body)["code"] == 3


# --- generated traffic ---------------------------------------------------------------------------------

TEXT = st.text(max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(TEXT, c, max_size=3),
    max_leaves=6,
)
B64 = st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode()) | st.sampled_from(
    ["", "YQ", "-_8", "%%"]
)
CHECKS = st.fixed_dictionaries(
    {},
    optional={
        "user": st.sampled_from(
            [{}, {"userId": "1"}, {"loginName": "LOGIN"}, {"userId": "USER"}, {"userId": ""}]
        ),
        "password": st.sampled_from([{"password": "PASSWORD"}, {"password": "wrong"}, {"password": ""}, {}]),
        "totp": st.sampled_from([{"code": "123456"}, {"code": 1}]),
        "otpSms": st.sampled_from([{"code": "1"}, {}]),
        "otpEmail": st.sampled_from([{"code": "12345678"}]),
        "webAuthN": st.sampled_from(
            [{}, {"credentialAssertionData": ASSERTION}, {"credentialAssertionData": 1}]
        ),
        "idpIntent": st.sampled_from([{"idpIntentId": "1", "idpIntentToken": "t"}, {}]),
    },
)
CHALLENGES = st.fixed_dictionaries(
    {},
    optional={
        "webAuthN": st.sampled_from(
            [
                {"domain": "localhost", "userVerificationRequirement": 1},
                {"domain": ""},
                {"domain": "x", "userVerificationRequirement": "USER_VERIFICATION_REQUIREMENT_PREFERRED"},
            ]
        ),
        "otpSms": st.sampled_from([{}, {"returnCode": True}, {"returnCode": "yes"}]),
        "otpEmail": st.sampled_from([{}, {"returnCode": {}}, {"sendCode": {"urlTemplate": "{{.Code}}"}}]),
    },
)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "checks": st.none() | CHECKS,
        "metadata": st.none() | st.dictionaries(TEXT, B64, max_size=3),
        "challenges": st.none() | CHALLENGES,
        "userAgent": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "fingerprintId": TEXT,
                "ip": TEXT,
                "header": st.dictionaries(TEXT, st.just({"values": ["v"]})),
            },
        ),
        "lifetime": st.none() | st.sampled_from(["1s", "300s", "0s", "-1s", "1.123456789s", "x", "1e2s"]),
        "junk": JSON,
    },
)
QUERIES = st.lists(
    st.sampled_from(
        [
            {},
            {"idsQuery": {"ids": ["1"]}},
            {"userIdQuery": {"id": "USER"}},
            {"creatorQuery": {}},
            {"creatorQuery": {"id": ""}},
            {"userAgentQuery": {"fingerprintId": "f"}},
            {"creationDateQuery": {"creationDate": "2020-01-01T00:00:00+02:00", "method": 2}},
            {"creationDateQuery": {"method": "TIMESTAMP_QUERY_METHOD_LESS"}},
            {"idsQuery": {"ids": "x"}},
        ]
    ),
    max_size=3,
)


def _fill(value: Any, user: dict[str, Any]) -> Any:
    text = json.dumps(value)
    for key, real in (
        ("LOGIN", user["login_name"]),
        ("USER", user["user_id"]),
        ("PASSWORD", user["password"]),
    ):
        text = text.replace(f'"{key}"', json.dumps(real))
    return json.loads(text)


@pytest.fixture(scope="module")
def generated_user(pri: httpx.Client) -> dict[str, Any]:
    return new_user(pri)


@FAST
@given(
    body=BODIES,
    change=BODIES,
    queries=QUERIES,
    base=st.sampled_from([V2, BETA]),
    query=st.fixed_dictionaries(
        {}, optional={"limit": st.integers(0, 5), "offset": st.integers(0, 3), "asc": st.booleans()}
    ),
)
def test_generated_traffic_conforms(
    pri: httpx.Client,
    generated_user: dict[str, Any],
    body: dict[str, Any],
    change: dict[str, Any],
    queries: list[Any],
    base: str,
    query: dict[str, Any],
) -> None:
    created = pri.post(base, json=_fill(body, generated_user))
    conform(created)
    assert created.status_code in (201, 400, 403, 404, 501), created.text
    if created.status_code == 201:
        sid = created.json()["sessionId"]
        conform(patch(pri, sid, _fill(change, generated_user), base))
        conform(get(pri, sid, None, base))
        conform(search(pri, {"queries": [ids(sid), *_fill(queries, generated_user)], "query": query}, base))
        conform(delete(pri, sid, None, base))


BODY_REQUESTS = [
    ("POST", V2),
    ("POST", f"{V2}/search"),
    ("PATCH", f"{V2}/1"),
    ("DELETE", f"{V2}/1"),
    ("POST", BETA),
    ("POST", f"{BETA}/search"),
]


@FAST
@given(
    where=st.sampled_from(BODY_REQUESTS),
    raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/x-www-form-urlencoded"]),
)
def test_malformed_input_is_never_a_server_error(
    pri: httpx.Client, where: tuple[str, str], raw: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = pri.request(where[0], where[1], content=raw, headers=headers)
    conform(response)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b"{" * 50_000,
        b'{"a":"\\ud800"}',
        b"\xff\xfe{",
        b'{"metadata": {"' + b"k" * (2 << 20) + b'": ""}}',
        b'{"query": {"offset": ' + b"9" * 5000 + b"}}",
        b"NaN",
        b"{}{}",
    ],
)
def test_pathological_bodies(pri: httpx.Client, raw: bytes) -> None:
    for method, path in BODY_REQUESTS:
        response = pri.request(method, path, content=raw, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        conform(response)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"lifetime": 1e999, "query": {"limit": 1e999}}',  # 400 where the field exists, else ignored
        b'{"checks": {"user": {"loginName": "\\u0000\\ufffe\\udbff\\udfff"}}}',  # a valid surrogate pair
        b'{"metadata": {"\\u0000": "AA=="}, "userAgent": {"header": {"\\ud83d\\ude00": {}}}}',
    ],
)
def test_odd_but_decodable_bodies(pri: httpx.Client, raw: bytes) -> None:
    for method, path in BODY_REQUESTS:
        conform(pri.request(method, path, content=raw, headers={"Content-Type": "application/json"}))


@FAST
@given(
    session_id=st.text(min_size=1, max_size=300).filter(lambda s: "/" not in s), token=st.text(max_size=50)
)
def test_odd_ids_and_tokens(pri: httpx.Client, session_id: str, token: str) -> None:
    from urllib.parse import quote

    path = f"{V2}/{quote(session_id, safe='')}"
    for response in (
        pri.get(path, params={"sessionToken": token}),
        pri.patch(path, json={"sessionToken": token}),
        pri.request("DELETE", path, json={"sessionToken": token}),
    ):
        assert response.status_code < 500, response.text
        if response.status_code != 404 or response.json().get("code") != 5:
            conform(response)


# --- limits, isolation, concurrency --------------------------------------------------------------------


def test_eviction_cap() -> None:
    with EmbeddedServer(max_sessions=5) as small, client_for(small, small.primary_token) as client:
        made = [create(client)["sessionId"] for _ in range(8)]
        answer = search(client, {"sortingColumn": 1, "query": {"asc": True}}).json()
        assert answer["details"]["totalResult"] == "5"
        assert [s["id"] for s in answer["sessions"]] == made[3:]
        assert all(get(client, sid).status_code == 404 for sid in made[:3])
        with client_for(small, small.other_token) as other:  # per account
            create(other)
            assert len(search(other, {}).json()["sessions"]) == 1


def test_account_isolation(pri: httpx.Client, sec: httpx.Client) -> None:
    user = new_user(pri)
    created = create(pri, {"metadata": {"k": b64("v")}})
    sid = created["sessionId"]
    assert get(sec, sid).status_code == 404
    assert get(sec, sid, created["sessionToken"]).status_code == 404
    assert sid not in listed(sec, [ids(sid)])
    assert patch(sec, sid, {"metadata": {"k": b64("x")}}).status_code == 400
    assert delete(sec, sid).status_code == 200  # not a session of this instance: nothing to do
    assert session_of(pri, sid, created["sessionToken"])["metadata"] == {"k": b64("v")}
    assert sec.post(V2, json={"checks": {"user": {"userId": user["user_id"]}}}).status_code == 404
    other = create(sec)
    assert other["details"]["resourceOwner"] == "300000000000000002"


def test_concurrent_clients() -> None:
    with EmbeddedServer() as fresh:

        def work(_: int) -> list[str]:
            made = []
            with client_for(fresh, fresh.primary_token) as client:
                for _ in range(20):
                    created = client.post(V2, json={"metadata": {"n": b64("1")}})
                    assert created.status_code == 201
                    sid, token = created.json()["sessionId"], created.json()["sessionToken"]
                    changed = client.patch(f"{V2}/{sid}", json={"metadata": {"n": b64("2")}})
                    assert changed.status_code == 200
                    assert get(client, sid, changed.json()["sessionToken"]).status_code == 200
                    assert get(client, sid, token).status_code == 403
                    assert client.post(f"{V2}/search", json={"query": {"limit": 3}}).status_code == 200
                    made.append(sid)
            return made

        with ThreadPoolExecutor(max_workers=8) as pool:
            made = [sid for chunk in pool.map(work, range(8)) for sid in chunk]
        assert len(set(made)) == 160
        with client_for(fresh, fresh.primary_token) as client:
            answer = search(client, {}).json()
            assert sorted(s["id"] for s in answer["sessions"]) == sorted(made)
            assert all(s["sequence"] == "2" and s["metadata"] == {"n": b64("2")} for s in answer["sessions"])


# --- faults: each one changes what a scripted client observes ---------------------------------------


@dataclass
class Probe:
    pri: httpx.Client
    sec: httpx.Client
    anon: httpx.Client
    rst: httpx.Client | None = None  # the restricted caller (session.write only)

    def user(self) -> dict[str, Any]:
        return new_user(self.pri)

    def new(self, body: Any = None, base: str = V2) -> dict[str, Any]:
        response = self.pri.post(base, json=body or {})
        assert response.status_code in (200, 201), response.text
        return response.json()


def _user_session(p: Probe) -> tuple[dict[str, Any], str]:
    user = p.user()
    return user, p.new({"checks": {"user": {"userId": user["user_id"]}}})["sessionId"]


def _otp_returned(p: Probe, kind: str, wanted: dict[str, Any]) -> bool:
    _, sid = _user_session(p)
    return kind in p.pri.patch(f"{V2}/{sid}", json={"challenges": {kind: wanted}}).json()["challenges"]


def _otp_reusable(p: Probe) -> bool:
    _, sid = _user_session(p)
    code = p.pri.patch(f"{V2}/{sid}", json={"challenges": {"otpSms": {"returnCode": True}}}).json()
    check = {"checks": {"otpSms": {"code": code["challenges"]["otpSms"]}}}
    p.pri.patch(f"{V2}/{sid}", json=check)
    return p.pri.patch(f"{V2}/{sid}", json=check).status_code == 200


def _intent_reusable(p: Probe) -> bool:
    user = p.user()
    intent = hook(p.pri, "zitadel idp intent succeeded", user_id=user["user_id"])
    body = {
        "checks": {
            "user": {"userId": user["user_id"]},
            "idpIntent": {
                "idpIntentId": intent["idp_intent_id"],
                "idpIntentToken": intent["idp_intent_token"],
            },
        }
    }
    p.new(body)
    return p.pri.post(V2, json=body).status_code == 201


def _user_change(p: Probe) -> bool:
    _, sid = _user_session(p)
    other = p.user()
    return (
        p.pri.patch(f"{V2}/{sid}", json={"checks": {"user": {"userId": other["user_id"]}}}).status_code == 200
    )


def _partial_failure(p: Probe) -> bool:
    sid = p.new()["sessionId"]
    p.pri.patch(f"{V2}/{sid}", json={"metadata": {"k": b64("v")}, "checks": {"password": {"password": "x"}}})
    return "metadata" in get(p.pri, sid).json()["session"]


def _metadata_replaced(p: Probe) -> bool:
    sid = p.new({"metadata": {"a": b64("a")}})["sessionId"]
    p.pri.patch(f"{V2}/{sid}", json={"metadata": {"b": b64("b")}})
    return set(get(p.pri, sid).json()["session"]["metadata"]) != {"a", "b"}


def _useragent_changed(p: Probe) -> bool:
    sid = p.new({"userAgent": {"description": "a"}})["sessionId"]
    p.pri.patch(f"{V2}/{sid}", json={"userAgent": {"description": "b"}})
    return get(p.pri, sid).json()["session"]["userAgent"] != {"description": "a"}


def _rotated(p: Probe, body: dict[str, Any], base: str = V2) -> tuple[dict[str, Any], dict[str, Any]]:
    created = p.new(base=base)
    return created, p.pri.patch(f"{base}/{created['sessionId']}", json=body).json()


def _old_token_valid(p: Probe) -> bool:
    created, _ = _rotated(p, {"metadata": {"k": b64("v")}})
    return get(p.pri, created["sessionId"], created["sessionToken"]).status_code == 200


def _token_any_session(p: Probe) -> bool:
    a, b = p.new(), p.new()
    return get(p.pri, a["sessionId"], b["sessionToken"]).status_code == 200


def _deleted(p: Probe) -> dict[str, Any]:
    created = p.new()
    p.pri.request("DELETE", f"{V2}/{created['sessionId']}", json={})
    return created


def _two(p: Probe) -> list[str]:
    return [p.new()["sessionId"], p.new()["sessionId"]]


def _search(p: Probe, body: dict[str, Any]) -> httpx.Response:
    return p.pri.post(f"{V2}/search", json=body)


def _found(p: Probe, queries: list[Any], **extra: Any) -> list[str]:
    return [s["id"] for s in _search(p, {"queries": queries, **extra}).json().get("sessions", [])]


def _expired_set(p: Probe) -> bool:
    sid = p.new({"lifetime": "0.000000001s"})["sessionId"]
    return p.pri.patch(f"{V2}/{sid}", json={"metadata": {"k": b64("v")}}).status_code == 200


def _verified_at_kept(p: Probe) -> bool:
    user, sid = _user_session(p)
    check = {"checks": {"password": {"password": user["password"]}}}
    times = []
    for _ in range(2):
        assert p.pri.patch(f"{V2}/{sid}", json=check).status_code == 200
        times.append(get(p.pri, sid).json()["session"]["factors"]["password"]["verifiedAt"])
    return times[0] == times[1]


def _racing_set_lost(p: Probe) -> bool:
    sid = p.new()["sessionId"]
    keys = ["a", "b", "c"]
    with ThreadPoolExecutor(len(keys)) as pool:
        list(pool.map(lambda k: p.pri.patch(f"{V2}/{sid}", json={"metadata": {k: b64(k)}}), keys))
    return len(get(p.pri, sid).json()["session"].get("metadata", {})) != len(keys)


def _second_set_frozen(p: Probe) -> bool:
    sid = p.new()["sessionId"]
    first = p.pri.patch(f"{V2}/{sid}", json={"metadata": {"a": b64("1")}}).json()["details"]
    second = p.pri.patch(f"{V2}/{sid}", json={"metadata": {"b": b64("2")}}).json()["details"]
    return second["sequence"] == first["sequence"]


def _later_pages_overlap(p: Probe) -> bool:
    two = _two(p)
    second = _found(p, [ids(*two)], sortingColumn=1, query={"asc": True, "offset": "1", "limit": 1})
    return second != two[1:]


def _v2beta_total_missing(p: Probe) -> bool:
    sid = p.new(base=BETA)["sessionId"]
    answer = p.pri.post(f"{BETA}/search", json={"queries": [ids(sid)]}).json()
    return "totalResult" not in answer["details"]


def _delete_without_permission(p: Probe) -> bool:
    assert p.rst is not None
    sid = p.new()["sessionId"]
    p.rst.request("DELETE", f"{V2}/{sid}", json={})
    return get(p.pri, sid).status_code == 404


def _delete_noop(p: Probe) -> bool:
    sid = _deleted(p)["sessionId"]
    return get(p.pri, sid).status_code == 200 and _found(p, [ids(sid)]) == [sid]


PROBES: dict[str, Callable[[Probe], bool]] = {
    "ztd-no-auth": lambda p: p.anon.post(f"{V2}/search", json={}).status_code == 200,
    "ztd-create-200": lambda p: p.pri.post(V2, json={}).status_code == 200,
    "ztd-set-201": lambda p: p.pri.patch(f"{V2}/{p.new()['sessionId']}", json={}).status_code == 201,
    "ztd-error-shape": lambda p: "code" not in get(p.pri, "123").json(),
    "ztd-list-query-404": lambda p: _search(p, {"queries": [{}]}).status_code == 404,
    "ztd-plain-403-404": lambda p: (
        "code" not in get(p.pri, "123").json() and "code" in p.pri.post(V2, json={"lifetime": "0s"}).json()
    ),
    "ztd-metadata-only-create-400": lambda p: (
        p.pri.post(V2, json={"metadata": {"k": b64("v")}}).status_code == 400
        and p.pri.post(V2, json={}).status_code == 201
    ),
    "ztd-verified-at-kept": _verified_at_kept,
    "ztd-get-token-refused": lambda p: (
        lambda c: get(p.pri, c["sessionId"], c["sessionToken"]).status_code == 403
    )(p.new()),
    "ztd-delete-noop": _delete_noop,
    "ztd-list-never-catches-up": lambda p: _found(p, [ids(p.new()["sessionId"])]) == [],
    "ztd-int64-as-number": lambda p: isinstance(p.new()["details"]["sequence"], int),
    "ztd-null-in-response": lambda p: None in get(p.pri, p.new()["sessionId"]).json()["session"].values(),
    "ztd-bad-json-500": lambda p: p.pri.post(V2, content=b"{").status_code == 500,
    "ztd-500-odd-input": lambda p: p.pri.post(V2, content=b'{"a":"\xff"}').status_code == 500,
    "ztd-validation-with-details": lambda p: "details" in p.pri.post(V2, json={"lifetime": "0s"}).json(),
    "ztd-validation-ignored": lambda p: p.pri.post(V2, json={"lifetime": "0s"}).status_code == 201,
    "ztd-no-token-on-create": lambda p: "sessionToken" not in p.new(),
    "ztd-nonnumeric-id": lambda p: not p.new()["sessionId"].isdigit(),
    "ztd-sequence-mismatch": lambda p: (
        lambda c: c["details"]["sequence"] != get(p.pri, c["sessionId"]).json()["session"]["sequence"]
    )(p.new()),
    "ztd-empty-user-check-400": lambda p: p.pri.post(V2, json={"checks": {"user": {}}}).status_code == 400,
    "ztd-unknown-user-200": lambda p: (
        p.pri.post(V2, json={"checks": {"user": {"userId": "77"}}}).status_code == 201
    ),
    "ztd-user-change-allowed": _user_change,
    "ztd-password-without-user": lambda p: (
        p.pri.post(V2, json={"checks": {"password": {"password": "x"}}}).status_code == 201
    ),
    "ztd-wrong-password-accepted": lambda p: (
        lambda u: (
            p.pri.post(
                V2, json={"checks": {"user": {"userId": u["user_id"]}, "password": {"password": "wrong"}}}
            ).status_code
            == 201
        )
    )(p.user()),
    "ztd-webauthn-no-challenge-ok": lambda p: (
        p.pri.patch(
            f"{V2}/{_user_session(p)[1]}",
            json={"checks": {"webAuthN": {"credentialAssertionData": ASSERTION}}},
        ).status_code
        == 200
    ),
    "ztd-intent-reusable": _intent_reusable,
    "ztd-factors-without-user": lambda p: "factors" in get(p.pri, p.new()["sessionId"]).json()["session"],
    "ztd-webauthn-challenge-without-user": lambda p: (
        p.pri.post(
            V2, json={"challenges": {"webAuthN": {"domain": "localhost", "userVerificationRequirement": 1}}}
        ).status_code
        == 201
    ),
    "ztd-otp-code-not-returned": lambda p: not _otp_returned(p, "otpSms", {"returnCode": True}),
    "ztd-otp-email-code-not-returned": lambda p: not _otp_returned(p, "otpEmail", {"returnCode": {}}),
    "ztd-no-challenges-object": lambda p: "challenges" not in p.new({"challenges": {}}),
    "ztd-otp-reusable": _otp_reusable,
    "ztd-partial-failure-applies": _partial_failure,
    "ztd-metadata-not-stored": lambda p: (
        "metadata" not in get(p.pri, p.new({"metadata": {"k": b64("v")}})["sessionId"]).json()["session"]
    ),
    "ztd-metadata-replaced": _metadata_replaced,
    "ztd-useragent-changed": _useragent_changed,
    "ztd-no-expiration": lambda p: (
        "expirationDate" not in get(p.pri, p.new({"lifetime": "300s"})["sessionId"]).json()["session"]
    ),
    "ztd-expired-set-allowed": _expired_set,
    "ztd-token-not-rotated": lambda p: (lambda r: r[1]["sessionToken"] == r[0]["sessionToken"])(
        _rotated(p, {"metadata": {"k": b64("v")}})
    ),
    "ztd-old-token-valid": _old_token_valid,
    "ztd-token-any-session": _token_any_session,
    "ztd-noop-rotates": lambda p: "sessionToken" in _rotated(p, {})[1],
    "ztd-set-terminated-ok": lambda p: (
        p.pri.patch(f"{V2}/{_deleted(p)['sessionId']}", json={"metadata": {"k": b64("v")}}).status_code == 200
    ),
    "ztd-get-wrong-token-ok": lambda p: get(p.pri, p.new()["sessionId"], FOREIGN_TOKEN).status_code == 200,
    "ztd-other-account-visible": lambda p: get(p.sec, p.new()["sessionId"]).status_code == 200,
    "ztd-unknown-get-200": lambda p: get(p.pri, "4242").status_code == 200,
    "ztd-delete-wrong-token-ok": lambda p: (
        p.pri.request(
            "DELETE", f"{V2}/{p.new()['sessionId']}", json={"sessionToken": FOREIGN_TOKEN}
        ).status_code
        == 200
    ),
    "ztd-delete-other-instance": lambda p: (
        lambda sid: (p.sec.request("DELETE", f"{V2}/{sid}", json={}), get(p.pri, sid).status_code == 404)[1]
    )(p.new()["sessionId"]),
    "ztd-deleted-still-readable": lambda p: get(p.pri, _deleted(p)["sessionId"]).status_code == 200,
    "ztd-delete-not-idempotent": lambda p: (
        p.pri.request("DELETE", f"{V2}/{_deleted(p)['sessionId']}", json={}).status_code == 404
    ),
    "ztd-filter-ignored": lambda p: len(_found(p, [ids(_two(p)[0])])) > 1,
    "ztd-creation-date-wrong": lambda p: (
        _found(
            p,
            [
                ids(made := p.new()["sessionId"]),
                {
                    "creationDateQuery": {
                        "creationDate": "2000-01-01T00:00:00Z",
                        "method": "TIMESTAMP_QUERY_METHOD_GREATER",
                    }
                },
            ],
        )
        != [made]
    ),
    "ztd-creator-query-ignored": lambda p: (
        _found(p, [ids(p.new()["sessionId"]), {"creatorQuery": {"id": "5"}}]) != []
    ),
    "ztd-useragent-query-ignored": lambda p: (
        _found(p, [ids(p.new()["sessionId"]), {"userAgentQuery": {"fingerprintId": "none"}}]) != []
    ),
    "ztd-empty-query-accepted": lambda p: _search(p, {"queries": [{}]}).status_code == 200,
    "ztd-sort-ignored": lambda p: (
        lambda two: _found(p, [ids(*two)], sortingColumn=1, query={"asc": True}) != two
    )(_two(p)),
    "ztd-limit-ignored": lambda p: len(_found(p, [ids(*_two(p))], query={"limit": 1})) == 2,
    "ztd-total-wrong": lambda p: (
        _search(p, {"queries": [ids(*_two(p))], "query": {"limit": 1}}).json()["details"]["totalResult"]
        != "2"
    ),
    "ztd-deleted-listed": lambda p: _found(p, [ids(sid := _deleted(p)["sessionId"])]) == [sid],
    "ztd-expired-unlisted": lambda p: (
        _found(p, [ids(sid := p.new({"lifetime": "0.000000001s"})["sessionId"])]) != [sid]
    ),
    "ztd-racing-set-lost": _racing_set_lost,
    "ztd-second-set-frozen": _second_set_frozen,
    "ztd-later-pages-overlap": _later_pages_overlap,
    "ztd-v2beta-total-missing": _v2beta_total_missing,
    "ztd-read-without-permission": lambda p: (
        p.rst is not None and get(p.rst, p.new()["sessionId"]).status_code == 200
    ),
    "ztd-delete-without-permission": _delete_without_permission,
    "ztd-v2beta-differs": lambda p: "sessionToken" in _rotated(p, {}, BETA)[1],
}


def test_every_fault_has_a_probe() -> None:
    assert sorted(PROBES) == ZTD_FAULTS
    for name in ZTD_FAULTS:
        fault = all_faults()[name]
        assert fault.rule.startswith("ZTD-") and fault.description


@pytest.mark.parametrize("name", ZTD_FAULTS)
def test_fault_changes_behaviour(
    name: str, pri: httpx.Client, sec: httpx.Client, anon: httpx.Client, rst: httpx.Client
) -> None:
    assert not PROBES[name](Probe(pri, sec, anon, rst)), f"the conformant server already shows {name}"
    with (
        EmbeddedServer(faults=[name]) as faulty,
        client_for(faulty, faulty.primary_token) as fp,
        client_for(faulty, faulty.other_token) as fs,
        client_for(faulty, None) as fa,
        client_for(faulty, faulty.restricted_token) as fr,
    ):
        assert PROBES[name](Probe(fp, fs, fa, fr)), f"{name} does not change what the probe observes"


# --- variants: each one is another legitimate reading, observable by a scripted client ---------------

# the Zitadel server's own variants (the shared hook's variant lives in hook.py, applied by app.py)
ZTD_VARIANTS = sorted(
    value for key, value in vars(zitadel_variants).items() if key.isupper() and str(value).startswith("ztd-")
)


@dataclass
class VProbe:
    server: EmbeddedServer
    pri: httpx.Client
    sec: httpx.Client

    def new(self, body: Any = None) -> dict[str, Any]:
        response = self.pri.post(V2, json=body or {})
        assert response.status_code == 201, response.text
        return response.json()

    def user(self) -> dict[str, Any]:
        return new_user(self.pri)


def _seed(p: VProbe, count: int) -> None:
    """``count`` sessions straight into the primary instance (cheaper than as many requests)."""
    store = p.server.state.store("zitadel", Store)
    inst = store.instance(p.server.accounts[0])
    with inst.lock:
        for _ in range(count):
            now = store.clock.now()
            inst.add_session(ZSession(id=store.ids.next(), creator="c", created=now, changed=now, token="t"))


def _unbounded(p: VProbe) -> bool:
    _seed(p, 1001)
    return len(p.pri.post(f"{V2}/search", json={"query": {"limit": 0}}).json()["sessions"]) == 1001


def _wrong_password(p: VProbe) -> dict[str, Any]:
    user = p.user()
    body = {"checks": {"user": {"userId": user["user_id"]}, "password": {"password": "wrong-0!"}}}
    response = p.pri.post(V2, json=body)
    assert response.status_code == 400, response.text
    return response.json()


def _wrong_intent_status(p: VProbe) -> int:
    user = p.user()
    intent = hook(p.pri, "zitadel idp intent succeeded", user_id=user["user_id"])
    check = {"idpIntentId": intent["idp_intent_id"], "idpIntentToken": "wrong-token"}
    return p.pri.post(
        V2, json={"checks": {"user": {"userId": user["user_id"]}, "idpIntent": check}}
    ).status_code


def _expired_with_token(p: VProbe) -> bool:
    made = p.new({"lifetime": "0.05s"})
    time.sleep(0.15)
    path = f"{V2}/{made['sessionId']}"
    by_permission = p.pri.get(path)
    assert by_permission.status_code == 200, by_permission.text  # Z-21: still returned without a token
    refused = p.pri.get(path, params={"sessionToken": made["sessionToken"]}).status_code == 403
    gone = p.pri.request("DELETE", path, json={"sessionToken": made["sessionToken"]})
    assert gone.status_code == 200, gone.text  # ZTD-R37: still deletable with its token
    return refused


def _lagging(p: VProbe) -> bool:
    """Deterministic: the projection's refresh interval is stretched, then shrunk to nothing."""
    lag = zitadel_module.LIST_LAG_NS
    try:
        zitadel_module.LIST_LAG_NS = 3600 * 10**9
        p.pri.post(f"{V2}/search", json={})  # the projection runs now ...
        sid = p.new()["sessionId"]  # ... so this write is not in it yet
        assert p.pri.get(f"{V2}/{sid}").status_code == 200  # Get is read-after-write (ZTD-R63)
        first = p.pri.post(f"{V2}/search", json={"queries": [ids(sid)]}).json().get("sessions", [])
        zitadel_module.LIST_LAG_NS = 0  # ... and List catches up at its next run
        later = p.pri.post(f"{V2}/search", json={"queries": [ids(sid)]}).json().get("sessions", [])
    finally:
        zitadel_module.LIST_LAG_NS = lag
    assert [s["id"] for s in later] == [sid]
    return first == []


def _webauthn_options(p: VProbe) -> dict[str, Any]:
    user = p.user()
    challenge = {"webAuthN": {"domain": "localhost", "userVerificationRequirement": 1}}
    made = p.new({"checks": {"user": {"userId": user["user_id"]}}, "challenges": challenge})
    options: dict[str, Any] = made["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"]
    return options


def _three_unsorted(p: VProbe) -> bool:
    made = [p.new()["sessionId"] for _ in range(3)]
    got = [s["id"] for s in p.pri.post(f"{V2}/search", json={"queries": [ids(*made)]}).json()["sessions"]]
    return got == made[::-1]


def _redelete(p: VProbe) -> dict[str, Any]:
    made = p.new()
    p.pri.request("DELETE", f"{V2}/{made['sessionId']}", json={})
    again = p.pri.request("DELETE", f"{V2}/{made['sessionId']}", json={})
    assert again.status_code == 200, again.text
    return again.json()


VARIANT_PROBES: dict[str, Callable[[VProbe], bool]] = {
    "ztd-set-token-ignored": lambda p: (
        p.pri.patch(
            f"{V2}/{p.new()['sessionId']}", json={"sessionToken": FOREIGN_TOKEN, "metadata": {"k": b64("v")}}
        ).status_code
        == 200
    ),
    "ztd-noop-echoes-token": lambda p: (
        lambda made: (
            p.pri.patch(f"{V2}/{made['sessionId']}", json={}).json().get("sessionToken")
            == made["sessionToken"]
        )
    )(p.new()),
    "ztd-total-before-permission": lambda p: (
        p.sec.post(f"{V2}/search", json={"queries": [ids(p.new()["sessionId"])]})
        .json()["details"]
        .get("totalResult")
        == "1"
    ),
    "ztd-limit-zero-unbounded": lambda p: _unbounded(p),
    "ztd-limit-max-1000": lambda p: (
        p.pri.post(f"{V2}/search", json={"query": {"limit": 1001}}).status_code == 400
        and p.pri.post(f"{V2}/search", json={"query": {"limit": 1000}}).status_code == 200
    ),
    "ztd-delete-unknown-404": lambda p: p.pri.request("DELETE", f"{V2}/9123", json={}).status_code == 404,
    "ztd-delete-unknown-403": lambda p: p.pri.request("DELETE", f"{V2}/9123", json={}).status_code == 403,
    "ztd-error-id-in-details-only": lambda p: (
        lambda body: body["message"] == "Session does not exist" and body["details"][0]["id"] == "QUERY-SFeaa"
    )(p.pri.get(f"{V2}/9123").json()),
    "ztd-credentials-check-error": lambda p: (
        lambda body: (
            body["details"][0]["@type"].endswith("zitadel.v1.CredentialsCheckError")
            and body["details"][0]["failedAttempts"] == 1
            and "COMMAND-3M0fs" in body["message"]
        )
    )(_wrong_password(p)),
    "ztd-intent-failure-400": lambda p: _wrong_intent_status(p) == 400,
    "ztd-details-creation-date": lambda p: (
        lambda made: (
            made["details"].get("creationDate")
            == p.pri.get(f"{V2}/{made['sessionId']}").json()["session"]["creationDate"]
        )
    )(p.new()),
    "ztd-user-check-required": lambda p: (
        p.pri.post(V2, json={"checks": {"user": {}}}).json().get("code") == 3
        and "details" not in p.pri.post(V2, json={"checks": {"user": {}}}).json()
    ),
    "ztd-expired-token-refused": _expired_with_token,
    "ztd-list-lag": _lagging,
    "ztd-webauthn-options-extra": lambda p: "extensions" in _webauthn_options(p)["publicKey"],
    "ztd-unspecified-order-newest": _three_unsorted,
    "ztd-redelete-empty-details": lambda p: _redelete(p) == {"details": {}},
    "ztd-errors-quote-request": lambda p: "9123" in p.pri.get(f"{V2}/9123").json()["message"],
    "ztd-extra-properties": lambda p: (
        lambda made: (
            "state" in p.pri.get(f"{V2}/{made['sessionId']}").json()["session"]
            and "resourceType" in made["details"]
        )
    )(p.new()),
}


def test_every_variant_has_a_probe_and_a_source() -> None:
    assert sorted(VARIANT_PROBES) == ZTD_VARIANTS
    decisions = (Path(__file__).resolve().parents[1] / "docs" / "decisions" / "zitadel-server.md").read_text()
    for name in ZTD_VARIANTS:
        variant = all_variants()[name]
        assert re.fullmatch(r"Z-\d\d|ZTD-R\d\d|convention", variant.source), variant
        assert all(re.fullmatch(r"ZTD-(R\d\d|X01)", rule) for rule in variant.rules), variant
        assert f"`{name}`" in decisions, f"{name} is missing from the variants table"


@pytest.mark.parametrize("name", ZTD_VARIANTS)
def test_variant_changes_behaviour(name: str) -> None:
    for variants, wanted in (((), False), ((name,), True)):
        with (
            EmbeddedServer(variants=variants) as running,
            client_for(running, running.primary_token) as pri,
            client_for(running, running.other_token) as sec,
        ):
            assert VARIANT_PROBES[name](VProbe(running, pri, sec)) is wanted, (name, variants)


def test_all_variants_at_once_still_conform() -> None:
    """Every variant together: the main flows still answer valid, documented shapes."""
    with (
        EmbeddedServer(variants=["all"]) as running,
        client_for(running, running.primary_token) as pri,
    ):
        user = new_user(pri)
        made = pri.post(V2, json={"checks": {"user": {"userId": user["user_id"]}}, "lifetime": "60s"})
        assert made.status_code == 201, made.text
        sid = made.json()["sessionId"]
        changed = pri.patch(f"{V2}/{sid}", json={"checks": {"password": {"password": user["password"]}}})
        assert changed.status_code == 200 and changed.json()["sessionToken"], changed.text
        for response in (pri.get(f"{V2}/{sid}"), pri.post(f"{V2}/search", json={"queries": [ids(sid)]})):
            assert response.status_code == 200
            assert not protojson_problems(response.json()), response.text
        assert pri.request("DELETE", f"{V2}/{sid}", json={}).status_code == 200


def test_only_json_whitespace_reads_as_an_empty_body() -> None:
    """grpc-gateway reads a body of JSON whitespace as empty; a vertical tab is a syntax error (400)."""
    from session_conformance.server.zitadel.wire import Malformed, parse_body

    assert parse_body(b" \t\r\n") == {}
    for odd in (b"\x0b", b"\x0c", b"\x0b{}"):
        with pytest.raises(Malformed):
            parse_body(odd)
