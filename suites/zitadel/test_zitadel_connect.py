"""Zitadel over Connect: what only the Connect transport promises, and Connect answering like REST.

The semantic rules run over Connect through the shared suites (``zitadel_api`` includes the Connect
APIs); this module holds the transport's own rules (Connect sheet §1-§4: ZTD-T01, T03-T07) and the
differential ZTD-X02: one sequence of calls over REST and over Connect on the same target must agree,
apart from what §6 says differs (create status, error shape), on the very same sessions.
"""

from __future__ import annotations

from typing import Any

import pytest
from _zitadel_steps import (
    INVALID_ARGUMENT,
    Zitadel,
    b64,
    connect_detail_types,
    connect_error_problems,
    error_status,
    normalised,
    random_id,
)
from test_zitadel_parity import side_by_side

from session_conformance.apis import family
from session_conformance.apis.zitadel import ZITADEL
from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    expect,
    expect_status,
    shown,
    warn,
    warn_status,
)

CONNECT = ("zitadel-v2-connect", "zitadel-v2beta-connect")
REST_OF = {"zitadel-v2-connect": "zitadel-v2", "zitadel-v2beta-connect": "zitadel-v2beta"}
JSON = {"Content-Type": "application/json"}


def _zt(client: ConformanceClient, api: str) -> Zitadel:
    return Zitadel(client, family(api).api(api).path_prefix, api)


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T01")
def test_connect_error_details(api: str, client: ConformanceClient) -> None:
    """A service error's details: bare proto name in `type` (a URL prefix warns, C05), base64 `value`."""
    zt = _zt(client, api)
    exchange = zt.get(random_id())
    if exchange.status < 400:
        return  # an unknown session that reads is ZTD-R46's business
    problems = connect_error_problems(exchange)
    expect("ZTD-T01", not problems, "; ".join(problems) + f" — {shown(exchange)}", evidence=exchange)
    prefixed = connect_detail_types(exchange)
    warn(
        "ZTD-T01",
        not prefixed,
        f"details[].type should be the bare proto name (C05), got {prefixed}: {shown(exchange)}",
        evidence=exchange,
    )


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T03")
def test_wrong_media_type_is_415_without_body(api: str, client: ConformanceClient) -> None:
    zt = _zt(client, api)
    for headers in ({"Content-Type": "text/plain"}, {}):
        exchange = zt.search({}, content=b"{}", headers=headers)
        what = f"ListSessions with Content-Type {headers.get('Content-Type', '(none)')}"
        expect_status("ZTD-T03", exchange, 415, what)
        expect(
            "ZTD-T03", not exchange.body, f"{what}: 415 carries no body: {shown(exchange)}", evidence=exchange
        )


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T04")
def test_only_post_is_served(api: str, client: ConformanceClient) -> None:
    zt = _zt(client, api)
    path = ZITADEL.call(api, "GetSession").path
    for method in ("GET", "PUT"):
        exchange = client.request(method, path, headers={"Connect-Protocol-Version": "1"})
        expect_status("ZTD-T04", exchange, 405, f"{method} on a Connect procedure")
        allow = exchange.headers.get("allow") or exchange.headers.get("Allow") or ""
        expect(
            "ZTD-T04", "POST" in allow, f"405 must carry Allow: POST: {shown(exchange)}", evidence=exchange
        )
        expect("ZTD-T04", not exchange.body, f"405 carries no body: {shown(exchange)}", evidence=exchange)
    unknown = client.request(
        "POST", f"{zt.prefix}/NoSuchMethod", json={}, headers={"Connect-Protocol-Version": "1"}
    )
    expect_status("ZTD-T04", unknown, 404, "an unknown method under the service prefix")


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T05")
def test_empty_body_is_400(api: str, client: ConformanceClient) -> None:
    exchange = _zt(client, api).search({}, content=b"", headers=JSON)
    expect_status("ZTD-T05", exchange, 400, "ListSessions with a zero-length application/json body (C04)")
    code, _, _ = error_status(exchange)
    expect("ZTD-T05", code in (None, INVALID_ARGUMENT), f"code must be invalid_argument: {shown(exchange)}")


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T06")
def test_protocol_version_header_is_optional(api: str, client: ConformanceClient) -> None:
    zt = _zt(client, api)
    path = ZITADEL.call(api, "ListSessions").path
    plain = client.request("POST", path, json={"query": {"limit": 1}})
    expect_status(
        "ZTD-T06", plain, 200, "ListSessions without Connect-Protocol-Version (the SDK sends none, C03)"
    )
    wrong = zt.search({"query": {"limit": 1}}, headers={"Connect-Protocol-Version": "2"})
    expect_status("ZTD-T06", wrong, 400, "ListSessions with Connect-Protocol-Version: 2")
    code, _, _ = error_status(wrong)
    expect("ZTD-T06", code in (None, INVALID_ARGUMENT), f"code must be invalid_argument: {shown(wrong)}")


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-T07")
def test_timeout_header_must_parse(api: str, client: ConformanceClient) -> None:
    """Only the header's parse error is judged, not its expiry (C12: how a deadline surfaces is untested)."""
    zt = _zt(client, api)
    body = {"query": {"limit": 1}}
    served = zt.search(body, headers={"Connect-Timeout-Ms": "15000"})
    expect_status("ZTD-T07", served, 200, "ListSessions with Connect-Timeout-Ms: 15000")
    for value, what in (("soon", "not numeric"), ("12345678901", "11 digits")):
        refused = zt.search(body, headers={"Connect-Timeout-Ms": value})
        expect_status(
            "ZTD-T07", refused, 400, f"ListSessions with a Connect-Timeout-Ms of {what} ({value!r})"
        )
        code, _, _ = error_status(refused)
        expect(
            "ZTD-T07", code in (None, INVALID_ARGUMENT), f"code must be invalid_argument: {shown(refused)}"
        )


def _comparable(zt: Zitadel, exchange: Exchange) -> Any:
    """What must agree across transports: a success's normalised body, an error's code (§6: shapes differ)."""
    if exchange.status >= 400:
        return {"error": error_status(exchange)[0]}
    return normalised(exchange.json_or_none())


def _status(zt: Zitadel, exchange: Exchange) -> int:
    return 200 if exchange.status == zt.create_status else exchange.status  # 201 vs 200 on create (§6)


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-X02")
@pytest.mark.needs("writes")
def test_connect_answers_like_rest(api: str, client: ConformanceClient) -> None:
    connect, rest = _zt(client, api), _zt(client, REST_OF[api])
    for step, got in side_by_side({"REST": rest, "Connect": connect}):
        left, right = got["REST"], got["Connect"]
        warn(
            "ZTD-X02",
            _status(rest, left) == _status(connect, right),
            f"step '{step}': REST answered {left.status}, Connect {right.status}",
            evidence=[left, right],
        )
        warn(
            "ZTD-X02",
            _comparable(rest, left) == _comparable(connect, right),
            f"step '{step}': the answers differ: REST {shown(left)} vs Connect {shown(right)}",
            evidence=[left, right],
        )


@pytest.mark.parametrize("api", CONNECT)
@pytest.mark.rules("ZTD-X02")
@pytest.mark.needs("writes")
def test_one_session_across_transports(api: str, client: ConformanceClient) -> None:
    """Created over Connect: read, changed and ended over REST; and the other way round (Connect sheet §1)."""
    connect, rest = _zt(client, api), _zt(client, REST_OF[api])
    for maker, other in ((connect, rest), (rest, connect)):
        session = maker.new_session({"metadata": {"via": b64(maker.api)}})
        got = other.get(session.id, session.token)
        warn_status(
            "ZTD-X02", got, 200, f"GetSession over the other transport of a session made over {maker.api}"
        )
        changed = other.set(session.id, {"metadata": {"back": b64("x")}})
        warn_status("ZTD-X02", changed, 200, "SetSession over the other transport")
        session.rotate((changed.json_or_none() or {}).get("sessionToken") or "")
        seen = maker.get(session.id, session.token)
        warn_status("ZTD-X02", seen, 200, "GetSession with the token the other transport issued")
        ended = other.delete(session.id, session.token)
        warn_status("ZTD-X02", ended, 200, "DeleteSession over the other transport")
        gone = maker.get(session.id, session.token)
        warn(
            "ZTD-X02",
            gone.status in (403, 404),
            f"a session ended over the other transport must be gone: {shown(gone)}",
            evidence=gone,
        )
