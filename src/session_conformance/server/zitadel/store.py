"""What the embedded Zitadel server remembers: one instance per account, with users, intents, sessions.

Every account (bearer token) is its own instance; v2 and v2beta share it (one backend, two APIs).
Everything is bounded: sessions (``max_sessions``, oldest evicted first), deleted-session
tombstones, users and IdP intents. Mutations happen under the instance's lock.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from session_conformance.server.state import Account

MAX_USERS = 1000  # per instance (provider-state users), oldest dropped first
MAX_INTENTS = 1000
MAX_OLD_TOKENS = 8  # only kept for the ztd-old-token-valid fault
LOCKOUT_MAX_ATTEMPTS = 10  # the instance's lockout policy (Zitadel's default is 0 = no lockout)
OTP_LENGTH = 8


class Clock:
    """Nanoseconds since the epoch that strictly increase: every event has its own time."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def now(self) -> int:
        with self._lock:
            self._last = max(time.time_ns(), self._last + 1)
            return self._last


class Snowflake:
    """Decimal IDs in the style of Zitadel's sonyflake: 10 ms ticks since 2019-04-29, sequence, machine."""

    EPOCH_NS = 1_556_496_000_000_000_000  # 2019-04-29T00:00:00Z
    MACHINE = 0x2A

    def __init__(self) -> None:
        self._tick = 0
        self._seq = 0
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            tick = (time.time_ns() - self.EPOCH_NS) // 10_000_000
            if tick > self._tick:
                self._tick, self._seq = tick, 0
            else:
                self._seq += 1
                if self._seq > 0xFF:  # 256 IDs per tick: borrow the next tick
                    self._tick, self._seq = self._tick + 1, 0
            return str((self._tick << 24) | (self._seq << 16) | self.MACHINE)


_TOKEN = re.compile(r"[A-Za-z0-9_-]*")


def new_token() -> str:
    """Opaque, URL-safe base64 without padding (like Zitadel's encrypted session tokens)."""
    return secrets.token_urlsafe(32)


def token_decodable(token: str) -> bool:
    """What Zitadel checks first: base64.RawURLEncoding can decode it (else 400, not 403)."""
    return bool(_TOKEN.fullmatch(token)) and len(token) % 4 != 1


@dataclass(slots=True)
class User:
    id: str
    login_name: str
    display_name: str
    organization_id: str
    password: str
    otp_sms: bool = True
    otp_email: bool = True
    totp: bool = False  # provider-state users never have TOTP (no way to share the secret)
    failed_attempts: int = 0
    locked: bool = False


@dataclass(slots=True)
class Intent:
    id: str
    token: str
    user_id: str
    used: bool = False


@dataclass(slots=True)
class Session:
    id: str
    creator: str
    created: int
    changed: int
    token: str
    sequence: int = 1
    user_id: str = ""
    user_login: str = ""  # the user factor's details as of the last user check
    user_display: str = ""
    user_org: str = ""
    factors: dict[str, int] = field(default_factory=dict)  # factor name -> verifiedAt (ns)
    webauthn_verified_user: bool = False
    metadata: dict[str, bytes] = field(default_factory=dict)
    user_agent: dict[str, Any] | None = None
    expiration: int | None = None
    otp_sms_code: str | None = None
    otp_email_code: str | None = None
    webauthn_challenge: tuple[str, int] | None = None  # (challenge, user verification requirement)
    old_tokens: list[str] = field(default_factory=list)
    terminated: bool = False
    rendered: bytes | None = None  # cached JSON of the Session message; None after any change

    def touch(self) -> None:
        self.rendered = None


class Instance:
    """One account's Zitadel instance."""

    def __init__(self, account: Account, max_sessions: int, ids: Snowflake) -> None:
        self.account = account
        self.id = account.instance_id
        self.max_sessions = max(1, max_sessions)
        self.ids = ids
        self.organization_id = ids.next()
        self.lock = threading.Lock()
        self.sessions: OrderedDict[str, Session] = OrderedDict()  # creation order
        self.tombstones: OrderedDict[str, Session] = OrderedDict()  # deleted, for idempotent delete
        self.users: OrderedDict[str, User] = OrderedDict()
        self.logins: dict[str, str] = {}
        self.intents: OrderedDict[str, Intent] = OrderedDict()
        self.events = 0  # instance-wide event count: ListDetails.processedSequence
        self.list_view: list[Session] | None = None  # ztd-list-lag: the lagging projection ListSessions reads
        self.list_view_at = 0

    def add_session(self, session: Session) -> None:
        self.sessions[session.id] = session
        while len(self.sessions) > self.max_sessions:
            self.sessions.popitem(last=False)

    def bury(self, session: Session) -> None:
        self.sessions.pop(session.id, None)
        session.terminated = True
        session.touch()
        self.tombstones[session.id] = session
        while len(self.tombstones) > self.max_sessions:
            self.tombstones.popitem(last=False)

    def add_user(self) -> User:
        user_id = self.ids.next()
        user = User(
            id=user_id,
            login_name=f"user-{user_id}@conformance.test",
            display_name=f"Conformance User {user_id[-6:]}",
            organization_id=self.organization_id,
            password="Pw-" + secrets.token_urlsafe(12) + "!1",
        )
        with self.lock:
            self.users[user.id] = user
            self.logins[user.login_name] = user.id
            while len(self.users) > MAX_USERS:
                _, dropped = self.users.popitem(last=False)
                self.logins.pop(dropped.login_name, None)
        return user

    def user_by(self, by: str, value: str) -> User | None:
        user_id = self.logins.get(value) if by == "loginName" else value
        return self.users.get(user_id) if user_id is not None else None

    def add_intent(self, user_id: str) -> Intent:
        intent = Intent(self.ids.next(), secrets.token_urlsafe(32), user_id)
        with self.lock:
            self.intents[intent.id] = intent
            while len(self.intents) > MAX_INTENTS:
                self.intents.popitem(last=False)
        return intent


class Store:
    """All instances of one server, created on first use."""

    def __init__(self, max_sessions: int) -> None:
        self.max_sessions = max_sessions
        self.clock = Clock()
        self.ids = Snowflake()
        self._instances: dict[str, Instance] = {}
        self._lock = threading.Lock()

    def instance(self, account: Account) -> Instance:
        found = self._instances.get(account.token)
        if found is None:
            with self._lock:
                found = self._instances.get(account.token)
                if found is None:
                    found = Instance(account, self.max_sessions, self.ids)
                    self._instances[account.token] = found
        return found

    def instances(self) -> list[Instance]:
        return list(self._instances.values())


def new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(OTP_LENGTH))
