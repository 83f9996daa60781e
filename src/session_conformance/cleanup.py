"""Every session a run creates is ended at its end: Trinsic sessions cancelled, Zitadel sessions deleted.

The client adds each session a create answered (``ApiFamily.created_session``); the plugin runs the
cleanup at the end of the run (also after failures, Ctrl-C and SIGTERM); ``atexit`` is the last resort.
An end call that meets a transient fault (``retry.py``: a cut connection, a timeout, ``429``, a gateway's
``5xx``) is sent again: ending a session twice is harmless (a 4xx other than auth means "already gone").
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from session_conformance.apis import CreatedSession, family_of_api
from session_conformance.ratelimit import wait_for_slot
from session_conformance.redaction import redact_text
from session_conformance.retry import GATEWAY_STATUSES, backoff
from session_conformance.transport import make_httpx_client

__all__ = ["CLEANUP", "Cleanup", "CreatedSession"]

END_ATTEMPTS = 6  # per session: the network may cut the cleanup's requests too


class Cleanup:
    """Every session created through a ``ConformanceClient``; ``run()`` ends them (idempotent)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], CreatedSession] = {}
        self._lock = threading.Lock()
        self.ended: list[CreatedSession] = []
        self.failed: list[tuple[CreatedSession, str]] = []
        self.lost: list[str] = []  # creates whose answer the network lost: a session may exist unknown
        atexit.register(self.run)

    def lost_create(self, what: str) -> None:
        with self._lock:
            self.lost.append(what)

    def add(self, session: CreatedSession) -> None:
        with self._lock:
            self._pending[(session.base_url, session.api, session.session_id)] = session

    def rotate(self, api: str, session_id: str, session_token: str) -> None:
        """A Zitadel SetSession issued a new token: the delete at the end must send that one."""
        with self._lock:
            for key, session in self._pending.items():
                if key[1] == api and key[2] == session_id:
                    self._pending[key] = dataclasses.replace(session, session_token=session_token)

    def forget(self, api: str, session_id: str) -> None:
        with self._lock:
            for key in [k for k in self._pending if k[1] == api and k[2] == session_id]:
                del self._pending[key]

    def pending(self) -> list[CreatedSession]:
        with self._lock:
            return list(self._pending.values())

    def run(self, timeout: float = 5.0, parallel: int = 4) -> list[tuple[CreatedSession, str]]:
        """End every pending session; return those that could not be ended, with the reason.

        A few at a time: one after the other, a few hundred sessions took seconds of a smoke run.
        """
        with self._lock:
            todo, self._pending = list(self._pending.values()), {}
        clients: dict[str, httpx.Client] = {}
        for session in todo:
            if session.base_url not in clients:
                clients[session.base_url] = make_httpx_client(
                    session.base_url, timeout=timeout, limits=httpx.Limits(max_connections=parallel)
                )

        def end(session: CreatedSession) -> str | None:
            reason = ""
            for attempt in range(1, END_ATTEMPTS + 1):
                if attempt > 1:
                    time.sleep(backoff(attempt - 1, None))
                wait_for_slot()
                try:
                    status = family_of_api(session.api).end_session(clients[session.base_url], session)
                except httpx.TransportError as exc:  # cut, refused, timed out: try again
                    reason = f"{type(exc).__name__}: {redact_text(str(exc))}"
                    continue
                except httpx.HTTPError as exc:
                    return f"{type(exc).__name__}: {redact_text(str(exc))}"
                if status == 429 or status in GATEWAY_STATUSES:
                    reason = f"HTTP {status}"
                    continue
                # 4xx other than auth: already ended / gone (fine); 5xx / auth: report
                return f"HTTP {status}" if status >= 500 or status in (401, 403) else None
            return f"{reason} (after {END_ATTEMPTS} attempts)"

        failures: list[tuple[CreatedSession, str]] = []
        try:
            try:
                with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cleanup") as pool:
                    reasons = list(pool.map(end, todo))
            except RuntimeError:  # at interpreter exit (atexit) no new thread may start: one by one
                reasons = [end(session) for session in todo]
            for session, reason in zip(todo, reasons, strict=True):
                if reason is None:
                    self.ended.append(session)
                else:
                    failures.append((session, reason))
        finally:
            for client in clients.values():
                client.close()
        self.failed.extend(failures)
        return failures


CLEANUP = Cleanup()
