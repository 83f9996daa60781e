"""The provider-state hook of a target (target-interface.md): ``POST <url>`` with ``{"state", "params"}``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx

from session_conformance.evidence import EXCHANGES, Exchange, ExchangeLog
from session_conformance.ratelimit import wait_for_slot
from session_conformance.redaction import redact_text, register_secret, remember_secrets
from session_conformance.retry import (
    MAX_ATTEMPTS,
    REPEATABLE_STATES,
    TransportFault,
    backoff,
    drop_example,
    fault_of_exception,
)
from session_conformance.transport import make_httpx_client


class ProviderStateError(RuntimeError):
    """The provider-state hook refused or failed: an error of the run, not a failure of the target."""


class ProviderStateUnknown(ProviderStateError):
    """The hook answered 4xx: it does not offer this state (the check that needs it is skipped)."""


class ProviderState:
    """Calls the provider-state hook (``POST <url>`` with ``{"state", "params"}``)."""

    def __init__(
        self, url: str, token: str, *, timeout: float = 10.0, log: ExchangeLog | None = None
    ) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self.log = log if log is not None else EXCHANGES

    def __call__(
        self, name: str, params: Mapping[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        bearer = token or self.token
        register_secret(bearer)
        with make_httpx_client(self.url, timeout=self.timeout) as http:
            request = http.build_request(
                "POST",
                self.url,
                json={"state": name, "params": dict(params or {})},
                headers={"Authorization": f"Bearer {bearer}"},
            )
            repeatable = name in REPEATABLE_STATES
            for attempt in range(1, MAX_ATTEMPTS + 1):
                wait_for_slot()
                started = time.perf_counter()
                try:
                    response = http.send(request)
                    break
                except httpx.HTTPError as exc:
                    fault = fault_of_exception(exc)
                    if fault is not None and fault.retryable(repeatable) and attempt < MAX_ATTEMPTS:
                        time.sleep(backoff(attempt, None))  # never reached the hook, or a repeat is safe
                        continue
                    message = f"provider state {name!r}: hook unreachable: {redact_text(str(exc))}"
                    if fault is not None:  # the network's: an error of the check, which runs once more
                        failed = TransportFault(f"transport fault (the network's) on the {message}")
                        failed.__cause__ = exc
                        drop_example(failed)  # inside a generated example: only that example is dropped
                        raise failed from exc
                    raise ProviderStateError(message) from None
        exchange = Exchange(
            request.method,
            str(request.url),
            dict(request.headers),
            request.content,
            response.status_code,
            dict(response.headers),
            response.content,
            time.perf_counter() - started,
            raw=response,
        )
        self.log.record(exchange)
        answer = exchange.json_or_none()
        if answer is not None:
            remember_secrets(answer)
            if isinstance(answer, dict):
                for key, value in answer.items():
                    if any(word in key.lower() for word in ("key", "token", "password", "secret")):
                        register_secret(value)
        if 400 <= response.status_code < 500:
            raise ProviderStateUnknown(
                f"the provider-state hook does not offer {name!r} (HTTP {response.status_code})"
            )
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ProviderStateError(
                f"provider state {name!r} could not be set up: HTTP {response.status_code} "
                f"{redact_text(exchange.text[:300])}"
            )
        return answer
