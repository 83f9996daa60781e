"""Zitadel sessions: authentication, statuses, error shape, protojson output, create basics, expiry."""

from __future__ import annotations

import time
from typing import Any

import pytest
from _zitadel_steps import (
    HTTP_OF_GRPC,
    NOT_FOUND,
    Zitadel,
    b64,
    duration_ns,
    error_status,
    expect_protojson,
    ids_query,
    parse_ts,
    random_id,
)

from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    Target,
    expect,
    expect_status,
    shown,
    warn,
)

SECOND = 1_000_000_000


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


@pytest.mark.rules("ZTD-R01", "ZTD-R04")
def test_every_operation_needs_a_bearer_token(
    zt: Zitadel, anon_client: ConformanceClient, target: Target
) -> None:
    """No Authorization header, or a token the target never issued: 401 with an rpcStatus body.

    The calls carry valid bodies so that only authentication can refuse them; the writing ones
    (which a conformant target refuses before the service runs) are left out with ``--read-only``.
    """
    sid = random_id()
    calls = [
        ("ListSessions", lambda c: zt.search({"queries": [ids_query(sid)]}, client=c)),
        ("GetSession", lambda c: zt.get(sid, client=c)),
    ]
    if not getattr(target, "read_only", False):
        calls += [
            ("CreateSession", lambda c: zt.create({}, client=c)),
            ("SetSession", lambda c: zt.set(sid, {}, client=c)),
            ("DeleteSession", lambda c: zt.delete(sid, client=c)),
        ]
    for name, call in calls:
        exchange = call(anon_client)
        expect_status("ZTD-R01", exchange, 401, f"{name} without an Authorization header")
        code, _, _ = error_status(exchange)
        expect(
            "ZTD-R01",
            code in (None, 16),  # a missing code is ZTD-R04's business
            f"{name} without a token: rpcStatus code must be 16 (Unauthenticated), "
            f"got {code!r}: {shown(exchange)}",
            evidence=exchange,
        )
    for name, call in calls[:2]:
        exchange = call(_BadBearer(anon_client))
        expect_status("ZTD-R01", exchange, 401, f"{name} with a bearer token the target never issued")


class _BadBearer:
    """A client view that sends a made-up bearer token (passed where a ``ConformanceClient`` goes)."""

    def __init__(self, anon_client: ConformanceClient) -> None:
        self._client = anon_client

    def request(self, method: str, path: str, **kwargs: Any) -> Exchange:
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Authorization"] = "Bearer not-a-token-of-this-target-0000000000"
        return self._client.request(method, path, headers=headers, **kwargs)


@pytest.mark.rules("ZTD-R02", "ZTD-T02")
@pytest.mark.needs("writes")
def test_create_answers_201(zt: Zitadel) -> None:
    """201 over REST (Z-01); 200 over Connect (Connect sheet §2, C02): the descriptor says which."""
    for body in ({}, {"metadata": {"purpose": b64("conformance")}}):
        exchange = zt.create(body)
        expect(  # succeeding at all is ZTD-R14's (an empty or metadata-only create); 201 is ours
            "ZTD-R14",
            200 <= exchange.status < 300,
            f"an empty create ({body}) must succeed: {shown(exchange)}",
            evidence=exchange,
        )
        expect_status(zt.create_rule, exchange, zt.create_status, "CreateSession on success (Z-01, C02)")


@pytest.mark.rules("ZTD-R03")
@pytest.mark.needs("writes")
def test_other_successful_calls_answer_200(zt: Zitadel) -> None:
    session = zt.new_session()
    exchange = zt.get(session.id, session.token)
    expect_status("ZTD-R03", exchange, 200, "GetSession")
    exchange = zt.set(session.id, {"metadata": {"k": b64("v")}})
    expect_status("ZTD-R03", exchange, 200, "SetSession")
    token = (exchange.json_or_none() or {}).get("sessionToken") or session.token
    exchange = zt.search({"queries": [ids_query(session.id)]})
    expect_status("ZTD-R03", exchange, 200, "ListSessions")
    exchange = zt.delete(session.id, token)
    expect_status("ZTD-R03", exchange, 200, "DeleteSession")


@pytest.mark.rules("ZTD-R04", "ZTD-R06", "ZTD-T01")
@pytest.mark.needs("writes")
def test_errors_are_rpc_status_with_matching_code(zt: Zitadel, anon_client: ConformanceClient) -> None:
    """Every kind of error answer: `{code, message, details?}` with the code that maps to the status.

    Over Connect the same cases answer the Connect error object (ZTD-T01: a code string).
    """
    session = zt.new_session()
    cases = [
        ("unauthenticated (401)", zt.get(session.id, client=anon_client)),
        ("validation: lifetime 0s (400)", zt.create({"lifetime": "0s"})),
        (
            "malformed JSON (400)",
            zt.create(content=b"{not json", headers={"Content-Type": "application/json"}),
        ),
        ("wrong session token (403)", zt.get(session.id, "Zm9yZWlnbi10b2tlbg")),
        ("unknown session (404)", zt.get(random_id())),
        ("empty user check (501)", zt.create({"checks": {"user": {}}})),
        ("empty search query (400)", zt.search({"queries": [{}]})),
    ]
    # A case the target does not refuse at all breaks that case's own rule (checked elsewhere);
    # ZTD-R04 is about the shape of the refusals. 403 and 404 are ZTD-R06's documented statuses
    # "with an rpcStatus body": a 403/404 answer of another shape fails ZTD-R06.
    for what, exchange in cases:
        if exchange.status < 400:
            continue
        problems = zt.error_problems(exchange)
        expect(
            "ZTD-R06" if exchange.status in (403, 404) else zt.error_rule,
            not problems,
            f"{what}: the error is not well-formed ({zt.error_rule}): "
            + "; ".join(problems)
            + f" — {shown(exchange)}",
            evidence=exchange,
        )


@pytest.mark.rules("ZTD-R07", "ZTD-R08")
@pytest.mark.needs("writes")
def test_responses_are_canonical_protojson(zt: Zitadel) -> None:
    """Every successful answer, with as many fields populated as a user-less session allows."""
    body = {
        "metadata": {"a": b64("alpha"), "bin": b64(bytes(range(7)))},
        "userAgent": {
            "fingerprintId": "fp-protojson",
            "ip": "192.0.2.10",
            "description": "conformance",
            "header": {"accept-language": {"values": ["en", "de"]}},
        },
        "lifetime": "600s",
    }
    exchange = zt.create(body)
    expect_protojson(exchange)
    data = exchange.json_or_none() or {}
    sid, token = data.get("sessionId", ""), data.get("sessionToken", "")
    exchange = zt.get(sid, token)
    expect_protojson(exchange)
    exchange = zt.set(sid, {"metadata": {"b": b64("beta")}, "lifetime": "900s"})
    expect_protojson(exchange)
    token = (exchange.json_or_none() or {}).get("sessionToken") or token
    exchange = zt.search({"queries": [ids_query(sid)], "query": {"limit": 5}})
    expect_protojson(exchange)
    exchange = zt.search({"queries": [ids_query(random_id())]})
    expect_protojson(exchange)
    exchange = zt.delete(sid, token)
    expect_protojson(exchange)
    # and a bare session: everything optional is unset, so nothing may appear as null/zero
    exchange = zt.create({})
    expect_protojson(exchange)
    data = exchange.json_or_none() or {}
    sid, token = data.get("sessionId", ""), data.get("sessionToken", "")
    for exchange in (
        zt.get(sid, token),
        zt.set(sid, {}),
        zt.search({"queries": [ids_query(sid)]}),
        zt.delete(sid, token),
    ):
        expect_protojson(exchange)


@pytest.mark.rules("ZTD-R11")
@pytest.mark.needs("writes")
def test_create_returns_a_token_that_reads_the_session(zt: Zitadel) -> None:
    exchange = zt.create({})
    data = exchange.json_or_none() or {}
    token = data.get("sessionToken")
    expect(
        "ZTD-R11",
        isinstance(token, str) and token != "",
        f"CreateSession must return a sessionToken: {shown(exchange)}",
        evidence=exchange,
    )
    got = zt.get(data.get("sessionId", ""), token)
    # that the current token reads its session is ZTD-R43's
    expect_status("ZTD-R43", got, 200, "GetSession with the token CreateSession returned")


@pytest.mark.rules("ZTD-R12")
@pytest.mark.needs("writes")
def test_session_id_is_decimal(zt: Zitadel) -> None:
    exchange = zt.create({})
    sid = (exchange.json_or_none() or {}).get("sessionId")
    warn(
        "ZTD-R12",
        isinstance(sid, str) and sid.isascii() and sid.isdigit(),
        f"sessionId must be a decimal numeric string, got {sid!r}: {shown(exchange)}",
        evidence=exchange,
    )


def _sequence(details: dict[str, Any]) -> int | None:
    value = details.get("sequence")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@pytest.mark.rules("ZTD-R13")
@pytest.mark.needs("writes")
def test_sequence_and_resource_owner_follow_the_writes(zt: Zitadel) -> None:
    session = zt.new_session()
    created = (session.create.json_or_none() or {}).get("details") or {}
    seen = zt.read(session)
    expect(
        "ZTD-R13",
        created.get("sequence") is not None and created.get("sequence") == seen.get("sequence"),
        f"create details.sequence {created.get('sequence')!r} must equal the following Get's sequence "
        f"{seen.get('sequence')!r}",
        evidence=session.create,
    )
    owner = created.get("resourceOwner")
    expect(
        "ZTD-R13",
        isinstance(owner, str) and owner != "",
        f"create details.resourceOwner must be the instance ID, got {owner!r}",
        evidence=session.create,
    )
    change = parse_ts(created.get("changeDate"))
    creation = parse_ts(seen.get("creationDate"))
    expect(
        "ZTD-R13",
        change is not None and creation is not None and abs(change - creation) <= 5 * SECOND,
        f"create details.changeDate {created.get('changeDate')!r} must be about the session's creationDate "
        f"{seen.get('creationDate')!r}",
        evidence=session.create,
    )
    before_seq, before_change = _sequence(created), change
    for round_ in range(3):  # a fault may show only from the second change on
        answer = zt.change(session, {"metadata": {f"round{round_}": b64(str(round_))}})
        details = answer.get("details") or {}
        seen = zt.read(session)
        moved_seq, moved_change = _sequence(details), parse_ts(details.get("changeDate"))
        expect(
            "ZTD-R13",
            moved_seq is not None and before_seq is not None and moved_seq > before_seq,
            f"SetSession {round_ + 1} changed the session, so its details.sequence moves on: "
            f"{before_seq!r} then {details.get('sequence')!r}",
        )
        expect(
            "ZTD-R13",
            moved_change is not None and before_change is not None and moved_change > before_change,
            f"SetSession {round_ + 1} changed the session, so its details.changeDate moves on: "
            f"{before_change!r} then {details.get('changeDate')!r}",
        )
        before_seq, before_change = moved_seq, moved_change
        expect(
            "ZTD-R13",
            details.get("sequence") is not None and details.get("sequence") == seen.get("sequence"),
            f"SetSession details.sequence {details.get('sequence')!r} must equal the following Get's "
            f"sequence {seen.get('sequence')!r}",
        )
        expect(
            "ZTD-R13",
            details.get("resourceOwner") == owner,
            f"details.resourceOwner changed between writes of one session: {owner!r} then "
            f"{details.get('resourceOwner')!r}",
        )
    other = zt.new_session()
    other_owner = ((other.create.json_or_none() or {}).get("details") or {}).get("resourceOwner")
    expect(
        "ZTD-R13",
        other_owner == owner,
        f"two sessions of one account have different resourceOwners "
        f"(instance IDs): {owner!r} and {other_owner!r}",
        evidence=other.create,
    )


@pytest.mark.rules("ZTD-R14", "ZTD-R23")
@pytest.mark.needs("writes")
def test_empty_create_has_no_factors(zt: Zitadel) -> None:
    for body in ({}, {"metadata": {"only": b64("metadata")}}):
        exchange = zt.create(body)
        expect_status("ZTD-R14", exchange, (200, 201), f"an empty create ({body})")
        data = exchange.json_or_none() or {}
        session = zt.read(data.get("sessionId", ""), data.get("sessionToken"))
        expect(
            "ZTD-R23",
            "factors" not in session,
            f"a session without a checked user must have no `factors`, got {session.get('factors')!r}",
            evidence=exchange,
        )


@pytest.mark.rules("ZTD-R36")
@pytest.mark.needs("writes")
def test_expiration_follows_lifetime(zt: Zitadel) -> None:
    """expirationDate = creation (or set) time + lifetime, measured on the target's own clock."""
    plain = zt.read(zt.new_session())
    expect(
        "ZTD-R36",
        plain.get("expirationDate") is None,  # a null here is ZTD-R08's business
        "a session created without lifetime must have no expirationDate, "
        f"got {plain.get('expirationDate')!r}",
    )
    session = zt.new_session({"lifetime": "300s"})
    seen = zt.read(session)
    _expect_expiry(seen, seen.get("creationDate"), "300s", "CreateSession")
    answer = zt.change(session, {"lifetime": "7200s"})
    seen = zt.read(session)
    changed_at = (answer.get("details") or {}).get("changeDate") or seen.get("changeDate")
    _expect_expiry(seen, changed_at, "7200s", "SetSession")


def _expect_expiry(session: dict[str, Any], start: Any, lifetime: str, where: str) -> None:
    expiry, begin = parse_ts(session.get("expirationDate")), parse_ts(start)
    expect(
        "ZTD-R36",
        expiry is not None,
        f"after {where} with lifetime {lifetime} the session must have an expirationDate, "
        f"got {session.get('expirationDate')!r}",
    )
    expect("ZTD-R36", begin is not None, f"{where}: no usable change/creation date {start!r} to compare with")
    assert expiry is not None and begin is not None
    delta = expiry - begin
    wanted = duration_ns(lifetime)
    expect(
        "ZTD-R36",
        wanted - 5 * SECOND <= delta <= wanted + 60 * SECOND,
        f"after {where} with lifetime {lifetime}: expirationDate {session.get('expirationDate')} is "
        f"{delta / SECOND:.3f}s after {start}, expected about {wanted / SECOND:.0f}s",
    )


@pytest.mark.rules("ZTD-R37", "ZTD-R62")
@pytest.mark.needs("writes")
def test_expired_session_refuses_set_but_can_be_deleted(zt: Zitadel) -> None:
    """Lifetime 0.2s, then 0.6s of our clock after the answer: the target's clock is past the expiry.

    Z-21 (inferred): until deleted, an expired session is still returned by Get (by permission: this
    account created it); the target may also refuse its token (left open), so Get runs without one: a
    warning. That List still lists it is ZTD-R62's documented half ("expired ones still are").
    """
    session = zt.new_session({"lifetime": "0.2s"})
    time.sleep(0.6)
    got = zt.get(session.id)
    expiry = parse_ts(((got.json_or_none() or {}).get("session") or {}).get("expirationDate"))
    warn(
        "ZTD-R37",
        got.status == 200 and expiry is not None and expiry <= time.time_ns(),
        f"an expired session should still be returned by GetSession (by permission, no token) with its "
        f"past expirationDate until deleted (Z-21, inferred): {shown(got)}",
        evidence=got,
    )
    listed, _, exchange = zt.list_ids(
        [ids_query(session.id)], rule="ZTD-R62", settle=lambda ids, _total: session.id in ids
    )
    expect(
        "ZTD-R62",
        session.id in listed,
        f"an expired session is still listed until deleted: {shown(exchange)}",
        evidence=exchange,
    )
    exchange = zt.set(session.id, {"metadata": {"late": b64("write")}})
    expect_status("ZTD-R37", exchange, 400, "SetSession on an expired session (FailedPrecondition)")
    exchange = zt.delete(session.id, session.token)
    expect_status("ZTD-R37", exchange, 200, "DeleteSession of an expired session (it is still deletable)")


@pytest.mark.rules("ZTD-R46")
def test_unknown_session_is_404(zt: Zitadel) -> None:
    exchange = zt.get(random_id())
    expect_status("ZTD-R46", exchange, 404, "GetSession of an unknown ID")
    code, _, _ = error_status(exchange)
    expect(
        "ZTD-R46",
        code in (None, NOT_FOUND) or HTTP_OF_GRPC.get(code) == 404,
        f"GetSession of an unknown ID: code must be 5 (NotFound), got {code}",
        evidence=exchange,
    )
