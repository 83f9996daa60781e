"""Zitadel sessions: metadata, user agent, token rotation and binding, get, delete, isolation."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from _zitadel_steps import (
    LIST_SETTLE_SECONDS,
    Zitadel,
    b64,
    decoded_metadata,
    documented_user_agent,
    ids_query,
    random_id,
)

from session_conformance.harness import ConformanceClient, expect, expect_status, shown, warn, warn_status

# A syntactically plausible token (URL-safe base64) that no target has issued.
FOREIGN_TOKEN = "Zm9yZWlnbi1zZXNzaW9uLXRva2VuLWZvci1jb25mb3JtYW5jZQ"
USER_AGENT = {
    "fingerprintId": "fp-conformance-1",
    "ip": "192.0.2.44",
    "description": "session-conformance suite",
    "header": {"accept-language": {"values": ["en-GB", "de"]}, "x-trace": {"values": ["abc"]}},
}


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


# --- metadata ------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R32")
@pytest.mark.needs("writes")
def test_metadata_round_trip(zt: Zitadel) -> None:
    given = {"plain": b"hello", "binary": bytes([0, 255, 1, 254, 2]), "unicode key \u00e9": "\u2713".encode()}
    session = zt.new_session({"metadata": {k: b64(v) for k, v in given.items()}})
    seen = zt.read(session)
    stored = decoded_metadata(seen.get("metadata"))
    expect(
        "ZTD-R32",
        stored == given,
        f"GetSession must return the metadata given at creation unchanged: sent {sorted(given)}, "
        f"got {seen.get('metadata')!r}",
    )


@pytest.mark.rules("ZTD-R33")
@pytest.mark.needs("writes")
def test_metadata_merge_on_set(zt: Zitadel) -> None:
    session = zt.new_session()  # the starting keys come from a set, so this does not rest on ZTD-R32
    zt.change(
        session, {"metadata": {"keep": b64("1"), "replace": b64("old"), "drop": b64("x")}}, rule="ZTD-R33"
    )
    zt.change(session, {"metadata": {"replace": b64("new"), "drop": "", "add": b64("added")}}, rule="ZTD-R33")
    stored = decoded_metadata(zt.read(session).get("metadata"))
    wanted = {"keep": b"1", "replace": b"new", "add": b"added"}
    expect(
        "ZTD-R33",
        stored == wanted,
        f"SetSession must merge metadata (overwrite, delete on empty value, keep the rest): wanted "
        f"{wanted!r}, got {stored!r}",
    )
    zt.change(session, {"metadata": {"other": b64("o")}}, rule="ZTD-R33")
    stored = decoded_metadata(zt.read(session).get("metadata"))
    expect(
        "ZTD-R33",
        stored == {**wanted, "other": b"o"},
        f"a second SetSession must keep the keys it does not mention, got {stored!r}",
    )


RACERS = 4


@pytest.mark.rules("ZTD-R33")
@pytest.mark.needs("writes")
def test_simultaneous_metadata_changes_are_all_merged(zt: Zitadel) -> None:
    """Several SetSessions at once, each setting a key of its own (by permission, no token: a rotated
    token would refuse all but the first): each merges into what the others left, none is lost."""
    session = zt.new_session({"metadata": {"base": b64("0")}})
    keys = [f"racer{i}" for i in range(RACERS)]
    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(lambda key: zt.set(session.id, {"metadata": {key: b64(key)}}), keys))
    for answer in answers:
        expect_status("ZTD-R33", answer, 200, "SetSession of one metadata key, while others set theirs")
    stored = decoded_metadata(zt.read(session.id).get("metadata")) or {}  # the token rotated meanwhile
    lost = [key for key in keys if stored.get(key) != key.encode()]
    expect(
        "ZTD-R33",
        not lost and stored.get("base") == b"0",
        f"simultaneous SetSessions must each merge their key; lost {lost}, metadata now {sorted(stored)}",
    )


# --- user agent ----------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R34")
@pytest.mark.needs("writes")
def test_user_agent_is_kept_and_cannot_be_set(zt: Zitadel) -> None:
    session = zt.new_session({"userAgent": USER_AGENT})
    seen = zt.read(session).get("userAgent")
    expect(
        "ZTD-R34",
        documented_user_agent(seen) == USER_AGENT,
        f"GetSession must return the user agent unchanged: {seen!r}",
    )
    _, _, exchange = zt.list_ids(
        [ids_query(session.id)], rule="ZTD-R34", settle=lambda got, _total: session.id in got
    )
    listed = [s for s in (exchange.json_or_none() or {}).get("sessions") or [] if s.get("id") == session.id]
    expect(
        "ZTD-R34",
        len(listed) == 1 and documented_user_agent(listed[0].get("userAgent")) == USER_AGENT,
        f"ListSessions must return the user agent unchanged: {shown(exchange)}",
        evidence=exchange,
    )
    other = {"fingerprintId": "fp-changed", "ip": "198.51.100.1", "description": "changed"}
    exchange = zt.set(session.id, {"userAgent": other, "metadata": {"k": b64("v")}})
    expect(
        "ZTD-R34",
        200 <= exchange.status < 300,
        f"SetSession ignores an unknown `userAgent` key and must succeed: {shown(exchange)}",
        evidence=exchange,
    )
    session.rotate((exchange.json_or_none() or {}).get("sessionToken") or "")
    seen = zt.read(session).get("userAgent")
    expect(
        "ZTD-R34",
        documented_user_agent(seen) == USER_AGENT,
        f"SetSession must not change the user agent: now {seen!r}",
    )


# --- tokens --------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R38")
@pytest.mark.needs("writes")
def test_token_rotates_on_change(zt: Zitadel) -> None:
    session = zt.new_session()
    old = session.token
    exchange = zt.set(session.id, {"metadata": {"rotate": b64("1")}})
    expect(
        "ZTD-R38",
        200 <= exchange.status < 300,
        f"SetSession must succeed: {shown(exchange)}",
        evidence=exchange,
    )
    new = (exchange.json_or_none() or {}).get("sessionToken")
    expect(
        "ZTD-R38",
        isinstance(new, str) and new != "" and new != old,
        f"a SetSession that changes the session must return a new sessionToken: {shown(exchange)}",
        evidence=exchange,
    )
    assert isinstance(new, str)
    got = zt.get(session.id, new)
    expect_status("ZTD-R38", got, 200, "GetSession with the new token")
    got = zt.get(session.id, old)
    expect_status("ZTD-R38", got, 403, "GetSession with the replaced token")
    gone = zt.delete(session.id, old)
    expect_status("ZTD-R38", gone, 403, "DeleteSession with the replaced token")
    got = zt.get(session.id, new)
    expect_status("ZTD-R38", got, 200, "GetSession after a refused delete (the session is alive)")


@pytest.mark.rules("ZTD-R39")
@pytest.mark.needs("writes")
def test_token_is_bound_to_its_session(zt: Zitadel) -> None:
    first, second = zt.new_session(), zt.new_session()
    got = zt.get(second.id, first.token)
    expect_status("ZTD-R39", got, 403, "GetSession of B with A's token")
    gone = zt.delete(second.id, first.token)
    expect_status("ZTD-R39", gone, 403, "DeleteSession of B with A's token")
    got = zt.get(second.id, second.token)
    expect_status("ZTD-R39", got, 200, "GetSession of B after a delete with A's token (B survives)")


@pytest.mark.rules("ZTD-R40")
@pytest.mark.needs("writes")
def test_noop_set_keeps_the_token(zt: Zitadel) -> None:
    session = zt.new_session({"metadata": {"k": b64("v")}})
    exchange = zt.set(session.id, {})
    warn(
        "ZTD-R40",
        200 <= exchange.status < 300,
        f"an empty SetSession must succeed: {shown(exchange)}",
        evidence=exchange,
    )
    token = (exchange.json_or_none() or {}).get("sessionToken")
    warn(
        "ZTD-R40",
        token in (None, session.token),
        f"a SetSession that changes nothing must not issue a new token (absent or unchanged, Z-05): "
        f"{shown(exchange)}",
        evidence=exchange,
    )
    got = zt.get(session.id, session.token)
    warn_status("ZTD-R40", got, 200, "GetSession with the token after a no-op SetSession (still valid)")


# --- get -----------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R43", "ZTD-R44")
@pytest.mark.needs("writes")
def test_get_with_current_or_wrong_token(zt: Zitadel) -> None:
    session = zt.new_session()
    got = zt.get(session.id, session.token)
    body = got.json_or_none() or {}
    expect(
        "ZTD-R43",
        got.status == 200 and (body.get("session") or {}).get("id") == session.id,
        f"GetSession with the current token must return the session: {shown(got)}",
        evidence=got,
    )
    for wrong in (FOREIGN_TOKEN, session.token[:-2] + ("AA" if not session.token.endswith("AA") else "BB")):
        got = zt.get(session.id, wrong)
        expect_status("ZTD-R44", got, 403, "GetSession with a wrong token")


@pytest.mark.rules("ZTD-R63")
@pytest.mark.needs("writes")
def test_reads_follow_writes(zt: Zitadel) -> None:
    """ZTD-R63 (inferred, so warnings): Get is read-after-write; List catches up after a brief lag."""
    session = zt.new_session({"metadata": {"step": b64("created")}})
    got = zt.get(session.id, session.token)
    # a refused token is not a lagging read
    expect_status("ZTD-R43", got, (200, 404), "GetSession with the current token (404: a lagging read)")
    warn_status("ZTD-R63", got, 200, "GetSession right after CreateSession (read-after-write)")
    zt.change(session, {"metadata": {"step": b64("changed")}})
    got = zt.get(session.id, session.token)
    expect_status("ZTD-R43", got, (200, 404), "GetSession with the current token (404: a lagging read)")
    seen = (got.json_or_none() or {}).get("session") or {}
    warn(
        "ZTD-R63",
        got.status == 200 and decoded_metadata(seen.get("metadata")) == {"step": b"changed"},
        f"GetSession right after SetSession must show its change (read-after-write): {shown(got)}",
        evidence=got,
    )
    ids, _, listing = zt.list_ids([ids_query(session.id)], settle=lambda got, _total: session.id in got)
    warn(
        "ZTD-R63",
        session.id in ids,
        f"ListSessions does not list the session {LIST_SETTLE_SECONDS:.0f}s after it was created "
        f"(List may lag only briefly): {shown(listing)}",
        evidence=listing,
    )


# --- delete --------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R49")
@pytest.mark.needs("writes")
def test_delete_with_wrong_token_is_refused(zt: Zitadel) -> None:
    session = zt.new_session()
    gone = zt.delete(session.id, FOREIGN_TOKEN)
    expect_status("ZTD-R49", gone, 403, "DeleteSession with a wrong token")
    got = zt.get(session.id, session.token)
    expect_status("ZTD-R49", got, 200, "GetSession after a refused delete (the session is alive)")


@pytest.mark.rules("ZTD-R48", "ZTD-R50", "ZTD-R51", "ZTD-R52", "ZTD-R62")
@pytest.mark.needs("writes")
def test_delete_terminates_and_is_idempotent(zt: Zitadel) -> None:
    session, survivor = zt.new_session(), zt.new_session()
    gone = zt.delete(session.id, session.token)
    expect_status("ZTD-R48", gone, 200, "DeleteSession with the current token")
    zt.expect_terminated(session.id, session.token)
    for token in (session.token, None):
        got = zt.get(session.id, token)
        expect_status(
            "ZTD-R50",
            got,
            404,
            f"GetSession of a deleted session ({'with' if token else 'without'} its token)",
        )
    ids, _, exchange = zt.list_ids(
        [ids_query(session.id, survivor.id)],
        rule="ZTD-R62",
        settle=lambda got, _total: got == [survivor.id],  # List may lag briefly (ZTD-R63)
    )
    expect(
        "ZTD-R62",
        session.id not in ids,
        f"a deleted session must not be listed: {shown(exchange)}",
        evidence=exchange,
    )
    expect(
        "ZTD-R52",
        ids == [survivor.id],
        f"the live session must still be listed: {shown(exchange)}",
        evidence=exchange,
    )
    again = zt.delete(session.id, session.token)
    warn_status("ZTD-R51", again, 200, "DeleteSession of an already deleted session (idempotent, inferred)")


@pytest.mark.rules("ZTD-R42")
@pytest.mark.needs("writes")
def test_set_on_terminated_session_is_refused(zt: Zitadel) -> None:
    session = zt.new_session()
    gone = zt.delete(session.id, session.token)
    expect_status("ZTD-R48", gone, 200, "DeleteSession")
    zt.expect_terminated(session.id, session.token)
    for body in ({"metadata": {"after": b64("delete")}}, {"lifetime": "60s"}):
        exchange = zt.set(session.id, body)
        expect_status("ZTD-R42", exchange, 400, "SetSession on a terminated session (FailedPrecondition)")


@pytest.mark.rules("ZTD-R51")
@pytest.mark.needs("writes")
def test_delete_of_unknown_session(zt: Zitadel) -> None:
    """Z-10: 200, 403 or 404 are all acceptable; never a 5xx."""
    gone = zt.delete(random_id())
    warn_status("ZTD-R51", gone, (200, 403, 404), "DeleteSession of an unknown ID (Z-10)")


# --- isolation -----------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R49")
@pytest.mark.needs("writes", "other_token")
def test_delete_without_token_needs_permission(zt: Zitadel, other_client: ConformanceClient) -> None:
    """Without a token only the checked user or a holder of session.delete may delete: not an unrelated
    account (another instance on a shared host, or a caller without the permission)."""
    session = zt.new_session()
    zt.delete(session.id, client=other_client)  # Z-10: 200, 403 or 404; what matters is what follows
    got = zt.get(session.id, session.token)
    expect_status(
        "ZTD-R49",
        got,
        200,
        "GetSession after a DeleteSession without token by an unrelated account (the session is alive)",
    )


@pytest.mark.rules("ZTD-R45")
@pytest.mark.needs("writes", "restricted_token")
def test_caller_without_session_read_reads_only_its_own_sessions(
    zt: Zitadel, restricted_client: ConformanceClient
) -> None:
    """Without a token, a caller of the same instance that holds neither session.read nor is the
    creator (nor the checked user) is refused; the same caller reads the session it created itself.
    Only such a caller can tell a missing permission check from the primary token's own permission."""
    session = zt.new_session()
    got = zt.get(session.id, client=restricted_client)
    expect_status("ZTD-R45", got, 403, "GetSession without token by a caller without session.read")
    ids, _, exchange = zt.list_ids([ids_query(session.id)], rule="ZTD-R45", client=restricted_client)
    expect(
        "ZTD-R45",
        session.id not in ids,
        f"a caller without session.read must not list another caller's session: {shown(exchange)}",
        evidence=exchange,
    )
    created = zt.create({}, client=restricted_client)
    expect_status("ZTD-R45", created, zt.create_status, "CreateSession by a caller with session.write")
    own = (created.json_or_none() or {}).get("sessionId")
    got = zt.get(str(own), client=restricted_client)
    expect_status("ZTD-R45", got, 200, "GetSession without token by the session's creator")


@pytest.mark.rules("ZTD-R49")
@pytest.mark.needs("writes", "restricted_token")
def test_caller_without_session_delete_needs_the_token(
    zt: Zitadel, restricted_client: ConformanceClient
) -> None:
    """Without a token, a caller of the same instance without session.delete (and not the checked user)
    may not end a session; with the session's token it may."""
    session = zt.new_session()
    gone = zt.delete(session.id, client=restricted_client)
    expect_status("ZTD-R49", gone, 403, "DeleteSession without token by a caller without session.delete")
    got = zt.get(session.id, session.token)
    expect_status("ZTD-R49", got, 200, "GetSession after the refused DeleteSession (the session is alive)")
    gone = zt.delete(session.id, session.token, client=restricted_client)
    expect_status("ZTD-R49", gone, 200, "DeleteSession with the session's token by the same caller")


@pytest.mark.rules("ZTD-R45")
@pytest.mark.needs("writes", "other_token")
def test_other_account_cannot_touch_the_session(zt: Zitadel, other_client: ConformanceClient) -> None:
    session = zt.new_session({"metadata": {"owner": b64("primary")}})
    before = decoded_metadata(zt.read(session).get("metadata"))
    got = zt.get(session.id, client=other_client)
    expect_status(
        "ZTD-R45",
        got,
        (403, 404),
        "GetSession without the token by another account (404 when it is another instance)",
    )
    ids, _, exchange = zt.list_ids([ids_query(session.id)], rule="ZTD-R45", client=other_client)
    expect(
        "ZTD-R45",
        session.id not in ids,
        f"another account must not list the session: {shown(exchange)}",
        evidence=exchange,
    )
    changed = zt.set(session.id, {"metadata": {"owner": b64("intruder")}}, client=other_client)
    expect(
        "ZTD-R45",
        400 <= changed.status < 500,
        f"another account must not change the session: {shown(changed)}",
        evidence=changed,
    )
    zt.delete(session.id, client=other_client)  # Z-10: any of 200/403/404; what matters is what follows
    seen = zt.read(session, rule="ZTD-R45")
    expect(
        "ZTD-R45",
        decoded_metadata(seen.get("metadata")) == before,
        f"another account's SetSession changed the session: metadata now {seen.get('metadata')!r}",
    )
    got = zt.get(session.id, session.token)
    expect_status(
        "ZTD-R45", got, 200, "GetSession after another account's DeleteSession (the session and token live)"
    )
