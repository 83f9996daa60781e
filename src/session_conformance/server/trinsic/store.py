"""Trinsic sessions kept per account: bounded, ordered, safe under concurrent clients.

Every account has its own ordered map of sessions (insertion order = creation order), so a
foreign session ID is simply not found (404, A-24) and the oldest session is the one evicted when
the per-account cap is reached.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# OrderBy=State: sessions in progress first, then succeeded, then failed (our choice, A-13).
STATE_RANK_IN_PROGRESS, STATE_RANK_SUCCEEDED, STATE_RANK_FAILED = 0, 1, 2


@dataclass(slots=True)
class TrinsicSession:
    id: str
    seq: int  # creation sequence number: the tie-breaker that keeps paging stable
    change_seq: int  # sequence number of the last state change: the tie-breaker of OrderBy=Updated
    kind: str  # "widget", "hosted" or "advanced"
    provider: str | None
    created: int
    updated: int
    results_access_key: str
    finished: bool = False  # terminal for the server (a fault may still report done false)
    done: bool = False
    success: bool = False
    error_code: str | None = None
    identity: dict[str, Any] | None = None
    redacted: bool = False
    launch_url: str | None = None  # kept only so that a fault can leak it again (TRN-R06)
    step: dict[str, Any] | None = None  # the current IntegrationStep of an advanced session
    result_method: str | None = None
    capabilities: frozenset[str] = field(default_factory=frozenset)
    step_issued: float = 0.0  # when the current step's content was issued (drives refresh times)
    hide_identity_calls: int = 0  # only used by the trn-redact-temporary fault

    @property
    def state_rank(self) -> int:
        if not self.done:
            return STATE_RANK_IN_PROGRESS
        return STATE_RANK_SUCCEEDED if self.success else STATE_RANK_FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "done": self.done,
            "success": self.success,
            "errorCode": self.error_code,
            "created": self.created,
            "updated": self.updated,
        }


class Clock:
    """Unix seconds that never go backwards, even if the wall clock does (TRN-R28)."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            self._last = max(self._last, int(time.time()))
            return self._last


class AccountSessions:
    """One account's sessions. All methods are atomic (one lock per account)."""

    def __init__(self, max_sessions: int, clock: Clock) -> None:
        self.max_sessions = max_sessions
        self.clock = clock
        self.lock = threading.Lock()
        self._sessions: OrderedDict[str, TrinsicSession] = OrderedDict()
        self._seq = 0

    def create(self, kind: str, provider: str | None, *, session_id: str | None = None) -> TrinsicSession:
        now = self.clock.now()
        with self.lock:
            self._seq += 1
            session = TrinsicSession(
                id=session_id or str(uuid.uuid4()),
                seq=self._seq,
                change_seq=self._seq,
                kind=kind,
                provider=provider,
                created=now,
                updated=now,
                results_access_key=secrets.token_urlsafe(24),
            )
            self._sessions[session.id] = session
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)  # evict the oldest
            return session

    def get(self, session_id: str) -> TrinsicSession | None:
        return self._sessions.get(session_id)

    def __len__(self) -> int:
        return len(self._sessions)

    def snapshot(self) -> list[TrinsicSession]:
        """Sessions in creation order, oldest first."""
        with self.lock:
            return list(self._sessions.values())

    def touch(self, session: TrinsicSession) -> None:
        """Record a state change: ``updated`` moves to now, never backwards (caller holds ``lock``)."""
        session.updated = max(session.updated, self.clock.now())
        self._seq += 1
        session.change_seq = self._seq


class TrinsicStore:
    """All accounts' Trinsic sessions, created lazily per account token."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.clock = Clock()
        self._accounts: dict[str, AccountSessions] = {}
        self._lock = threading.Lock()

    def of(self, token: str) -> AccountSessions:
        sessions = self._accounts.get(token)
        if sessions is None:
            with self._lock:
                sessions = self._accounts.setdefault(token, AccountSessions(self.max_sessions, self.clock))
        return sessions


def order_key(order_by: str, *, failed_first: bool = False) -> Any:
    """Sort key for OrderBy. Ties (same second) fall back to the order of creation, or for Updated to
    the order of the last change, so pages never overlap and a later change sorts later.

    ``failed_first`` (variant trn-state-order, A-13): State sorts failed < succeeded < in progress."""
    if order_by == "Updated":
        return lambda s: (s.updated, s.change_seq)
    if order_by == "State" and failed_first:
        return lambda s: (STATE_RANK_FAILED - s.state_rank, s.seq)
    if order_by == "State":
        return lambda s: (s.state_rank, s.seq)
    return lambda s: (s.created, s.seq)
