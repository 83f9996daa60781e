"""Which faults are the network's, not the target's: what may be re-sent, and how long to wait first.

A fault is *transient* when it says nothing about the target's rules: a connection that was cut or
refused, a timeout, a ``429``, or a ``502``/``503``/``504`` whose body is not in the API's error shape
(a gateway or load balancer answered, not the API). The client (``http.py``) re-sends a request after
such a fault when that is safe:

- always when the request cannot have reached the API: the connection was never made or the request
  never written (``ConnectError``, ``ConnectTimeout``, ``WriteError``, ``PoolTimeout``), or the answer
  was ``429`` (refused, not processed);
- otherwise only when a repeat answers as the first would have: ``GET``, and the operations the fact
  sheets make repeatable (each family's ``repeatable_operations``: Trinsic's results read, Zitadel's
  search and its idempotent delete, ZTD-R51). A create is not: it would make a second session, and
  the first (whose answer was lost) could not be ended.

A request that cannot be re-sent, or whose retries ran out, raises ``TransportFault``: the check ends
as an **error** naming the fault, never as a failure of a rule. Inside a property-based example
(Hypothesis, Schemathesis), ``drop_example`` drops that example instead (Hypothesis' ``reject()``, as
Schemathesis' own engine does with a transport failure of a stateful step): it judged nothing, the
check goes on with the other examples, and the fault is noted in the check's evidence (``DROPPED``).
An example that already broke a rule has raised before its fault, so a drop never hides a failure.
"""

from __future__ import annotations

import email.utils
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from hypothesis import reject
from hypothesis.control import currently_in_test_context

from session_conformance.apis import family_of_api

if TYPE_CHECKING:
    from session_conformance.contracts import Operation

MAX_ATTEMPTS = 4  # the first send and up to three re-sends
MAX_RETRY_WAIT = 30.0  # seconds; a longer Retry-After is capped
BACKOFF_BASE = 0.1  # seconds before the first re-send without Retry-After; doubled each time
GATEWAY_STATUSES = frozenset({502, 503, 504})
# the request never reached the API: re-sending is safe for every request
_UNDELIVERED = (httpx.ConnectError, httpx.ConnectTimeout, httpx.WriteError, httpx.PoolTimeout)


class TransportFault(httpx.TransportError):
    """The network lost a request or its answer and it could not safely be re-sent: an error, not a failure.

    An ``httpx.TransportError`` so that code which already treats transport errors as the environment's
    keeps doing so. ``exchange`` is the last attempt's record (``status`` 0 when no answer arrived).
    """

    def __init__(self, message: str, *, exchange: object = None, lost_create: bool = False) -> None:
        super().__init__(message)
        self.evidence = exchange  # the plugin shows it as the check's evidence
        self.lost_create = lost_create  # a create whose answer was lost: a session may exist unknown


@dataclass(frozen=True)
class Fault:
    """One transient fault of one attempt."""

    description: str  # "RemoteProtocolError: Server disconnected...", "HTTP 503 without the API's ..."
    delivered: bool  # False: the request cannot have reached the API
    retry_after: float | None = None  # seconds the answer asked us to wait

    def retryable(self, repeatable: bool) -> bool:
        return repeatable or not self.delivered


def fault_of_exception(exc: httpx.HTTPError) -> Fault | None:
    """The fault a transport exception is; ``None`` for one that is not the network's (e.g. a bad URL)."""
    if not isinstance(exc, httpx.TransportError) or isinstance(exc, httpx.UnsupportedProtocol):
        return None
    if isinstance(exc, httpx.ProxyError):
        return None
    name = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Fault(name, not isinstance(exc, _UNDELIVERED))


def fault_of_response(status: int, headers: httpx.Headers, has_api_shape: bool) -> Fault | None:
    """The fault an answer is: ``429`` (any body), or a gateway status not in the API's error shape."""
    if status == 429:
        return Fault("HTTP 429 Too Many Requests", False, retry_after_seconds(headers.get("retry-after")))
    if status in GATEWAY_STATUSES and not has_api_shape:
        return Fault(
            f"HTTP {status} without the API's error shape (a gateway's answer)",
            True,
            retry_after_seconds(headers.get("retry-after")),
        )
    return None


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header in seconds (delta-seconds or an HTTP date), capped; ``None`` when absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_WAIT)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_WAIT)


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before re-send number ``attempt`` (from 1): ``Retry-After``, else jittered doubling."""
    if retry_after is not None:
        return retry_after
    base = min(BACKOFF_BASE * 2 ** (attempt - 1), MAX_RETRY_WAIT)
    return base * (0.5 + random.random() / 2)  # jitter, not a secret


def transport_fault_in(exc: BaseException, depth: int = 0) -> httpx.TransportError | None:
    """The network's fault an exception is, holds or was raised from, if any.

    Hypothesis wraps what it re-ran in groups, and a stateful test whose step met a fault may end in
    Hypothesis' own error ("inconsistent data generation") raised from it.
    """
    if isinstance(exc, httpx.TransportError):
        return exc
    if depth > 8:
        return None
    inner = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else []
    inner += [e for e in (exc.__cause__, exc.__context__) if e is not None]
    for candidate in inner:
        found = transport_fault_in(candidate, depth + 1)
        if found is not None:
            return found
    return None


# Provider states whose repeat sets up the same state (target-interface.md): "a user exists" holds however
# often it is asked for; "session finished" is not (the session is already done the second time).
REPEATABLE_STATES = frozenset({"zitadel user exists"})


def is_repeatable(method: str, op: Operation | None) -> bool:
    """Whether re-sending the request answers as the first send would have (see the module)."""
    if method.upper() in ("GET", "HEAD", "OPTIONS"):
        return True
    if op is None:
        return False
    return op.operation_id in family_of_api(op.api).repeatable_operations


class _Dropped:
    """The transport faults whose examples the running check dropped (the plugin starts it per test)."""

    def __init__(self) -> None:
        self.current: list[str] = []

    def start(self) -> None:
        self.current = []


DROPPED = _Dropped()


def drop_example(fault: TransportFault) -> None:
    """Inside a property-based example: note ``fault`` and drop the example (see the module); else return."""
    if not currently_in_test_context():
        return
    DROPPED.current.append(str(fault).splitlines()[0][:500])
    try:
        reject()
    except BaseException as drop:
        drop.__cause__ = fault  # the plugin still finds the fault when every example was dropped
        raise
