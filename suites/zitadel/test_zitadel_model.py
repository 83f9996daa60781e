"""Zitadel sessions against a model: Hypothesis drives create / set / no-op / delete / search.

After every step the target must agree with the model: the current token reads the session, the
replaced token does not, metadata equals the model, deleted sessions are 404 and unlisted,
``sequence`` equals the last write's and never goes back, ``changeDate`` never goes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from _zitadel_steps import (
    Zitadel,
    b64,
    budget_value,
    decoded_metadata,
    ids_query,
    parse_ts,
)
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from session_conformance.harness import (
    ConformanceClient,
    Profile,
    expect,
    expect_status,
    shown,
    warn,
    warn_status,
)
from session_conformance.pytest_plugin import run_seed
from session_conformance.scenarios import run_scenarios

KEYS = st.sampled_from(["a", "b", "c", "key-d", "\u00fc", "with space"])
VALUES = st.binary(min_size=1, max_size=12)
CREATE_METADATA = st.dictionaries(KEYS, VALUES, max_size=3)
CHANGES = st.dictionaries(KEYS, st.one_of(VALUES, st.just(b"")), min_size=1, max_size=3)
MAX_LIVE = 4


@dataclass
class Known:
    """What the model believes about one session."""

    id: str
    token: str
    metadata: dict[str, bytes]
    old_token: str | None = None
    sequence: int = 0  # of the last write this model saw (0 = unknown)
    change_date: int = 0
    deleted: bool = False
    history: list[str] = field(default_factory=list)


class SessionMachine(RuleBasedStateMachine):
    """Subclassed per test with ``zt`` set (the API under test)."""

    zt: Zitadel
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.known: dict[str, Known] = {}

    # --- steps ---------------------------------------------------------------------------------

    @initialize(target=sessions, metadata=CREATE_METADATA)
    def first_session(self, metadata: dict[str, bytes]) -> str:
        return self._create(metadata)

    @precondition(lambda self: sum(not k.deleted for k in self.known.values()) < MAX_LIVE)
    @rule(target=sessions, metadata=CREATE_METADATA)
    def create(self, metadata: dict[str, bytes]) -> str:
        return self._create(metadata)

    def _create(self, metadata: dict[str, bytes]) -> str:
        session = self.zt.new_session({"metadata": {k: b64(v) for k, v in metadata.items()}})
        details = (session.create.json_or_none() or {}).get("details") or {}
        known = Known(
            session.id,
            session.token,
            dict(metadata),
            sequence=_int(details.get("sequence")),
            change_date=parse_ts(details.get("changeDate")) or 0,
        )
        known.history.append(f"create {sorted(metadata)}")
        self.known[session.id] = known
        return session.id

    @rule(sid=sessions, changes=CHANGES)
    def set_metadata(self, sid: str, changes: dict[str, bytes]) -> None:
        known = self.known[sid]
        exchange = self.zt.set(sid, {"metadata": {k: (b64(v) if v else "") for k, v in changes.items()}})
        known.history.append(f"set {sorted(changes)}")
        if known.deleted:
            expect_status("ZTD-R42", exchange, 400, "SetSession on a deleted session")
            return
        expect(
            "ZTD-R33",
            200 <= exchange.status < 300,
            f"a metadata SetSession must succeed: {shown(exchange)}",
            evidence=exchange,
        )
        merged = dict(known.metadata)
        for key, value in changes.items():
            if value:
                merged[key] = value
            else:
                merged.pop(key, None)
        data = exchange.json_or_none() or {}
        token = data.get("sessionToken")
        if merged != known.metadata:
            expect(
                "ZTD-R38",
                isinstance(token, str) and token not in ("", known.token),
                f"a SetSession that changed the metadata must return a new token: {shown(exchange)}",
                evidence=exchange,
            )
        # A change that turns out to be no change (same values, deleting absent keys) may or may
        # not rotate (ZTD-R40 / Z-05): the model follows whatever token the target hands out.
        if isinstance(token, str) and token and token != known.token:
            known.old_token, known.token = known.token, token
        known.metadata = merged
        self._note_write(known, data.get("details") or {})

    @rule(sid=sessions)
    def noop(self, sid: str) -> None:
        known = self.known[sid]
        if known.deleted:
            return
        exchange = self.zt.set(sid, {})
        known.history.append("set {}")
        warn(
            "ZTD-R40",
            200 <= exchange.status < 300,
            f"an empty SetSession must succeed: {shown(exchange)}",
            evidence=exchange,
        )
        token = (exchange.json_or_none() or {}).get("sessionToken")
        warn(
            "ZTD-R40",
            token in (None, known.token),
            f"an empty SetSession must not issue a new token: {shown(exchange)}",
            evidence=exchange,
        )

    @rule(sid=sessions)
    def delete(self, sid: str) -> None:
        known = self.known[sid]
        exchange = self.zt.delete(sid, known.token)
        known.history.append("delete")
        if known.deleted:
            warn_status("ZTD-R51", exchange, 200, "DeleteSession with the current token, already deleted")
        else:
            expect_status("ZTD-R48", exchange, 200, "DeleteSession with the current token")
        known.deleted = True

    @rule()
    def search(self) -> None:
        everything = list(self.known)
        live = sorted(k.id for k in self.known.values() if not k.deleted)
        got, total, exchange = self.zt.list_ids(
            [ids_query(*everything)],
            rule="ZTD-R52",
            settle=lambda got, total: sorted(got) == live,  # List may lag briefly (ZTD-R63)
        )
        dead_listed = sorted(set(got) - set(live))
        expect(
            "ZTD-R62",
            not dead_listed,
            f"deleted sessions {dead_listed} are still listed: {shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "ZTD-R52",
            sorted(got) == live,
            f"idsQuery over this scenario's sessions must return exactly the live ones {live}, got {got}: "
            f"{shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "ZTD-R61",
            total == len(live),
            f"totalResult must be {len(live)}, got {total}: {shown(exchange)}",
            evidence=exchange,
        )

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def target_agrees(self) -> None:
        for known in self.known.values():
            if known.deleted:
                exchange = self.zt.expect_terminated(known.id, known.token)
                expect_status(
                    "ZTD-R50", exchange, 404, f"GetSession of a deleted session (after {known.history})"
                )
                continue
            exchange = self.zt.get(known.id, known.token)
            expect_status(
                "ZTD-R43", exchange, 200, f"GetSession with the current token (after {known.history})"
            )
            session = (exchange.json_or_none() or {}).get("session") or {}
            stored = decoded_metadata(session.get("metadata"))
            expect(
                "ZTD-R33" if len(known.history) > 1 else "ZTD-R32",
                stored == known.metadata,
                f"metadata must be {known.metadata!r} after {known.history}, got {stored!r}",
                evidence=exchange,
            )
            sequence = _int(session.get("sequence"))
            expect(
                "ZTD-R13",
                known.sequence == 0 or sequence == known.sequence,
                f"Get's sequence {sequence} must equal the last write's details.sequence {known.sequence} "
                f"(after {known.history})",
                evidence=exchange,
            )
            changed = parse_ts(session.get("changeDate")) or 0
            expect(
                "ZTD-R13",
                changed >= known.change_date,
                f"changeDate went backwards: {session.get('changeDate')!r} (after {known.history})",
                evidence=exchange,
            )
            known.change_date = max(known.change_date, changed)
            if known.old_token:
                exchange = self.zt.get(known.id, known.old_token)
                expect_status(
                    "ZTD-R38", exchange, 403, f"GetSession with a replaced token (after {known.history})"
                )

    def _note_write(self, known: Known, details: dict[str, Any]) -> None:
        sequence = _int(details.get("sequence"))
        if sequence:
            expect(
                "ZTD-R13",
                sequence >= known.sequence,
                f"details.sequence went backwards: {known.sequence} then {sequence} (after {known.history})",
            )
            known.sequence = sequence


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


@pytest.mark.rules(
    "ZTD-R13",
    "ZTD-R32",
    "ZTD-R33",
    "ZTD-R38",
    "ZTD-R40",
    "ZTD-R42",
    "ZTD-R43",
    "ZTD-R48",
    "ZTD-R50",
    "ZTD-R51",
    "ZTD-R52",
    "ZTD-R61",
    "ZTD-R62",
)
@pytest.mark.needs("writes")
def test_sessions_behave_like_the_model(zt: Zitadel, budget: Profile) -> None:
    machine = type("ZitadelSessionMachine", (SessionMachine,), {"zt": zt})
    run_scenarios(
        machine,
        settings(
            max_examples=budget_value(budget, "stateful_examples", default=10),
            stateful_step_count=budget_value(budget, "stateful_steps", default=10),
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
        ),
        seed=run_seed(),
    )
