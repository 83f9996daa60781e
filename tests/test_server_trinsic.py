"""The embedded Trinsic server over real sockets: contracts, odd input, limits, concurrency, faults."""

from __future__ import annotations

import json
import re
import time
import uuid
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_conformance.contracts import load_contracts
from session_conformance.server import EmbeddedServer
from session_conformance.server.app import create_app
from session_conformance.server.catalogue import all_faults, all_variants
from session_conformance.server.state import HOOK_PATH
from session_conformance.server.trinsic import variants as V

with warnings.catch_warnings():  # starlette's TestClient warns about httpx, which is what it runs on here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

P = "/api/v1/sessions"
HOSTED_FLOW = ["LaunchBrowser", "CaptureRedirect"]
REDIRECT = "https://example.test/done"
TRN_FAULTS = sorted(name for name in all_faults() if name.startswith("trn-"))
FAST = settings(
    max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)

OPERATIONS = {  # (method, path pattern) -> operationId
    ("POST", re.compile(r"^/api/v1/sessions/widget$")): "createWidgetSession",
    ("POST", re.compile(r"^/api/v1/sessions/provider/hosted$")): "createHostedProviderSession",
    ("POST", re.compile(r"^/api/v1/sessions/provider/advanced$")): "createAdvancedProviderSession",
    ("GET", re.compile(r"^/api/v1/sessions/list$")): "listSessions",
    ("GET", re.compile(r"^/api/v1/sessions/[^/]+$")): "getSession",
    ("POST", re.compile(r"^/api/v1/sessions/[^/]+/cancel$")): "cancelSession",
    ("POST", re.compile(r"^/api/v1/sessions/[^/]+/redact$")): "redactSession",
    ("POST", re.compile(r"^/api/v1/sessions/[^/]+/results$")): "getSessionResult",
    ("POST", re.compile(r"^/api/v1/sessions/[^/]+/step/refresh$")): "refreshStepContent",
}


def operation_of(method: str, path: str) -> str | None:
    for (m, pattern), operation_id in OPERATIONS.items():
        if m == method and pattern.match(path):
            return operation_id
    return None


def assert_conforms(response: httpx.Response) -> None:
    """No 5xx, errors are ProblemDetails, and the answer validates against its contract."""
    request = response.request
    assert response.status_code < 500, (
        f"{request.method} {request.url} -> {response.status_code} {response.text}"
    )
    if response.status_code >= 400 and response.status_code != 401:
        assert response.headers["content-type"] == "application/problem+json", response.text
        assert isinstance(response.json(), dict)
    operation_id = operation_of(request.method, request.url.path)
    contracts = load_contracts()
    key = f"trinsic:{operation_id}"
    if operation_id is None or key not in contracts.operations:
        return  # a contract still being written (contracts/trinsic/) is checked once it lands
    body = response.json() if response.content else None
    errors = contracts.validate_response(contracts.operations[key], response.status_code, body)
    assert not errors, f"{request.method} {request.url.path} -> {response.status_code}: {errors}"


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


def finish(client: httpx.Client, session_id: str, success: bool = True) -> str:
    params: dict[str, Any] = {"session_id": session_id, "success": success}
    if not success:
        params["error_code"] = "Expired"
    response = client.post(HOOK_PATH, json={"state": "trinsic session finished", "params": params})
    assert response.status_code == 200, response.text
    return response.json()["results_access_key"]


# --- generated traffic ---------------------------------------------------------------------------

TEXT = st.text(max_size=20)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(TEXT, c, max_size=3),
    max_leaves=8,
)
PROVIDERS = st.sampled_from(
    [
        "conformance-test",
        "conformance-test-mobile",
        "conformance-test-content",
        "f-indonesia-nik",
        "b-philsys-biometric",
        "nope",
        "",
    ]
)
CAPS = st.lists(
    st.sampled_from(
        [
            "LaunchBrowser",
            "DeeplinkToMobile",
            "ShowContent",
            "RefreshStepContent",
            "CaptureRedirect",
            "PollResult",
            "Teleport",
        ]
    ),
    max_size=6,
)
BODIES = {
    "widget": st.fixed_dictionaries(
        {},
        optional={
            "redirectUrl": st.none() | TEXT,
            "providers": st.none() | st.lists(PROVIDERS, max_size=3),
            "knownIdentityData": st.none() | JSON,
        },
    ),
    "provider/hosted": st.fixed_dictionaries(
        {},
        optional={"provider": PROVIDERS, "redirectUrl": st.none() | TEXT, "providerInput": st.none() | JSON},
    ),
    "provider/advanced": st.fixed_dictionaries(
        {},
        optional={
            "provider": PROVIDERS,
            "capabilities": CAPS,
            "redirectUrl": st.none() | st.just(REDIRECT) | TEXT,
            "fallbackToHostedUI": st.none() | st.booleans(),
            "providerInput": st.none() | JSON,
        },
    ),
}


@FAST
@given(kind=st.sampled_from(sorted(BODIES)), data=st.data())
def test_generated_creates_conform(pri: httpx.Client, kind: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[kind])
    response = pri.post(f"{P}/{kind}", json=body)
    assert_conforms(response)
    if response.status_code == 200:
        session_id = response.json()["sessionId"]
        assert_conforms(pri.get(f"{P}/{session_id}"))
        assert "launchUrl" not in pri.get(f"{P}/{session_id}").text


@FAST
@given(
    steps=st.lists(
        st.sampled_from(["get", "cancel", "redact", "results", "refresh", "finish", "list"]),
        min_size=1,
        max_size=8,
    ),
    params=st.dictionaries(
        st.sampled_from(["OrderBy", "OrderDirection", "PageSize", "Page", "pagesize"]),
        st.sampled_from(
            ["Created", "Updated", "State", "Ascending", "Descending", "0", "1", "7", "50", "51", "x", ""]
        ),
        max_size=4,
    ),
)
def test_generated_sequences_conform(pri: httpx.Client, steps: list[str], params: dict[str, str]) -> None:
    created = pri.post(
        f"{P}/provider/advanced",
        json={"provider": "conformance-test-content", "capabilities": ["ShowContent", "PollResult"]},
    )
    assert_conforms(created)
    sid, key = created.json()["sessionId"], created.json()["resultCollection"]["resultsAccessKey"]
    finished = False
    for step in steps:
        if step == "finish" and not finished:
            key, finished = finish(pri, sid), True
            continue
        response = {
            "get": lambda: pri.get(f"{P}/{sid}"),
            "cancel": lambda: pri.post(f"{P}/{sid}/cancel"),
            "redact": lambda: pri.post(f"{P}/{sid}/redact"),
            "results": lambda k=key: pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": k}),
            "refresh": lambda k=key: pri.post(f"{P}/{sid}/step/refresh", json={"resultsAccessKey": k}),
            "finish": lambda: pri.get(f"{P}/{sid}"),
            "list": lambda: pri.get(f"{P}/list", params=params),
        }[step]()
        assert_conforms(response)
        if step == "cancel":
            finished = True
        if step in ("get", "cancel"):
            session = response.json()["session"]
            assert session["updated"] >= session["created"]
            assert not session["success"] or session["done"]
            assert session["errorCode"] is None or session["done"]


# --- odd input -----------------------------------------------------------------------------------

BODY_PATHS = [
    f"{P}/widget",
    f"{P}/provider/hosted",
    f"{P}/provider/advanced",
    f"{P}/{uuid.uuid4()}/results",
    f"{P}/{uuid.uuid4()}/step/refresh",
]
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "text/json",
        "application/problem+json",
        "application/json; charset=utf-8",
        "text/plain",
        "",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json\u00e9".encode("latin-1"),
    ]
)


@FAST
@given(
    path=st.sampled_from(BODY_PATHS),
    raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
)
def test_malformed_input_is_never_a_server_error(
    pri: httpx.Client, path: str, raw: bytes, content_type: str | bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = pri.post(path, content=raw, headers=headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


@FAST
@given(query=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
def test_odd_query_strings_are_never_a_server_error(pri: httpx.Client, query: str) -> None:
    response = pri.get(f"{P}/list?{query}")
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"a":"\\ud800"}',
        b"\xff\xfe{",
        b'{"provider": 1e999, "redirectUrl": 1e999}',
        b'{"redirectUrl": NaN, "x": Infinity}',
        b'{"provider":"' + b"x" * (2 << 20) + b'"}',
        b"NaN",
        b"{}" * 3,
    ],
)
def test_pathological_bodies(pri: httpx.Client, raw: bytes) -> None:
    for path in BODY_PATHS:
        response = pri.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_accepted_media_types(pri: httpx.Client) -> None:
    for media in (
        "application/json",
        "text/json",
        "application/merge-patch+json",
        "Application/JSON; charset=utf-8",
    ):
        response = pri.post(f"{P}/widget", content=b"{}", headers={"Content-Type": media})
        assert response.status_code == 200, (media, response.text)
    response = pri.post(f"{P}/widget", content=b"{}", headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
    for headers in ({}, {"Content-Type": "application/json"}, {"Content-Type": "text/html"}):
        assert pri.post(f"{P}/{sid}/cancel", headers=headers).status_code == 200
        assert pri.get(f"{P}/{sid}", headers=headers).status_code == 200


def test_auth(server: EmbeddedServer) -> None:
    for token in (None, "nope"):
        with client_for(server, token) as anon:
            response = anon.get(f"{P}/list")
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert response.content == b""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Basic {server.primary_token}"}
    ) as basic:
        assert basic.get(f"{P}/list").status_code == 401


def test_unknown_session_and_wrong_key_are_the_same_404(pri: httpx.Client) -> None:
    sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
    key = finish(pri, sid)
    wrong = pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key + "x"})
    unknown = pri.post(f"{P}/{uuid.uuid4()}/results", json={"resultsAccessKey": key})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.content == unknown.content
    assert pri.get(f"{P}/{uuid.uuid4()}").content == unknown.content


# --- limits, isolation, concurrency ----------------------------------------------------------------


def test_eviction_cap() -> None:
    with EmbeddedServer(max_sessions=5) as small, client_for(small, small.primary_token) as client:
        ids = [client.post(f"{P}/widget", json={}).json()["sessionId"] for _ in range(8)]
        listing = client.get(f"{P}/list").json()
        assert listing["total"] == 5
        assert [s["id"] for s in listing["sessions"]] == ids[:2:-1]
        assert all(client.get(f"{P}/{sid}").status_code == 404 for sid in ids[:3])
        assert all(client.get(f"{P}/{sid}").status_code == 200 for sid in ids[3:])


def test_account_isolation(server: EmbeddedServer, pri: httpx.Client, sec: httpx.Client) -> None:
    sid = pri.post(
        f"{P}/provider/advanced",
        json={"provider": "conformance-test-content", "capabilities": ["ShowContent", "PollResult"]},
    ).json()["sessionId"]
    key = finish(pri, sid)
    assert sid not in sec.get(f"{P}/list", params={"PageSize": 50}).text
    for response in (
        sec.get(f"{P}/{sid}"),
        sec.post(f"{P}/{sid}/cancel"),
        sec.post(f"{P}/{sid}/redact"),
        sec.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}),
        sec.post(f"{P}/{sid}/step/refresh", json={}),
    ):
        assert response.status_code == 404
    assert pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}).json()["identityData"] is not None
    other_hook = sec.post(
        HOOK_PATH, json={"state": "trinsic session finished", "params": {"session_id": sid, "success": True}}
    )
    assert other_hook.status_code == 404


def test_concurrent_clients() -> None:
    with EmbeddedServer() as fresh:

        def work(_: int) -> list[str]:
            with client_for(fresh, fresh.primary_token) as client:
                ids = []
                for _ in range(25):
                    created = client.post(f"{P}/widget", json={})
                    assert created.status_code == 200
                    ids.append(created.json()["sessionId"])
                    assert client.get(f"{P}/list", params={"PageSize": 5}).status_code == 200
                    assert client.post(f"{P}/{ids[-1]}/cancel").status_code == 200
                return ids

        with ThreadPoolExecutor(max_workers=8) as pool:
            ids = [sid for chunk in pool.map(work, range(8)) for sid in chunk]
        assert len(set(ids)) == 200
        with client_for(fresh, fresh.primary_token) as client:
            listed = [
                s
                for page in range(1, 5)
                for s in client.get(f"{P}/list", params={"PageSize": 50, "Page": page}).json()["sessions"]
            ]
        assert sorted(s["id"] for s in listed) == sorted(ids)
        assert all(s["errorCode"] == "Canceled" for s in listed)


def test_hook_refuses_bad_params(pri: httpx.Client) -> None:
    sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
    for params in (
        {},
        {"session_id": sid},
        {"session_id": sid, "success": "yes"},
        {"session_id": sid, "success": False, "error_code": "Nope"},
    ):
        response = pri.post(HOOK_PATH, json={"state": "trinsic session finished", "params": params})
        assert response.status_code == 400, params
    finish(pri, sid)
    again = pri.post(
        HOOK_PATH, json={"state": "trinsic session finished", "params": {"session_id": sid, "success": True}}
    )
    assert again.status_code == 409


# --- faults: every one changes what a scripted client observes -------------------------------------


_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}")


def _shape(value: Any) -> Any:
    """A body with its random parts (ids, keys, nonces, times) replaced by their kind."""
    if isinstance(value, dict):
        return {
            k: _shape(v)
            for k, v in value.items()
            if k not in ("created", "updated", "expiresAt", "refreshAfter")
        }
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, str):
        try:
            uuid.UUID(value)
            return "<uuid>" if len(value) == 36 else "<hex>"
        except ValueError:
            return _TOKEN.sub("<tok>", value)
    return value


def observe(faults: tuple[str, ...]) -> list[Any]:
    """Run one scripted scenario over every operation and record what a client can see."""
    seen: list[Any] = []
    with (
        EmbeddedServer(faults=faults) as srv,
        client_for(srv, srv.primary_token) as c,
        client_for(srv, srv.other_token) as o,
        client_for(srv, None) as anon,
    ):

        def note(label: str, r: httpx.Response) -> Any:
            body = r.json() if r.content and "json" in r.headers.get("content-type", "") else r.text
            seen.append((label, r.status_code, r.headers.get("content-type"), _shape(body)))
            if isinstance(body, dict):
                for s in [body.get("session"), *(body.get("sessions") or [])]:
                    if isinstance(s, dict):
                        seen.append(
                            (label, "updated-created", s["updated"] >= s["created"])
                        )  # a difference crosses second boundaries
                        seen.append((label, "unix-seconds", abs(s["created"] - time.time()) < 86_400))
                step = body.get("nextStep")
                if isinstance(step, dict) and step.get("refresh"):
                    info = step["refresh"]
                    seen.append((label, "refresh-order", info["refreshAfter"] <= info["expiresAt"]))
            return body

        note("anon", anon.get(f"{P}/list"))
        note("size0", c.get(f"{P}/list", params={"PageSize": 0}))
        w1 = note("widget", c.post(f"{P}/widget", json={}))["sessionId"]
        note("widget-providers", c.post(f"{P}/widget", json={"providers": ["conformance-test"]}))
        note(
            "widget-known", c.post(f"{P}/widget", json={"knownIdentityData": {"person": {"givenName": "A"}}})
        )
        note(
            "hosted",
            c.post(f"{P}/provider/hosted", json={"provider": "conformance-test", "redirectUrl": REDIRECT}),
        )
        note("hosted-no-redirect", c.post(f"{P}/provider/hosted", json={"provider": "conformance-test"}))
        note(
            "hosted-bad-nik",
            c.post(
                f"{P}/provider/hosted",
                json={
                    "provider": "f-indonesia-nik",
                    "redirectUrl": REDIRECT,
                    "providerInput": {
                        "indonesiaNik": {"fullName": "A", "dateOfBirth": "2000-01-01", "nikIdNumber": "1"}
                    },
                },
            ),
        )
        note(
            "hosted-cnh-gif",
            c.post(
                f"{P}/provider/hosted",
                json={
                    "provider": "g-brazil-digital-cnh",
                    "redirectUrl": REDIRECT,
                    "providerInput": {
                        "brazilDigitalCnh": {"cpfNumber": "12345678909", "digitalCnhFileContentType": "x/y"}
                    },
                },
            ),
        )
        note(
            "adv-empty",
            c.post(f"{P}/provider/advanced", json={"provider": "conformance-test", "capabilities": []}),
        )
        note(
            "adv-mobile",
            c.post(
                f"{P}/provider/advanced",
                json={
                    "provider": "conformance-test-mobile",
                    "capabilities": ["DeeplinkToMobile", "PollResult"],
                },
            ),
        )
        every = [
            "LaunchBrowser",
            "DeeplinkToMobile",
            "ShowContent",
            "RefreshStepContent",
            "CaptureRedirect",
            "PollResult",
        ]
        note(
            "adv-mobile-all",
            c.post(
                f"{P}/provider/advanced",
                json={"provider": "conformance-test-mobile", "capabilities": every, "redirectUrl": REDIRECT},
            ),
        )
        note(
            "adv-gap",
            c.post(
                f"{P}/provider/advanced",
                json={
                    "provider": "conformance-test-mobile",
                    "capabilities": HOSTED_FLOW,
                    "redirectUrl": REDIRECT,
                },
            ),
        )
        note(
            "adv-fallback",
            c.post(
                f"{P}/provider/advanced",
                json={
                    "provider": "conformance-test-mobile",
                    "capabilities": HOSTED_FLOW,
                    "redirectUrl": REDIRECT,
                    "fallbackToHostedUI": True,
                },
            ),
        )
        note(
            "adv-fallback-own-collection",
            c.post(
                f"{P}/provider/advanced",
                json={
                    "provider": "conformance-test-mobile",
                    "capabilities": [*HOSTED_FLOW, "PollResult"],
                    "redirectUrl": REDIRECT,
                    "fallbackToHostedUI": True,
                },
            ),
        )
        note(
            "adv-fallback-no-url",
            c.post(
                f"{P}/provider/advanced",
                json={
                    "provider": "conformance-test-mobile",
                    "capabilities": HOSTED_FLOW,
                    "fallbackToHostedUI": True,
                },
            ),
        )
        note(
            "adv-redirect-no-url",
            c.post(
                f"{P}/provider/advanced", json={"provider": "conformance-test", "capabilities": HOSTED_FLOW}
            ),
        )
        note(
            "adv-redirect",
            c.post(
                f"{P}/provider/advanced",
                json={"provider": "conformance-test", "capabilities": HOSTED_FLOW, "redirectUrl": REDIRECT},
            ),
        )
        content = note(
            "adv-content",
            c.post(
                f"{P}/provider/advanced",
                json={"provider": "conformance-test-content", "capabilities": ["ShowContent", "PollResult"]},
            ),
        )
        refreshed = note("refresh", c.post(f"{P}/{content['sessionId']}/step/refresh", json={}))
        seen.append(("refresh-new", refreshed["nextStep"]["content"] != content["nextStep"]["content"]))
        note("get", c.get(f"{P}/{w1}"))
        key = finish(c, w1)
        note("results", c.post(f"{P}/{w1}/results", json={"resultsAccessKey": key}))
        note("results-wrong", c.post(f"{P}/{w1}/results", json={"resultsAccessKey": key + "x"}))
        w2 = c.post(f"{P}/widget", json={}).json()["sessionId"]
        finish(c, w2, success=False)
        note("failed", c.get(f"{P}/{w2}"))
        w3 = c.post(f"{P}/widget", json={}).json()["sessionId"]
        note("cancel", c.post(f"{P}/{w3}/cancel"))
        for order_by in ("Created", "Updated", "State"):
            for direction in ("Ascending", "Descending"):
                listing = note(
                    f"list-{order_by}-{direction}",
                    c.get(
                        f"{P}/list", params={"OrderBy": order_by, "OrderDirection": direction, "PageSize": 50}
                    ),
                )
                ids = [s["id"] for s in listing["sessions"]]
                seen.append((order_by, direction, ids.index(w3) if w3 in ids else None))
        for page in (1, 2, 3):
            listing = note(f"page-{page}", c.get(f"{P}/list", params={"PageSize": 4, "Page": page}))
            seen.append(("page", page, listing["total"], listing["more"], len(listing["sessions"])))
        note("size51", c.get(f"{P}/list", params={"PageSize": 51}))
        note("redact", c.post(f"{P}/{w1}/redact"))
        for attempt in (1, 2):
            note(f"after-redact-{attempt}", c.post(f"{P}/{w1}/results", json={"resultsAccessKey": key}))
        seen.append(("foreign-list", w3 in o.get(f"{P}/list").text))
        note("foreign-get", o.get(f"{P}/{w1}"))
        w4 = c.post(f"{P}/widget", json={}).json()["sessionId"]
        note("foreign-cancel", o.post(f"{P}/{w4}/cancel"))
        note("after-foreign-cancel", c.get(f"{P}/{w4}"))
        note("malformed", c.post(f"{P}/widget", content=b"{", headers={"Content-Type": "application/json"}))
    return seen


def test_observations_are_deterministic() -> None:
    assert observe(()) == observe(())


@pytest.fixture(scope="module")
def clean_observation() -> list[Any]:
    return observe(())


@pytest.mark.parametrize("fault", TRN_FAULTS)
def test_each_fault_changes_behaviour(fault: str, clean_observation: list[Any]) -> None:
    assert observe((fault,)) != clean_observation, f"{fault} changed nothing a client can observe"


# --- variants: other legitimate readings (trinsic/variants.py) -------------------------------------


@contextmanager
def variant_clients(*variants: str) -> Iterator[tuple[TestClient, TestClient]]:
    """The app in-process with ``variants`` on: the primary and the other account's clients."""
    app = create_app(variants=variants)
    state = app.state.conformance
    with TestClient(app, base_url="http://testserver") as primary, TestClient(app) as other:
        primary.headers["Authorization"] = f"Bearer {state.accounts[0].token}"
        other.headers["Authorization"] = f"Bearer {state.accounts[1].token}"
        yield primary, other


def test_every_trinsic_variant_is_registered_with_a_source() -> None:
    trn = {name: v for name, v in all_variants().items() if name.startswith("trn-")}
    assert len(trn) >= 20
    for variant in trn.values():
        assert variant.source and variant.description
        assert all(rule.startswith("TRN-") for rule in variant.rules)


def test_variant_unknown_400_and_foreign_403() -> None:
    with variant_clients(V.UNKNOWN_400, V.FOREIGN_403) as (pri, sec):
        unknown = pri.get(f"{P}/{uuid.uuid4()}")
        assert unknown.status_code == 400 and unknown.json()["status"] == 400
        foreign = sec.post(f"{P}/widget", json={}).json()["sessionId"]
        for response in (pri.get(f"{P}/{foreign}"), pri.post(f"{P}/{foreign}/cancel")):
            assert response.status_code == 403
            assert "session" not in response.json()
        assert sec.get(f"{P}/{foreign}").json()["session"]["done"] is False


def test_variant_wrong_key_400_keeps_unknown_404() -> None:
    with variant_clients(V.WRONG_KEY_400) as (pri, _):
        sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
        key = finish(pri, sid)
        assert pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key + "x"}).status_code == 400
        assert pri.post(f"{P}/{uuid.uuid4()}/results", json={"resultsAccessKey": key}).status_code == 404
        assert pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}).status_code == 200


def _content_session(client: TestClient) -> tuple[str, str]:
    body = {"provider": "conformance-test-content", "capabilities": ["ShowContent", "PollResult"]}
    created = client.post(f"{P}/provider/advanced", json=body).json()
    return created["sessionId"], created["resultCollection"]["resultsAccessKey"]


def test_variant_refresh_key_required() -> None:
    with variant_clients(V.REFRESH_KEY_REQUIRED) as (pri, _):
        sid, key = _content_session(pri)
        assert pri.post(f"{P}/{sid}/step/refresh", json={}).status_code == 400
        assert pri.post(f"{P}/{sid}/step/refresh", json={"resultsAccessKey": key}).status_code == 200


def test_variant_redact_204_and_finished_refuses() -> None:
    with variant_clients(V.REDACT_204, V.FINISHED_REFUSES) as (pri, _):
        sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
        finish(pri, sid)
        first = pri.post(f"{P}/{sid}/redact")
        assert first.status_code == 204 and first.content == b""
        assert pri.post(f"{P}/{sid}/redact").status_code == 400
        before = pri.get(f"{P}/{sid}").json()["session"]
        refused = pri.post(f"{P}/{sid}/cancel")
        assert refused.status_code == 400 and refused.headers["content-type"] == "application/problem+json"
        assert pri.get(f"{P}/{sid}").json()["session"] == before


def test_variant_redact_needs_finished() -> None:
    with variant_clients(V.REDACT_NEEDS_FINISHED) as (pri, _):
        sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
        assert pri.post(f"{P}/{sid}/redact").status_code == 400
        assert pri.post(f"{P}/{sid}/cancel").status_code == 200
        assert pri.post(f"{P}/{sid}/redact").status_code == 200
        assert pri.post(f"{P}/{sid}/redact").status_code == 200  # repeatable once finished


def test_variant_refresh_omitted_and_omit_nulls() -> None:
    with variant_clients(V.REFRESH_OMITTED, V.OMIT_NULLS) as (pri, _):
        body = {"provider": "conformance-test", "capabilities": HOSTED_FLOW, "redirectUrl": REDIRECT}
        created = pri.post(f"{P}/provider/advanced", json=body).json()
        assert "refresh" not in created["nextStep"]
        assert "resultsAccessKey" not in created["resultCollection"]
        assert "errorCode" not in pri.get(f"{P}/{created['sessionId']}").json()["session"]
        sid, _key = _content_session(pri)  # refreshable content keeps its refresh object
        assert isinstance(pri.post(f"{P}/{sid}/step/refresh", json={}).json()["nextStep"]["refresh"], dict)


def test_variant_upper_case_ids() -> None:
    with variant_clients(V.UPPER_CASE_IDS) as (pri, _):
        sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
        assert sid == sid.upper() and uuid.UUID(sid)
        assert pri.get(f"{P}/{sid}").json()["session"]["id"] == sid
        assert pri.get(f"{P}/{sid.lower()}").status_code == 200
        key = finish(pri, sid)
        assert pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}).status_code == 200


def test_variant_empty_body_is_an_empty_object() -> None:
    with variant_clients(V.EMPTY_BODY_IS_OBJECT) as (pri, _):
        assert pri.post(f"{P}/widget", content=b"").status_code == 200
        assert pri.post(f"{P}/provider/hosted", content=b"").status_code == 400
        assert pri.post(f"{P}/{uuid.uuid4()}/results", content=b"").status_code == 400  # key still required
        assert (
            pri.post(f"{P}/widget", content=b" ", headers={"Content-Type": "application/json"}).status_code
            == 400
        )


def test_variant_text_plain() -> None:
    with variant_clients(V.TEXT_PLAIN) as (pri, _):
        ok = pri.post(f"{P}/widget", json={})
        bad = pri.get(f"{P}/list", params={"PageSize": 0})
        for response in (ok, bad):
            assert response.headers["content-type"].startswith("text/plain")
            assert isinstance(response.json(), dict)
        redact = pri.post(f"{P}/{uuid.uuid4()}/redact")  # redact documents application/json only
        assert redact.headers["content-type"] == "application/problem+json"


def test_variant_launch_url_absent_only_without_interaction() -> None:
    nik = {"fullName": "Ada Lovelace", "dateOfBirth": "1815-12-10", "nikIdNumber": "3174012345678901"}
    with variant_clients(V.LAUNCH_URL_ABSENT) as (pri, _):
        lookup = pri.post(
            f"{P}/provider/hosted",
            json={
                "provider": "f-indonesia-nik",
                "redirectUrl": REDIRECT,
                "providerInput": {"indonesiaNik": nik},
            },
        ).json()
        assert "launchUrl" not in lookup and lookup["sessionId"]
        hosted = pri.post(
            f"{P}/provider/hosted", json={"provider": "conformance-test", "redirectUrl": REDIRECT}
        )
        assert hosted.json()["launchUrl"].startswith("https://")
        assert pri.post(f"{P}/widget", json={}).json()["launchUrl"].startswith("https://")


def test_variant_query_case_sensitive_and_page_size_25() -> None:
    with variant_clients(V.QUERY_CASE_SENSITIVE, V.PAGE_SIZE_25) as (pri, _):
        for _ in range(30):
            pri.post(f"{P}/widget", json={})
        assert len(pri.get(f"{P}/list").json()["sessions"]) == 25
        assert len(pri.get(f"{P}/list", params={"pagesize": 2}).json()["sessions"]) == 25  # not bound
        assert pri.get(f"{P}/list", params={"pagesize": 0}).status_code == 200  # ignored, not refused
        assert len(pri.get(f"{P}/list", params={"PageSize": 2}).json()["sessions"]) == 2


def test_variant_state_order() -> None:
    with variant_clients(V.STATE_ORDER) as (pri, _):
        open_, failed = (pri.post(f"{P}/widget", json={}).json()["sessionId"] for _ in range(2))
        pri.post(f"{P}/{failed}/cancel")
        listed = pri.get(f"{P}/list", params={"OrderBy": "State", "OrderDirection": "Ascending"}).json()
        assert [s["id"] for s in listed["sessions"]] == [failed, open_]


def test_variant_detail_quotes_request_and_validation_problem() -> None:
    with variant_clients(V.DETAIL_QUOTES) as (pri, _):
        sid = str(uuid.uuid4())
        assert sid in pri.get(f"{P}/{sid}").json()["detail"]
        assert "'51'" in pri.get(f"{P}/list", params={"PageSize": 51}).json()["detail"].replace('"', "'")
    with variant_clients(V.VALIDATION_PROBLEM) as (pri, _):
        body = pri.get(f"{P}/list", params={"PageSize": 51}).json()
        assert body["status"] == 400 and "PageSize" in body["errors"] and "traceId" in body
        assert "detail" not in body


def test_variant_extra_properties() -> None:
    with variant_clients(V.EXTRA_PROPERTIES) as (pri, _):
        created = pri.post(f"{P}/widget", json={}).json()
        assert "provider" in pri.get(f"{P}/{created['sessionId']}").json()["session"]
        key = finish(pri, created["sessionId"])
        assert created["resultsAccessKey"] == key
        identity = pri.post(f"{P}/{created['sessionId']}/results", json={"resultsAccessKey": key}).json()
        assert identity["identityData"]["originatingSubProviderId"]


def test_variant_auth_problem_body() -> None:
    app = create_app(variants=[V.AUTH_PROBLEM])
    with TestClient(app) as anon:
        missing = anon.get(f"{P}/list")
        unknown = anon.get(f"{P}/list", headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, unknown.status_code) == (401, 403)
    for response in (missing, unknown):
        assert "www-authenticate" not in response.headers
        assert response.json()["status"] == response.status_code


def test_variant_no_max_length() -> None:
    long_url = "https://example.test/" + "r" * 200_000
    with variant_clients(V.NO_MAX_LENGTH) as (pri, _):
        assert pri.post(f"{P}/widget", json={"redirectUrl": long_url}).status_code == 200
    with variant_clients() as (pri, _):
        assert pri.post(f"{P}/widget", json={"redirectUrl": long_url}).status_code == 400


def test_all_variants_together_still_serve_a_lifecycle() -> None:
    with variant_clients("all") as (pri, _):
        sid = pri.post(f"{P}/widget", json={}).json()["sessionId"]
        key = finish(pri, sid)
        assert pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}).json()["identityData"]
        assert pri.post(f"{P}/{sid}/redact").status_code == 204
        assert "identityData" not in pri.post(f"{P}/{sid}/results", json={"resultsAccessKey": key}).json()


def test_variant_list_hides_redacted() -> None:
    with variant_clients(V.LIST_HIDES_REDACTED) as (pri, _):
        kept, redacted = (pri.post(f"{P}/widget", json={}).json()["sessionId"] for _ in range(2))
        pri.post(f"{P}/{redacted}/redact")
        listed = pri.get(f"{P}/list").json()
        assert [s["id"] for s in listed["sessions"]] == [kept] and listed["total"] == 1
        assert pri.get(f"{P}/{redacted}").status_code == 200
