"""The suite's HTTP client: base URL, bearer auth, timeouts, retries of network faults, rate limit, recording.

Every answer is recorded (``evidence.EXCHANGES``), its secrets registered for masking, and every
session it creates handed to the cleanup. A transient fault (``retry.py``) is re-sent when that is safe,
every retry noted on the exchange; otherwise it raises ``retry.TransportFault`` (an error of the check,
never a failure; inside a generated example, that example is dropped: ``retry.drop_example``).
Judging answers is not its job (``checks``, ``harness``).
"""

from __future__ import annotations

import contextlib
import functools
import json as jsonlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from session_conformance.ahead import Ahead, fingerprint
from session_conformance.apis import family_of_api
from session_conformance.cleanup import CLEANUP, Cleanup
from session_conformance.contracts import (
    WRITE_OPERATIONS,
    Contracts,
    Operation,
    OperationIndex,
    load_contracts,
)
from session_conformance.evidence import EXCHANGES, Exchange, ExchangeLog
from session_conformance.ratelimit import wait_for_slot
from session_conformance.redaction import register_secret, remember_secrets
from session_conformance.retry import (
    GATEWAY_STATUSES,
    MAX_ATTEMPTS,
    Fault,
    TransportFault,
    backoff,
    drop_example,
    fault_of_exception,
    fault_of_response,
    is_repeatable,
)
from session_conformance.transport import make_httpx_client


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default()  # "use the client's own token"
_UNSET: Final = object()


class ReadOnlyViolation(RuntimeError):
    """The suite tried to send a write while ``--read-only`` is on (a suite bug, not a target failure)."""


class ConformanceClient:
    """HTTP access to the target for one account (``token``; ``None``: no ``Authorization`` header)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        strict: bool = False,
        read_only: bool = False,
        name: str = "primary",
        contracts: Contracts | None = None,
        cleanup: Cleanup | None = None,
        log: ExchangeLog | None = None,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        ahead: int = 1,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.base_path = urlsplit(self.base_url).path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.strict = strict
        self.read_only = read_only
        self.name = name
        self.contracts = contracts or load_contracts()
        self.index = OperationIndex(self.contracts)
        self.cleanup = cleanup if cleanup is not None else CLEANUP
        self.log = log if log is not None else EXCHANGES
        self.max_attempts = max_attempts
        self._http = make_httpx_client(self.base_url, timeout=timeout, transport=transport)
        self.ahead = ahead  # requests ``sending_ahead`` keeps in flight at once (``network.requests_ahead``)
        self._ahead: Ahead[_Outcome] | None = None  # inside ``sending_ahead``
        register_secret(token)

    def __repr__(self) -> str:
        return f"ConformanceClient({self.name!r}, {self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    # --- sending ---

    def _rel_path(self, url: str) -> str:
        path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
        if self.base_path and path.startswith(self.base_path):
            path = path[len(self.base_path) :]
        return path or "/"

    def operation_for(self, method: str, url: str) -> Operation | None:
        return self.index.match(method, self._rel_path(url))

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = _UNSET,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | str | None = None,
        token: str | _Default | None = DEFAULT,
        timeout: float | None = None,
        retry: bool = True,
    ) -> Exchange:
        """Send one request; ``path`` is relative to the base URL (or absolute). Never raises for a status.

        A transient fault is re-sent when that is safe (``retry.py``), waiting ``Retry-After`` or a short
        backoff, all waits together within the request timeout. A fault that cannot be re-sent, or whose
        re-sends ran out, raises ``TransportFault`` after it is recorded: the check errors, it does not
        fail a rule. ``retry=False``: one attempt; a ``429``/gateway answer is then returned as it is.
        A request that was sent ahead (``sending_ahead``) is not sent again: its outcome is taken.
        """
        plan = self._plan(method, path, json, params, headers, content, token, timeout, retry)
        outcome = self._ahead.take(fingerprint(plan.request)) if self._ahead is not None else None
        return self._settle(outcome if outcome is not None else self._attempts(plan))

    @contextlib.contextmanager
    def sending_ahead(self, prepared: Iterable[Mapping[str, Any]]) -> Iterator[None]:
        """Send these requests (``send_prepared`` arguments) ahead, ``self.ahead`` at a time (``ahead.py``).

        Inside the block, ``request`` takes the outcome of a request sent ahead instead of sending it;
        on leaving, the answers not taken are recorded (and their sessions handed to the cleanup).
        """
        if self.ahead <= 1 or self._ahead is not None:
            yield
            return
        ahead: Ahead[_Outcome] = Ahead(self.ahead)
        for kwargs in prepared:
            try:
                plan = self._plan(*_prepared_args(kwargs), token=DEFAULT, timeout=None, retry=True)
            except ReadOnlyViolation:
                continue  # raised again when the check itself asks for it
            ahead.submit(fingerprint(plan.request), functools.partial(self._attempts, plan))
        self._ahead = ahead
        try:
            yield
        finally:
            self._ahead = None
            for outcome in ahead.close():
                with contextlib.suppress(httpx.HTTPError):
                    self._settle(outcome, dropping=False)

    def _plan(
        self,
        method: str,
        path: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        content: bytes | str | None,
        token: str | _Default | None,
        timeout: float | None,
        retry: bool,
    ) -> _Plan:
        method = method.upper()
        op = self.operation_for(method, path)
        if self.read_only and op is not None and op.key in WRITE_OPERATIONS:
            raise ReadOnlyViolation(f"--read-only: refusing to send {method} {path} ({op.key})")
        send_headers: dict[str, str] = dict(headers or {})
        bearer = self.token if isinstance(token, _Default) else token
        if bearer is not None and not any(k.lower() == "authorization" for k in send_headers):
            send_headers["Authorization"] = f"Bearer {bearer}"
        register_secret(bearer)
        kwargs: dict[str, Any] = {"headers": send_headers, "params": params}
        if json is not _UNSET:
            kwargs["json"] = json
        elif content is not None:
            kwargs["content"] = content
        if timeout is not None:
            kwargs["timeout"] = timeout
        build = functools.partial(self._http.build_request, method, path, **kwargs)
        return _Plan(
            op=op,
            bearer=bearer,
            request=build(),
            build=build,
            repeatable=is_repeatable(method, op),
            retry=retry,
            wait_budget=timeout if timeout is not None else self.timeout,
        )

    def _attempts(self, plan: _Plan) -> _Outcome:
        """Send until an answer, or a fault that may not (or need not) be re-sent; records nothing.

        Runs on a thread of its own for requests sent ahead: it touches no state but the connection pool
        (thread-safe) and the rate limit's schedule (locked).
        """
        request, wait_budget = plan.request, plan.wait_budget
        retries: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                request = plan.build()
            wait_for_slot()
            started = time.perf_counter()
            response: httpx.Response | None = None
            cause: httpx.HTTPError | None = None
            try:
                response = self._http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                found = fault_of_exception(exc)
                if found is None:  # not the network's (a bad URL...): raised as it is
                    spent = time.perf_counter() - started
                    return _Outcome(plan, request, None, spent, attempt, retries, error=exc)
                fault: Fault | None = found
                cause = exc
            else:
                fault = fault_of_response(
                    response.status_code, response.headers, self._api_shape(plan.op, response)
                )
            elapsed = time.perf_counter() - started
            if fault is None or (not plan.retry and response is not None):
                return _Outcome(plan, request, response, elapsed, attempt, retries)
            wait = backoff(attempt, fault.retry_after)
            safe = fault.retryable(plan.repeatable)
            if plan.retry and safe and attempt < self.max_attempts and wait <= wait_budget:
                wait_budget -= wait
                retries.append(f"attempt {attempt}: {fault.description}; re-sent after {wait:.2f} s")
                if wait > 0:
                    time.sleep(wait)
                continue
            return _Outcome(plan, request, response, elapsed, attempt, retries, fault, safe, wait, cause)

    def _settle(self, outcome: _Outcome, *, dropping: bool = True) -> Exchange:
        """Record an outcome; hand its session to the cleanup, or raise its fault (see ``request``)."""
        op, request, attempt = outcome.plan.op, outcome.request, outcome.attempt
        if outcome.error is not None:
            error = f"{type(outcome.error).__name__}: {outcome.error}"
            self.log.record(self._exchange(request, None, outcome.elapsed, op, attempt, error))
            raise outcome.error
        if outcome.fault is None:
            exchange = self._exchange(
                request, outcome.response, outcome.elapsed, op, attempt, retries=outcome.retries
            )
            self.log.record(exchange)
            self._after(exchange, outcome.plan.bearer)
            return exchange
        failed = self._give_up(
            request,
            outcome.response,
            outcome.elapsed,
            op,
            attempt,
            outcome.retries,
            outcome.fault,
            outcome.safe,
            outcome.wait,
        )
        failed.__cause__ = outcome.cause
        if dropping:
            drop_example(failed)  # inside a generated example: that example is dropped, not the check
        raise failed

    def _api_shape(self, op: Operation | None, response: httpx.Response) -> bool:
        """Whether a gateway status came in the API's own error shape (then it is the API's answer)."""
        if op is None or response.status_code not in GATEWAY_STATUSES:
            return False
        fam = family_of_api(op.api)
        try:
            body = jsonlib.loads(response.content)
        except (ValueError, RecursionError):
            return False
        return op.has_def(fam.error_def) and not self.contracts.validate(op, fam.error_def, body)

    def _give_up(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        elapsed: float,
        op: Operation | None,
        attempt: int,
        retries: list[str],
        fault: Fault,
        safe: bool,
        wait: float,
    ) -> TransportFault:
        exchange = self._exchange(request, response, elapsed, op, attempt, fault.description, retries=retries)
        self.log.record(exchange)
        if not safe:
            why = "not re-sent: a repeat could answer differently, or create a second session"
        elif attempt >= self.max_attempts:
            why = f"still failing after {attempt} attempts"
        else:
            why = f"the next wait ({wait:.1f} s) would exceed the request timeout"
        what = op.key if op is not None else f"{request.method} {request.url.path}"
        lost_create = (
            fault.delivered
            and op is not None
            and family_of_api(op.api).is_create(request.method, self._rel_path(str(request.url)))
        )
        if lost_create:
            self.cleanup.lost_create(what)
        return TransportFault(
            f"transport fault (the network's, not a rule of the target) on {what}: "
            f"{fault.description}; {why}",
            exchange=exchange,
            lost_create=lost_create,
        )

    def _exchange(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        elapsed: float,
        op: Operation | None,
        attempts: int,
        error: str | None = None,
        *,
        retries: list[str] | None = None,
    ) -> Exchange:
        return Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=dict(request.headers),
            request_body=request.content,
            status=response.status_code if response is not None else 0,
            headers=dict(response.headers) if response is not None else {},
            body=response.content if response is not None else b"",
            elapsed=elapsed,
            api=op.api if op else None,
            operation_id=op.operation_id if op else None,
            error=error,
            attempts=attempts,
            retries=list(retries or ()),
            raw=response,
        )

    def _after(self, exchange: Exchange, bearer: str | None) -> None:
        body = exchange.json_or_none() if exchange.body else None
        if body is not None:
            with contextlib.suppress(RecursionError):
                remember_secrets(body)  # tokens, keys, launch URLs: masked wherever they show up later
        if exchange.api is None or not 200 <= exchange.status < 300:
            return
        fam, path = family_of_api(exchange.api), self._rel_path(exchange.url)
        created = fam.created_session(
            exchange.api, exchange.method, path, body, base_url=self.base_url, token=bearer
        )
        if created is not None:
            self.cleanup.add(created)
        rotated = fam.rotated_token(exchange.method, path, body, exchange.request_body)
        if rotated is not None:
            self.cleanup.rotate(*rotated)

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("DELETE", path, **kwargs)

    def send_prepared(self, kwargs: Mapping[str, Any], *, token: str | _Default | None = DEFAULT) -> Exchange:
        """Send a request given as requests-style keyword arguments (Schemathesis ``as_transport_kwargs``).

        Headers from the case are kept; an ``Authorization`` header already present there wins.
        """
        method, url, body, params, headers, content = _prepared_args(kwargs)
        return self.request(
            method, url, json=body, content=content, params=params, headers=headers, token=token
        )


def _prepared_args(
    kwargs: Mapping[str, Any],
) -> tuple[str, str, Any, Mapping[str, Any] | None, dict[str, str], bytes | str | None]:
    """``send_prepared``'s arguments as ``request``'s: method, URL, JSON body, params, headers, content."""
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    params = kwargs.get("params")
    body: Any = _UNSET
    content: bytes | str | None = None
    if "json" in kwargs:
        body = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        content = data if isinstance(data, (bytes, str)) else jsonlib.dumps(data)
    if isinstance(params, str):
        url = f"{kwargs['url']}?{params}" if params else kwargs["url"]
        params = None
    else:
        url = kwargs["url"]
    return str(kwargs["method"]), url, body, params, headers, content


@dataclass(frozen=True)
class _Plan:
    """One request as the client will send it (and re-send it, rebuilt, after a transient fault)."""

    op: Operation | None
    bearer: str | None
    request: httpx.Request
    build: Callable[[], httpx.Request]
    repeatable: bool
    retry: bool
    wait_budget: float


@dataclass
class _Outcome:
    """What sending a request came to: its last attempt's answer, or the fault or error it ended on."""

    plan: _Plan
    request: httpx.Request
    response: httpx.Response | None
    elapsed: float
    attempt: int
    retries: list[str]
    fault: Fault | None = None
    safe: bool = False
    wait: float = 0.0
    cause: httpx.HTTPError | None = None
    error: httpx.HTTPError | None = None  # not the network's: raised as it is
