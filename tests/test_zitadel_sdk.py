"""The official Python SDK (zitadel-client 4.x, Connect only) against `session-conformance serve`.

All five RPCs of both services (``Zitadel.sessions`` v2, ``Zitadel.beta_sessions`` v2beta) run against a
served server reached only through what ``serve`` printed; every answer must deserialise into the SDK's
models, and an error must come back as its ``ApiError`` with the Connect error body.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():  # zitadel-client 4.1.9 imports authlib.jose, which warns on import
    warnings.simplefilter("ignore")
    zitadel_client = pytest.importorskip("zitadel_client")
    from zitadel_client import ApiError, Zitadel
    from zitadel_client import models as m

from session_conformance.served import ServedServer


@pytest.fixture(scope="module")
def served() -> Iterator[ServedServer]:
    with ServedServer() as server:
        yield server


def _client(base_url: str, token: str) -> Zitadel:
    client = Zitadel.with_access_token(base_url, token)
    # zitadel-client 4.1.9 always hands urllib3 `ca_cert_data` (None here), which urllib3 < 2.1 cannot
    # key its pools by; the dev environment holds urllib3 < 2.1 because trinsic-api 2.0.0a3 pins it
    pool = client.sessions.api_client.rest_client.pool_manager
    if pool.connection_pool_kw.get("ca_cert_data", "") is None:
        del pool.connection_pool_kw["ca_cert_data"]
    return client


@pytest.fixture(scope="module")
def sdk(served: ServedServer) -> Zitadel:
    return _client(served.env["CONFORMANCE_BASE_URL"], served.env["CONFORMANCE_TOKEN"])


def _user(served: ServedServer) -> dict[str, str]:
    answer = httpx.post(
        served.env["CONFORMANCE_PROVIDER_STATE_URL"],
        json={"state": "zitadel user exists", "params": {}},
        headers={"Authorization": f"Bearer {served.env['CONFORMANCE_TOKEN']}"},
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("beta", [False, True], ids=["v2", "v2beta"])
def test_all_five_rpcs(sdk: Zitadel, served: ServedServer, beta: bool) -> None:
    api: Any = sdk.beta_sessions if beta else sdk.sessions
    p = "BetaSessionService" if beta else "SessionService"
    model = lambda name: getattr(m, p + name)  # noqa: E731  (the v2 and v2beta models differ by prefix)
    user = _user(served)
    created = api.create_session(
        model("CreateSessionRequest")(
            checks=model("Checks")(
                user=model("CheckUser")(login_name=user["login_name"]),
                password=model("CheckPassword")(password=user["password"]),
            ),
            metadata={"app": _b64("sdk")},
            lifetime="600s",
        )
    )
    assert isinstance(created, model("CreateSessionResponse")), created  # None would mean a 2xx != 200
    assert created.session_id and created.session_token and created.details is not None

    got = api.get_session(
        model("GetSessionRequest")(session_id=created.session_id, session_token=created.session_token)
    )
    assert isinstance(got, model("GetSessionResponse"))
    assert got.session.id == created.session_id
    assert got.session.factors.user.id == user["user_id"] and got.session.factors.password.verified_at
    assert got.session.metadata == {"app": _b64("sdk")}

    changed = api.set_session(
        model("SetSessionRequest")(
            session_id=created.session_id, metadata={"more": _b64("x")}, lifetime="900s"
        )
    )
    assert isinstance(changed, model("SetSessionResponse"))
    assert changed.session_token and changed.session_token != created.session_token

    listed = api.list_sessions(
        model("ListSessionsRequest")(
            queries=[model("SearchQuery")(ids_query=model("IDsQuery")(ids=[created.session_id]))]
        )
    )
    assert isinstance(listed, model("ListSessionsResponse"))
    assert [s.id for s in listed.sessions] == [created.session_id]
    assert int(listed.details.total_result) == 1

    deleted = api.delete_session(
        model("DeleteSessionRequest")(session_id=created.session_id, session_token=changed.session_token)
    )
    assert isinstance(deleted, model("DeleteSessionResponse"))

    with pytest.raises(ApiError) as raised:
        api.get_session(model("GetSessionRequest")(session_id=created.session_id))
    error = raised.value
    assert error.code == 404
    assert error.response_body["code"] == "not_found"
    parsed = model("ConnectError").from_dict(error.response_body)
    assert parsed.code == "not_found" and "QUERY-SFeaa" in parsed.message
    assert parsed.details[0].type == "zitadel.v1.ErrorDetail"


def test_a_refused_token_is_an_api_error(served: ServedServer) -> None:
    anon = _client(served.env["CONFORMANCE_BASE_URL"], "not-a-token-of-this-server")
    with pytest.raises(ApiError) as raised:
        anon.sessions.list_sessions(m.SessionServiceListSessionsRequest())
    assert raised.value.code == 401
    assert m.SessionServiceConnectError.from_dict(raised.value.response_body).code == "unauthenticated"
