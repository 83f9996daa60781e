"""Trinsic sessions: state, cancel, results, redaction (TRN-R24..R29, R33, R36, R41).

A session is driven to its end through the provider state ``trinsic session finished``
(target-interface.md); widget sessions are used because every target can create them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from _trinsic_steps import (
    Trinsic,
    check_session,
    expect_accepted,
    expect_redacted,
    finish,
    problem_body,
)

from session_conformance.harness import (
    ConformanceClient,
    ProviderState,
    expect,
    expect_status,
    json_of,
    shown,
    warn,
)


def _results(trn: Trinsic, session_id: str, key: str) -> dict[str, Any]:
    exchange = trn.results(session_id, key)
    expect_accepted("TRN-R24", exchange, "Get Session Results with the session's own key must succeed")
    body = json_of(exchange, rule="TRN-R04")
    expect(
        "TRN-R24",
        isinstance(body, dict) and isinstance(body.get("session"), dict),
        f"Get Session Results must answer the session: {shown(exchange)}",
        evidence=exchange,
    )
    check_session(body["session"], "Get Session Results", evidence=exchange)
    body["_exchange"] = exchange
    return body


@pytest.mark.rules("TRN-R24", "TRN-R41")
@pytest.mark.needs("writes", "provider_state")
def test_results_access_key_gives_identity_data(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    trn = Trinsic(client)
    created = trn.new_widget()
    key = finish(provider_state, created.session_id, success=True)
    body = _results(trn, created.session_id, key)
    identity = body.get("identityData")
    expect(
        "TRN-R24",
        isinstance(identity, dict),
        f"a successful session's results carry identityData: {shown(body['_exchange'])}",
        evidence=body["_exchange"],
    )
    person = identity.get("person") or {}
    expect(
        "TRN-R24",
        bool(person.get("givenName")) and bool(person.get("familyName")),
        f"identityData.person must name the person: {person!r}",
        evidence=body["_exchange"],
    )
    expect(
        "TRN-R24",
        body["session"].get("id") == created.session_id,
        f"results of {created.session_id} answer session {body['session'].get('id')!r}",
        evidence=body["_exchange"],
    )
    keys = identity.get("attachmentAccessKeys")
    if keys is not None:
        expect(
            "TRN-R41",
            isinstance(keys, dict) and isinstance(keys.get("provider"), dict),
            f"attachmentAccessKeys.provider is required and non-null: {keys!r}",
            evidence=body["_exchange"],
        )


@pytest.mark.rules("TRN-R24")
@pytest.mark.needs("writes", "provider_state")
def test_wrong_results_access_key_reveals_nothing(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    trn = Trinsic(client)
    created = trn.new_widget()
    key = finish(provider_state, created.session_id, success=True)
    for wrong in (
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        "",
        "x" * len(key),
        key.upper() if key.upper() != key else key.lower(),
    ):
        exchange = trn.results(created.session_id, wrong)
        expect(
            "TRN-R24",
            400 <= exchange.status < 500,
            f"Get Session Results with a wrong key must be refused: {shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "TRN-R24",
            "identityData" not in exchange.text and "Lovelace" not in exchange.text,
            f"a refused results call reveals identity data: {shown(exchange)}",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-R24")
@pytest.mark.needs("writes", "provider_state")
def test_wrong_key_and_unknown_session_look_the_same(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    """The suite's reading (A-01/A-03): a wrong key answers like an unknown session, so that a session ID
    cannot be probed with guessed keys. Undocumented, hence a warning; both must be refused (TRN-R24)."""
    trn = Trinsic(client)
    created = trn.new_widget()
    key = finish(provider_state, created.session_id, success=True)
    wrong = trn.results(created.session_id, key + "x")
    unknown_id = str(uuid.uuid4())
    unknown = trn.results(unknown_id, key)
    for exchange in (wrong, unknown):
        expect(
            "TRN-R24",
            400 <= exchange.status < 500 and "identityData" not in exchange.text,
            f"results with a wrong key or for an unknown session must be refused: {shown(exchange)}",
            evidence=exchange,
        )
    # Compared: status, type and title; detail, errors and traceId may quote the request or the occurrence.
    shape = [{k: (problem_body(e) or {}).get(k) for k in ("type", "title")} for e in (wrong, unknown)]
    same = wrong.status == unknown.status and shape[0] == shape[1]
    warn(
        "TRN-R24",
        same,
        f"A-03: a wrong key answers differently from an unknown session (a key oracle): {shown(wrong)} vs "
        f"{shown(unknown)}",
        evidence=[wrong, unknown],
    )


# A unix timestamp in seconds is within this much of the suite's clock (clocks of two hosts differ by
# seconds, not by a day); one in milliseconds is a thousand times too large.
CLOCK_SKEW_S = 86_400


def expect_seconds(session: dict[str, Any], where: str) -> None:
    """TRN-R28: ``created`` and ``updated`` are unix timestamps in seconds (not ms, not µs)."""
    now = time.time()
    for name in ("created", "updated"):
        value = session[name]
        expect(
            "TRN-R28",
            abs(value - now) <= CLOCK_SKEW_S,
            f"{where}: {name} {value} is not a unix time in seconds (now is about {int(now)})",
        )


def _next_second() -> None:
    """Sleep long enough for a clock counting whole seconds to tick, so that a state change is later."""
    time.sleep(1.1)


@pytest.mark.rules("TRN-R25", "TRN-R26", "TRN-R27", "TRN-R28", "TRN-R47", "TRN-R48")
@pytest.mark.needs("writes", "provider_state")
def test_finished_sessions_are_done(client: ConformanceClient, provider_state: ProviderState) -> None:
    trn = Trinsic(client)
    ok, failed = trn.new_widget(), trn.new_widget()
    before = {s.session_id: trn.session(s.session_id) for s in (ok, failed)}
    for sid, session in before.items():
        expect_seconds(session, f"a new session {sid}")
    _next_second()  # the end comes at least a second after the creation: `updated` must show it
    for session in before.values():
        expect(
            "TRN-R25",
            session["done"] is False and session["success"] is False,
            f"a new session is neither done nor successful: {session!r}",
        )
    finish(provider_state, ok.session_id, success=True)
    finish(provider_state, failed.session_id, success=False, error_code="UserAbandoned")
    after_ok, after_failed = trn.session(ok.session_id), trn.session(failed.session_id)
    expect(
        "TRN-R25",
        after_ok["success"] is True,
        f"a session finished successfully must be successful: {after_ok!r}",
    )
    warn(
        "TRN-R26",
        after_ok["done"] is True,
        f"a session finished successfully must be done: {after_ok!r}",
    )
    expect(
        "TRN-R27", after_ok.get("errorCode") is None, f"a successful session has no errorCode: {after_ok!r}"
    )
    expect(
        "TRN-R25",
        after_failed["done"] is True and after_failed["success"] is False,
        f"a failed session must be done and not successful: {after_failed!r}",
    )
    expect(
        "TRN-R25",
        after_failed.get("errorCode") == "UserAbandoned",
        f"a failed session carries why it failed (UserAbandoned): {after_failed!r}",
    )
    for sid, session in ((ok.session_id, after_ok), (failed.session_id, after_failed)):
        expect(
            "TRN-R28",
            session["created"] == before[sid]["created"],
            f"created changed from {before[sid]['created']} to {session['created']}",
        )
        expect(
            "TRN-R28",
            session["updated"] > before[sid]["updated"],
            f"the session ended more than a second after it was read, yet updated went from "
            f"{before[sid]['updated']} to {session['updated']} (updated: the time of the last state change)",
        )
        expect_seconds(session, f"a finished session {sid}")


@pytest.mark.rules("TRN-R28", "TRN-R29", "TRN-R49")
@pytest.mark.needs("writes")
def test_cancel_ends_the_session(client: ConformanceClient) -> None:
    trn = Trinsic(client)
    created = trn.new_widget()
    before = trn.session(created.session_id)
    _next_second()
    exchange = trn.cancel(created.session_id)
    expect_accepted("TRN-R29", exchange, "Cancel Session must succeed")
    answered = check_session(
        json_of(exchange, rule="TRN-R04").get("session"), "Cancel Session", evidence=exchange
    )
    for where, session in (
        ("Cancel Session", answered),
        ("Get Session after cancel", trn.session(created.session_id)),
    ):
        expect(
            "TRN-R29",
            session.get("id", created.session_id).lower() == created.session_id.lower(),
            f"{where}: Cancel Session returns the session with the given ID: {session!r}",
            evidence=exchange,
        )
        warn(
            "TRN-R49",
            session["done"] is True and session["success"] is False,
            f"{where}: a cancelled session is done and not successful: {session!r}",
            evidence=exchange,
        )
        warn(
            "TRN-R49",
            session.get("errorCode") == "Canceled",
            f"{where}: a cancelled session carries errorCode Canceled: {session!r}",
            evidence=exchange,
        )
        expect(
            "TRN-R28",
            session["created"] == before["created"] and session["updated"] >= before["updated"],
            f"{where}: created changed or updated went back: {before!r} -> {session!r}",
            evidence=exchange,
        )
        changed = any(session.get(k) != before.get(k) for k in ("done", "success", "errorCode"))
        expect(  # only a state change moves `updated` (TRN-R49 judges whether cancel made one)
            "TRN-R28",
            not changed or session["updated"] > before["updated"],
            f"{where}: cancelled more than a second after the last read changed the state, so updated "
            f"moves on: {before!r} -> {session!r}",
            evidence=exchange,
        )
        expect_seconds(session, where)


@pytest.mark.rules("TRN-R25", "TRN-R29")
@pytest.mark.needs("writes", "provider_state")
def test_cancel_after_the_end_changes_nothing(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    """A-11: cancelling a finished session may be a 200 no-op or a 400 refusal; either way the session,
    being in a terminal state (TRN-R25), keeps its outcome."""
    trn = Trinsic(client)
    for success in (True, False):
        created = trn.new_widget()
        finish(provider_state, created.session_id, success=success)
        before = trn.session(created.session_id)
        exchange = trn.cancel(created.session_id)
        expect_status(
            "TRN-R29",
            exchange,
            (200, 400),
            "Cancel Session of a finished session (a no-op or a refusal, A-11)",
        )
        if exchange.status == 400:
            expect(
                "TRN-R03",
                problem_body(exchange) is not None,
                f"the 400 must carry ProblemDetails: {shown(exchange)}",
                evidence=exchange,
            )
        after = trn.session(created.session_id)
        expect(
            "TRN-R25",
            {k: after.get(k) for k in ("done", "success", "errorCode")}
            == {k: before.get(k) for k in ("done", "success", "errorCode")},
            f"cancel changed a finished session: {before!r} -> {after!r}",
            evidence=exchange,
        )


def _no_identity(identity: Any) -> bool:
    """No identity data left (TRN-R33): none at all, or an object whose every member is empty; that the
    key is absent is TRN-R36's inferred reading."""
    return identity is None or (isinstance(identity, dict) and not any(identity.values()))


@pytest.mark.rules("TRN-R33", "TRN-R36")
@pytest.mark.needs("writes", "provider_state")
def test_redaction_removes_identity_data_for_good(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    trn = Trinsic(client)
    created = trn.new_widget()
    key = finish(provider_state, created.session_id, success=True)
    expect(
        "TRN-R24",
        _results(trn, created.session_id, key).get("identityData") is not None,
        "a successful session's results carry identityData before redaction",
    )
    expect_redacted(trn.redact(created.session_id))
    first = _results(trn, created.session_id, key)
    warn(
        "TRN-R36",
        first.get("identityData") is None,
        f"after redaction the results still carry identityData: {shown(first['_exchange'])}",
        evidence=first["_exchange"],
    )
    for attempt in (2, 3):
        again = _results(trn, created.session_id, key)
        expect(
            "TRN-R33",
            _no_identity(again.get("identityData")) and "Lovelace" not in again["_exchange"].text,
            f"identity data is back on results call {attempt} after redaction: {shown(again['_exchange'])}",
            evidence=again["_exchange"],
        )
    session = trn.session(created.session_id)
    expect("TRN-R33", session["success"] is True, f"redaction removes data, not the verdict: {session!r}")


@pytest.mark.rules("TRN-R42")
@pytest.mark.needs("writes", "provider_state")
def test_answers_hold_only_documented_enum_values(
    client: ConformanceClient, provider_state: ProviderState
) -> None:
    """Sessions in every state, read through get, list, cancel and results: every enum value is listed."""
    trn = Trinsic(client)
    cancelled, failed, succeeded = trn.new_widget(), trn.new_widget(), trn.new_widget()
    answered = json_of(trn.cancel(cancelled.session_id), rule="TRN-R04").get("session")
    check_session(answered, "Cancel Session")
    finish(provider_state, failed.session_id, success=False, error_code="Inauthentic")
    key = finish(provider_state, succeeded.session_id, success=True)
    for created in (cancelled, failed, succeeded):
        trn.session(created.session_id)  # check_session: errorCode is a SessionErrorCode
    ours = {cancelled.session_id, failed.session_id, succeeded.session_id}
    for order_by in ("Created", "State"):
        body = trn.page({"OrderBy": order_by, "PageSize": 50})  # check_session on every listed session
        listed = {s["id"] for s in body["sessions"]}
        expect(
            "TRN-R30",
            order_by != "Created" or ours <= listed,
            f"List Sessions misses sessions just created: {sorted(ours - listed)}",
            evidence=body["_exchange"],
        )
    identity = _results(trn, succeeded.session_id, key).get("identityData") or {}
    sex = (identity.get("person") or {}).get("sex")
    expect(
        "TRN-R42",
        sex in (None, "Unknown", "NotApplicable", "Male", "Female"),
        f"person.sex {sex!r} is not a Sex",
    )
    kind = (identity.get("document") or {}).get("type")
    expect(
        "TRN-R42",
        kind in (None, "Passport", "DriversLicense", "NationalId", "IdCard"),
        f"document.type {kind!r} is not a DocumentType",
    )
