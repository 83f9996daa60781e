"""Every session a run creates is ended at its end: Trinsic sessions cancelled, Zitadel sessions deleted.

The client adds each session a create answered (``ApiFamily.created_session``); the plugin runs the
cleanup at the end of the run (also after failures, Ctrl-C and SIGTERM); ``atexit`` is the last resort.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from session_conformance.apis import CreatedSession, family_of_api
from session_conformance.redaction import redact_text
from session_conformance.transport import make_httpx_client

__all__ = ["CLEANUP", "Cleanup", "CreatedSession"]


class Cleanup:
    """Every session created through a ``ConformanceClient``; ``run()`` ends them (idempotent)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], CreatedSession] = {}
        self._lock = threading.Lock()
        self.ended: list[CreatedSession] = []
        self.failed: list[tuple[CreatedSession, str]] = []
        atexit.register(self.run)

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
            try:
                status = family_of_api(session.api).end_session(clients[session.base_url], session)
            except httpx.HTTPError as exc:
                return f"{type(exc).__name__}: {redact_text(str(exc))}"
            # 4xx other than auth: already ended / gone (fine); 5xx / auth: report
            return f"HTTP {status}" if status >= 500 or status in (401, 403) else None

        failures: list[tuple[CreatedSession, str]] = []
        try:
            with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cleanup") as pool:
                for session, reason in zip(todo, pool.map(end, todo), strict=True):
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
