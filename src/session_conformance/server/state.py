"""What every part of the embedded server shares: accounts, switched-on faults, limits."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from session_conformance.server.faults import FaultSet
from session_conformance.server.variants import VariantSet

T = TypeVar("T")

DEFAULT_MAX_SESSIONS = 5000  # per account and API; oldest sessions are evicted first
HOOK_PATH = "/_conformance/provider-state"


@dataclass(frozen=True)
class Account:
    """An account is a bearer token; for Zitadel it is also an instance with its own users."""

    name: str
    token: str
    instance_id: str  # decimal, like Zitadel resource IDs
    caller_user_id: str  # the Zitadel user the token belongs to (creator of its sessions)
    # the Zitadel session permissions of the caller (Z-06: an account's own token holds all three)
    permissions: frozenset[str] = frozenset({"session.read", "session.write", "session.delete"})


SESSION_WRITE_ONLY = frozenset({"session.write"})


def new_restricted_callers(accounts: list[Account]) -> list[Account]:
    """The primary account's second Zitadel caller (``--zitadel-restricted-token``): a service user of
    the same instance with session.write only."""
    primary = accounts[0]
    token = "rst_" + secrets.token_urlsafe(24)
    return [Account("restricted", token, primary.instance_id, "310000000000000011", SESSION_WRITE_ONLY)]


def new_accounts() -> list[Account]:
    return [
        Account("primary", "pri_" + secrets.token_urlsafe(24), "300000000000000001", "310000000000000001"),
        Account("secondary", "sec_" + secrets.token_urlsafe(24), "300000000000000002", "310000000000000002"),
    ]


@dataclass
class ServerState:
    accounts: list[Account] = field(default_factory=new_accounts)
    faults: FaultSet = field(default_factory=FaultSet)
    variants: VariantSet = field(default_factory=VariantSet)
    max_sessions: int = DEFAULT_MAX_SESSIONS
    # each API module keeps its session store here, under the module's name, created on first use
    stores: dict[str, Any] = field(default_factory=dict)
    # Zitadel callers of an account's instance with fewer permissions (not accounts of their own)
    restricted: list[Account] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.restricted:
            self.restricted = new_restricted_callers(self.accounts)

    def owner_of(self, caller: Account) -> Account:
        """The account whose instance ``caller`` belongs to (itself, unless a restricted caller)."""
        return next((a for a in self.accounts if a.instance_id == caller.instance_id), caller)

    def zitadel_caller_for(self, authorization: str | None) -> Account | None:
        """The Zitadel caller of an ``Authorization`` header: an account, or a restricted caller."""
        found = self.account_for(authorization)
        if found is not None or not authorization:
            return found
        scheme, _, token = authorization.partition(" ")
        for caller in self.restricted if scheme.lower() == "bearer" else ():
            if secrets.compare_digest(caller.token, token.strip()):
                return caller
        return None

    def store(self, name: str, factory: Callable[[int], T]) -> T:
        if name not in self.stores:
            self.stores[name] = factory(self.max_sessions)
        return cast(T, self.stores[name])

    def account_for(self, authorization: str | None) -> Account | None:
        """The account of an ``Authorization: Bearer <token>`` header, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        for account in self.accounts:
            if secrets.compare_digest(account.token, token.strip()):
                return account
        return None


# Providers the embedded Trinsic server enables for every account (used when --trinsic-provider is
# absent; `serve` prints them): a browser-redirect flow, a deeplink + polling flow, refreshable content.
EMBEDDED_TRINSIC_PROVIDER = "conformance-test"
EMBEDDED_TRINSIC_PROVIDERS = (
    EMBEDDED_TRINSIC_PROVIDER,
    "conformance-test-mobile",
    "conformance-test-content",
)
