"""The busy-account variants: another client that creates, changes and ends sessions while a run goes on.

A target's accounts are not the suite's alone (target interface): other test jobs, people and the run's
own parallel workers write to them too. With ``trn-busy-account`` (Trinsic) or ``ztd-busy-account``
(Zitadel v2 and v2beta) switched on, the embedded server runs a client of its own in a background
thread that talks to it over real HTTP, with the tokens of both accounts, like any other client: it
creates sessions, changes them (Trinsic: finishes them through the provider-state hook; Zitadel: sets
metadata) and ends them (cancel or redact; delete), a few operations a second. It touches only the
sessions it created itself, as another well-behaved client would.
"""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Callable, Iterable

import httpx

from session_conformance.server.state import HOOK_PATH, Account
from session_conformance.server.variants import register

TRINSIC_BUSY = register(
    "trn-busy-account",
    "target interface",
    "another client creates, finishes, cancels and redacts Trinsic sessions in both accounts during the run",
    (),
)
ZITADEL_BUSY = register(
    "ztd-busy-account",
    "target interface",
    "another client creates, changes and deletes v2 and v2beta sessions in both accounts during the run",
    (),
)
BUSY_VARIANTS = (TRINSIC_BUSY, ZITADEL_BUSY)
PAUSE_S = 0.1  # between two operations: ~10 a second, enough to move every total, cheap on 2 cores
KEEP = 4  # live sessions per account and API the client keeps around before it ends one
TRINSIC = "/api/v1/sessions"
ZITADEL_PREFIXES = ("/v2", "/v2beta")


class BusyClient:
    """The other client of a busy account (a daemon thread); ``stop()`` ends it."""

    def __init__(self, base_url: str, accounts: Iterable[Account], variants: Iterable[str]) -> None:
        self.base_url = base_url
        self.accounts = list(accounts)
        self.variants = frozenset(variants)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="busy-account-client", daemon=True)
        self._live: dict[tuple[str, str], list[tuple[str, str | None]]] = {}  # (token, api) -> (id, token)
        self._random = random.Random()
        self.operations = 0  # answered requests, for the tests

    def start(self) -> BusyClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        steps: list[Callable[[httpx.Client, Account], None]] = []
        if TRINSIC_BUSY in self.variants:
            steps.append(self._trinsic)
        if ZITADEL_BUSY in self.variants:
            steps += [self._zitadel(prefix) for prefix in ZITADEL_PREFIXES]
        with httpx.Client(base_url=self.base_url, timeout=5.0) as client:
            while not self._stop.wait(PAUSE_S):
                for account in self.accounts:
                    step = self._random.choice(steps)
                    try:
                        step(client, account)
                    except httpx.HTTPError:
                        continue  # the server is not up yet, or is going down: try again later

    def _auth(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token}"}

    def _trinsic(self, client: httpx.Client, account: Account) -> None:
        live = self._live.setdefault((account.token, "trinsic"), [])
        auth = self._auth(account)
        if len(live) < KEEP or self._random.random() < 0.4:
            answer = client.post(f"{TRINSIC}/widget", json={}, headers=auth)
            if answer.status_code == 200:
                live.append((answer.json()["sessionId"], None))
        else:
            session_id, _ = live.pop(self._random.randrange(len(live)))
            action = self._random.choice(("finish", "cancel", "redact"))
            if action == "finish":
                params = {"session_id": session_id, "success": self._random.random() < 0.5}
                if not params["success"]:
                    params["error_code"] = "UserAbandoned"
                body = {"state": "trinsic session finished", "params": params}
                client.post(HOOK_PATH, json=body, headers=auth)
            elif action == "cancel":
                client.post(f"{TRINSIC}/{session_id}/cancel", headers=auth)
            else:
                client.post(f"{TRINSIC}/{session_id}/cancel", headers=auth)
                client.post(f"{TRINSIC}/{session_id}/redact", headers=auth)
        self.operations += 1

    def _zitadel(self, prefix: str) -> Callable[[httpx.Client, Account], None]:
        def step(client: httpx.Client, account: Account) -> None:
            live = self._live.setdefault((account.token, prefix), [])
            auth = self._auth(account)
            roll = self._random.random()
            if len(live) < KEEP or roll < 0.3:
                body = {"metadata": {"busy": base64.b64encode(b"created").decode()}}
                answer = client.post(f"{prefix}/sessions", json=body, headers=auth)
                if answer.status_code == 201:
                    data = answer.json()
                    live.append((data["sessionId"], data.get("sessionToken")))
            elif roll < 0.7:
                session_id, _ = self._random.choice(live)
                value = base64.b64encode(str(self._random.random()).encode()).decode()
                body = {"metadata": {"busy": value}}
                client.patch(f"{prefix}/sessions/{session_id}", json=body, headers=auth)
            else:
                session_id, _ = live.pop(self._random.randrange(len(live)))
                client.request("DELETE", f"{prefix}/sessions/{session_id}", json={}, headers=auth)
            self.operations += 1

        return step


def busy_client(base_url: str, accounts: Iterable[Account], variants: Iterable[str]) -> BusyClient | None:
    """The other client the variants ask for (not started), or None when no busy variant is on."""
    on = [name for name in BUSY_VARIANTS if name in set(variants)]
    return BusyClient(base_url, accounts, on) if on else None
