"""The embedded server's Connect transport: paths, status table, error object, shared sessions, faults."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_conformance.server import EmbeddedServer
from session_conformance.server.catalogue import all_faults

V2 = "/zitadel.session.v2.SessionService/"
BETA = "/zitadel.session.v2beta.SessionService/"
JSON = {"Content-Type": "application/json"}
CODES = {
    "invalid_argument": 400,
    "failed_precondition": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "unimplemented": 501,
}


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: EmbeddedServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.primary_token}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
        yield client


def _create(http: httpx.Client, prefix: str = V2, body: object = None) -> dict[str, str]:
    response = http.post(prefix + "CreateSession", json={} if body is None else body)
    assert response.status_code == 200, response.text
    return response.json()


def _is_connect_error(response: httpx.Response) -> None:
    body = response.json()
    assert response.headers["content-type"].startswith("application/json")
    assert (
        isinstance(body["code"], str)
        and CODES.get(body["code"], response.status_code) == response.status_code
    )
    for detail in body.get("details", []):
        assert not detail["type"].startswith("type.googleapis.com/")
        base64.b64decode(detail["value"] + "=" * (-len(detail["value"]) % 4), validate=True)


@pytest.mark.parametrize("prefix", [V2, BETA])
def test_five_rpcs_answer_200_on_the_same_sessions_as_rest(http: httpx.Client, prefix: str) -> None:
    created = _create(http, prefix, {"metadata": {"k": base64.b64encode(b"v").decode()}})
    sid, token = created["sessionId"], created["sessionToken"]
    rest = "/v2beta" if "v2beta" in prefix else "/v2"
    assert http.get(f"{rest}/sessions/{sid}", params={"sessionToken": token}).status_code == 200
    got = http.post(prefix + "GetSession", json={"sessionId": sid, "sessionToken": token})
    assert got.status_code == 200 and got.json()["session"]["id"] == sid
    changed = http.post(prefix + "SetSession", json={"sessionId": sid, "lifetime": "600s"})
    assert changed.status_code == 200 and changed.json()["sessionToken"] != token
    listed = http.post(prefix + "ListSessions", json={"queries": [{"idsQuery": {"ids": [sid]}}]})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()["sessions"]] == [sid]
    over_rest = http.post(f"{rest}/sessions", json={}).json()
    assert http.post(prefix + "GetSession", json={"sessionId": over_rest["sessionId"]}).status_code == 200
    assert http.post(prefix + "DeleteSession", json={"sessionId": sid}).status_code == 200
    assert http.get(f"{rest}/sessions/{sid}").status_code == 404


def test_errors_are_connect_error_objects(http: httpx.Client, server: EmbeddedServer) -> None:
    unknown = http.post(V2 + "GetSession", json={"sessionId": "9123"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert unknown.json()["details"][0]["debug"]["id"] == "QUERY-SFeaa"
    _is_connect_error(unknown)
    anon = httpx.post(server.url + V2 + "ListSessions", json={})
    assert anon.status_code == 401 and anon.json() == {
        "code": "unauthenticated",
        "message": "auth header missing",
    }
    assert "www-authenticate" not in anon.headers
    for body, code in (
        ({"lifetime": "0s"}, "invalid_argument"),
        ({"checks": {"user": {}}}, "unimplemented"),
        ({"checks": {"user": {"loginName": "nobody"}}}, "not_found"),
    ):
        answer = http.post(V2 + "CreateSession", json=body)
        assert answer.json()["code"] == code, answer.text
        _is_connect_error(answer)
    expired = _create(http, body={"lifetime": "0.01s"})
    time.sleep(0.05)
    late = http.post(V2 + "SetSession", json={"sessionId": expired["sessionId"], "metadata": {"a": "YQ=="}})
    assert late.status_code == 400 and late.json()["code"] == "failed_precondition"


def test_transport_answers_without_bodies(http: httpx.Client, server: EmbeddedServer) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = http.request(method, V2 + "GetSession")
        assert (answer.status_code, answer.headers.get("allow"), answer.content) == (405, "POST", b"")
    for headers in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/xml"}):
        answer = http.post(V2 + "ListSessions", content=b"{}", headers=headers)
        assert answer.status_code == 415 and answer.content == b"" and "accept-post" in answer.headers
    charset = http.post(
        V2 + "ListSessions", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert charset.status_code == 200
    missing = http.post(V2 + "NoSuchMethod", json={})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/plain")
    empty = httpx.post(
        server.url + V2 + "ListSessions", content=b"", headers={"Content-Type": "application/json"}
    )
    assert empty.status_code == 400 and empty.json()["code"] == "invalid_argument"  # before authentication


def test_protocol_headers(http: httpx.Client) -> None:
    assert http.post(V2 + "ListSessions", json={}).status_code == 200  # the header is optional
    assert (
        http.post(V2 + "ListSessions", json={}, headers={"Connect-Protocol-Version": "1"}).status_code == 200
    )
    wrong = http.post(V2 + "ListSessions", json={}, headers={"Connect-Protocol-Version": "2"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_argument"
    timeout = http.post(V2 + "ListSessions", json={}, headers={"Connect-Timeout-Ms": "12345678901"})
    assert timeout.status_code == 400


def test_set_and_delete_need_a_session_id(http: httpx.Client) -> None:
    for rpc in ("SetSession", "DeleteSession"):
        answer = http.post(V2 + rpc, json={})
        assert answer.status_code == 400 and "details" not in answer.json()
    assert http.post(V2 + "GetSession", json={}).status_code == 404  # C08: reaches the query (≈v4.0)
    assert http.post(V2 + "GetSession", json={"sessionId": 5}).status_code == 400


JSON_VALUES = st.recursive(
    st.none() | st.text(max_size=8) | st.integers(),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["sessionId", "sessionToken", "checks", "metadata", "x"]), children, max_size=4
        )
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=60), JSON_VALUES.map(lambda value: json.dumps(value).encode())))
def test_malformed_requests_get_a_connect_4xx(http: httpx.Client, body: bytes) -> None:
    for rpc in ("CreateSession", "GetSession", "ListSessions", "SetSession", "DeleteSession"):
        answer = http.post(V2 + rpc, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code < 500, (rpc, body, answer.text)
        if answer.status_code >= 400:
            _is_connect_error(answer)


def _made_over_connect_unknown_to_rest(h: httpx.Client) -> bool:
    created = h.post(V2 + "CreateSession", json={}).json()
    return h.get("/v2/sessions/" + created["sessionId"]).status_code == 404


FAULT_PROBES: dict[str, Callable[[httpx.Client], bool]] = {
    "ztd-connect-rpc-status": lambda h: isinstance(
        h.post(V2 + "GetSession", json={"sessionId": "1"}).json()["code"], int
    ),
    "ztd-connect-create-201": lambda h: h.post(V2 + "CreateSession", json={}).status_code == 201,
    "ztd-connect-missing-type-json": lambda h: h.post(V2 + "ListSessions", content=b"{}").status_code == 200,
    "ztd-connect-405-body": lambda h: h.get(V2 + "GetSession").content != b"",
    "ztd-connect-empty-body-ok": lambda h: (
        h.post(V2 + "ListSessions", content=b"", headers=JSON).status_code == 200
    ),
    "ztd-connect-protocol-header-required": lambda h: h.post(V2 + "ListSessions", json={}).status_code == 400,
    "ztd-connect-separate-store": _made_over_connect_unknown_to_rest,
    "ztd-connect-timeout-unparsed": lambda h: (
        h.post(V2 + "ListSessions", json={}, headers={"Connect-Timeout-Ms": "soon"}).status_code == 200
    ),
}


@contextmanager
def _primary(**switches: list[str]) -> Iterator[httpx.Client]:
    with (
        EmbeddedServer(**switches) as srv,  # type: ignore[arg-type]
        httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.primary_token}"}) as client,
    ):
        yield client


def test_every_connect_fault_has_a_probe() -> None:
    assert sorted(FAULT_PROBES) == sorted(name for name in all_faults() if name.startswith("ztd-connect-"))


@pytest.mark.parametrize("fault", sorted(FAULT_PROBES))
def test_each_connect_fault_changes_what_a_client_sees(fault: str, http: httpx.Client) -> None:
    assert not FAULT_PROBES[fault](http), f"the conformant server already shows {fault}"
    with _primary(faults=[fault]) as faulty:
        assert FAULT_PROBES[fault](faulty)


def test_connect_variants() -> None:
    with _primary(
        variants=["ztd-connect-details-type-url", "ztd-connect-no-debug", "ztd-connect-get-empty-id-400"]
    ) as h:
        detail = h.post(V2 + "GetSession", json={"sessionId": "1"}).json()["details"][0]
        assert detail["type"] == "type.googleapis.com/zitadel.v1.ErrorDetail" and "debug" not in detail
        assert h.post(V2 + "GetSession", json={"sessionId": ""}).status_code == 400


def test_connect_absent_is_a_pre_v4_router_404() -> None:
    with _primary(variants=["ztd-connect-absent"]) as h:
        answer = h.post(V2 + "ListSessions", json={})
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/plain")
        assert h.post("/v2/sessions/search", json={}).status_code == 200  # REST stays


def test_an_unknown_http_method_is_a_bare_405(http: httpx.Client) -> None:
    answer = http.request("QUERY", V2 + "GetSession", json={})
    assert (answer.status_code, answer.headers.get("allow"), answer.content) == (405, "POST", b"")
