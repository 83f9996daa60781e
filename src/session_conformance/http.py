"""The one HTTP client of the suite (httpx): base URL, bearer auth, timeouts, 429 handling, recording,
contract checks with rule IDs, and cleanup of every session the run creates.

Rule mapping of ``check_contract`` (also in docs/decisions/suite.md):

| API | response | rule |
|---|---|---|
| Trinsic | 2xx status not documented, 2xx body / content type not as documented | TRN-R04 |
| Trinsic | a value outside its enum (any response) | TRN-R42 |
| Trinsic | 401 / 403 not as documented | TRN-R02 |
| Trinsic | any other error status not documented, error body not ProblemDetails | TRN-R03 |
| Zitadel | create answers other than 201 on success | ZTD-R02 |
| Zitadel | other operations' success status not 200 | ZTD-R03 |
| Zitadel | a `null` anywhere in a success body | ZTD-R08 |
| Zitadel | 2xx body / content type not as documented (names, int64 strings, formats, enums) | ZTD-R07 |
| Zitadel | 401 status or body not as documented | ZTD-R01 |
| Zitadel | any other error status not documented, error body not `rpcStatus` | ZTD-R04 |
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import email.utils
import json as jsonlib
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import jsonschema

from session_conformance.contracts import API_FAMILY, Contracts, Operation, load_contracts
from session_conformance.evidence import Exchange
from session_conformance.redaction import redact_json, redact_text, register_secret
from session_conformance.verdict import RuleViolation


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Final = _Default()  # "use the client's own token"
_UNSET: Final = object()
MAX_429_RETRIES = 3
MAX_RETRY_WAIT = 30.0  # seconds; a longer Retry-After is capped
USER_AGENT = "session-conformance"

_READ_POSTS = re.compile(r"/(search|results|list)/?$")


def is_write(op: Operation) -> bool:
    """Whether an operation creates, changes or deletes something (refused under ``--read-only``).

    Every PATCH/PUT/DELETE, and every POST except the reads sent as POST (``.../search``, ``.../results``).
    """
    return op.method in ("PATCH", "PUT", "DELETE") or (
        op.method == "POST" and not _READ_POSTS.search(op.path)
    )


def is_create(op: Operation) -> bool:
    """A session create (Trinsic widget, hosted, advanced; Zitadel create)."""
    return op.method == "POST" and bool(_TRINSIC_CREATE.match(op.path) or _ZITADEL_CREATE.match(op.path))


class _WriteKeys:
    """``op.key in WRITE_OPERATIONS``: the write operations among the loaded contracts."""

    def __contains__(self, key: object) -> bool:
        op = load_contracts().operations.get(str(key))
        return op is not None and is_write(op)


WRITE_OPERATIONS = _WriteKeys()
_TRINSIC_CREATE = re.compile(r"^/api/v1/sessions/(widget|provider/hosted|provider/advanced)/?$")
_ZITADEL_CREATE = re.compile(r"^/(v2|v2beta)/sessions/?$")
_ZITADEL_SET = re.compile(r"^/(v2|v2beta)/sessions/([^/?]+)$")


class ReadOnlyViolation(RuntimeError):
    """The suite tried to send a write while ``--read-only`` is on (a suite bug, not a target failure)."""


class ProviderStateError(RuntimeError):
    """The provider-state hook refused or failed: an error of the run, not a failure of the target."""


class ProviderStateUnknown(ProviderStateError):
    """The hook answered 4xx: it does not offer this state (the check that needs it is skipped)."""


# --- exchange recording --------------------------------------------------------------------------


class ExchangeLog:
    """Collects the exchanges of the running test (the plugin starts and stops it around each test)."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self.current: list[Exchange] | None = None
        self.seen: set[str] = set()  # "api:operationId status" of every exchange of the test (coverage)

    def start(self) -> list[Exchange]:
        self.current = []
        self.seen = set()
        return self.current

    def stop(self) -> list[Exchange]:
        exchanges, self.current = self.current or [], None
        return exchanges

    def record(self, exchange: Exchange) -> None:
        if self.current is not None:
            self.current.append(exchange)
            if exchange.operation and exchange.status:
                self.seen.add(f"{exchange.operation} {exchange.status}")
            if len(self.current) > self.limit:
                del self.current[: len(self.current) - self.limit]

    def last(self) -> Exchange | None:
        return self.current[-1] if self.current else None


EXCHANGES = ExchangeLog()


# --- cleanup -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedSession:
    api: str  # "trinsic", "zitadel-v2", "zitadel-v2beta"
    session_id: str
    base_url: str
    token: str | None  # bearer token the session was created with
    session_token: str | None = None  # Zitadel session token (sent with the delete)


class Cleanup:
    """Every session created through a ``ConformanceClient``; ``run()`` ends them (idempotent).

    Trinsic sessions are cancelled, Zitadel sessions deleted. The plugin runs it at the end of the
    session (also after failures, Ctrl-C and SIGTERM); ``atexit`` is the last resort.
    """

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

    def run(self, timeout: float = 5.0) -> list[tuple[CreatedSession, str]]:
        """End every pending session; return those that could not be ended, with the reason."""
        with self._lock:
            todo, self._pending = list(self._pending.values()), {}
        failures: list[tuple[CreatedSession, str]] = []
        clients: dict[str, httpx.Client] = {}
        try:
            for session in todo:
                client = clients.get(session.base_url)
                if client is None:
                    client = clients[session.base_url] = httpx.Client(
                        base_url=session.base_url, timeout=timeout, headers={"User-Agent": USER_AGENT}
                    )
                try:
                    status = _end_session(client, session)
                except httpx.HTTPError as exc:
                    failures.append((session, f"{type(exc).__name__}: {redact_text(str(exc))}"))
                    continue
                # 4xx other than auth: already ended / gone (fine); 5xx / auth: report
                if status >= 500 or status in (401, 403):
                    failures.append((session, f"HTTP {status}"))
                else:
                    self.ended.append(session)
        finally:
            for client in clients.values():
                client.close()
        self.failed.extend(failures)
        return failures


def _end_session(client: httpx.Client, session: CreatedSession) -> int:
    headers = {"Authorization": f"Bearer {session.token}"} if session.token else {}
    if session.api == "trinsic":
        response = client.post(f"/api/v1/sessions/{session.session_id}/cancel", headers=headers)
    else:
        prefix = "/v2beta" if session.api == "zitadel-v2beta" else "/v2"
        path = f"{prefix}/sessions/{session.session_id}"
        body = {"sessionToken": session.session_token} if session.session_token else {}
        response = client.request("DELETE", path, headers=headers, json=body)
        if response.status_code == 403 and body:
            # the token was rotated by a call we did not see: fall back on the caller's own permission
            response = client.request("DELETE", path, headers=headers, json={})
    return response.status_code


CLEANUP = Cleanup()


def created_session(
    method: str, rel_path: str, status: int, body: Any, *, base_url: str, token: str | None
) -> CreatedSession | None:
    """The session a create call produced, if this exchange was one."""
    if method.upper() != "POST" or not 200 <= status < 300 or not isinstance(body, dict):
        return None
    session_id = body.get("sessionId")
    if not isinstance(session_id, str) or not session_id:
        return None
    if _TRINSIC_CREATE.match(rel_path):
        return CreatedSession("trinsic", session_id, base_url, token)
    match = _ZITADEL_CREATE.match(rel_path)
    if match:
        api = "zitadel-v2" if match.group(1) == "v2" else "zitadel-v2beta"
        session_token = body.get("sessionToken") if isinstance(body.get("sessionToken"), str) else None
        return CreatedSession(api, session_id, base_url, token, session_token)
    return None


# --- operation lookup ----------------------------------------------------------------------------


class OperationIndex:
    """Finds the contract operation of a request (literal path segments win over parameters)."""

    def __init__(self, contracts: Contracts) -> None:
        entries = []
        for op in contracts.operations.values():
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(op.path)) + "/?$"
            entries.append((op.path.count("{"), re.compile(pattern), op))
        entries.sort(key=lambda entry: entry[0])
        self._entries = entries

    def match(self, method: str, rel_path: str) -> Operation | None:
        for _, pattern, op in self._entries:
            if op.method == method.upper() and pattern.match(rel_path):
                return op
        return None


# --- rule mapping --------------------------------------------------------------------------------


def response_rule(api: str, op: Operation | None, status: int, *, kind: str = "body") -> str:
    """The rule a response fails when its status or body is not as documented (see module docstring)."""
    family = API_FAMILY.get(api, api)
    success = 200 <= status < 300
    if family == "trinsic":
        if kind == "enum":
            return "TRN-R42"
        if success:
            return "TRN-R04"
        return "TRN-R02" if status in (401, 403) else "TRN-R03"
    if success:
        if kind == "status":
            return "ZTD-R02" if op is not None and is_create(op) else "ZTD-R03"
        return "ZTD-R08" if kind == "null" else "ZTD-R07"
    return "ZTD-R01" if status == 401 else "ZTD-R04"


def _find_nulls(value: Any, path: str = "") -> Iterator[str]:
    if value is None:
        yield path or "(root)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _find_nulls(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _find_nulls(item, f"{path}/{index}" if path else str(index))


def _is_enum_error(error: jsonschema.ValidationError) -> bool:
    if error.validator in ("enum", "const"):
        return True
    return any(_is_enum_error(sub) for sub in error.context or ())


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def contract_violations(
    contracts: Contracts, exchange: Exchange, op: Operation, *, strict: bool = False
) -> list[tuple[str, str]]:
    """Every way the response differs from the contract, as ``(rule, message)`` pairs (empty: conforms)."""
    api, status = op.api, exchange.status
    label = f"{op.operation_id} answered {status}"
    spec = op.response_spec(status)
    if spec is None:
        documented = ", ".join(sorted(op.responses))
        return [
            (
                response_rule(api, op, status, kind="status"),
                f"{label}, which is not documented (documented: {documented})",
            )
        ]
    success = 200 <= status < 300
    if API_FAMILY[api] == "zitadel" and success and is_create(op) and status != 201:
        return [("ZTD-R02", f"{label}; a successful create answers 201")]
    if spec.body == "any":
        return []
    if spec.body == "empty":
        if exchange.body.strip():
            return [(response_rule(api, op, status), f"{label} with a body; the contract says no body")]
        return []
    problems: list[tuple[str, str]] = []
    media = _media_type(exchange.content_type)
    allowed = [m.lower() for m in spec.media_types]
    if allowed and media not in allowed:
        problems.append(
            (
                response_rule(api, op, status, kind="content_type"),
                f"{label} with Content-Type {exchange.content_type or '(none)'!r}; "
                f"documented: {', '.join(spec.media_types)}",
            )
        )
    try:
        body = exchange.json()
    except (ValueError, RecursionError):
        problems.append((response_rule(api, op, status), f"{label} with a body that is not JSON"))
        return problems
    if API_FAMILY[api] == "zitadel" and success:
        nulls = list(_find_nulls(body))
        if nulls:
            problems.append(("ZTD-R08", f"{label} with null at {', '.join(nulls[:5])}"))
    name = f"response-{spec.status}"
    if op.has_def(name):
        validator = contracts.validator(op, name, strict=strict)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            kind = "enum" if _is_enum_error(error) else "body"
            if API_FAMILY[api] == "zitadel" and success and error.instance is None:
                continue  # reported once as ZTD-R08 above
            message = redact_text(error.message)
            problems.append((response_rule(api, op, status, kind=kind), f"{label}: {where}: {message}"))
    return problems


# --- the client ----------------------------------------------------------------------------------


def _retry_after(value: str | None, attempt: int) -> float:
    if value:
        value = value.strip()
        if value.isdigit():
            return min(float(value), MAX_RETRY_WAIT)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return min(max((when - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_WAIT)
    return min(float(2**attempt), MAX_RETRY_WAIT)


def make_httpx_client(
    base_url: str, *, timeout: float, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one httpx client factory: no redirects followed, per-request timeouts, our User-Agent."""
    return httpx.Client(
        base_url=base_url,
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
    )


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
        max_429_retries: int = MAX_429_RETRIES,
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
        self.max_429_retries = max_429_retries
        self._http = make_httpx_client(self.base_url, timeout=timeout, transport=transport)
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
        retry_429: bool = True,
    ) -> Exchange:
        """Send one request; ``path`` is relative to the base URL (or absolute). Never raises for a status.

        A transport error (timeout, refused connection) is raised as ``httpx.HTTPError`` after it is
        recorded, so the test errors instead of failing a rule.
        """
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
        attempt = 0
        while True:
            request = self._http.build_request(method, path, **kwargs)
            started = time.perf_counter()
            try:
                response = self._http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                exchange = self._exchange(
                    request,
                    None,
                    time.perf_counter() - started,
                    op,
                    attempt + 1,
                    error=f"{type(exc).__name__}: {exc}",
                )
                self.log.record(exchange)
                raise
            if response.status_code == 429 and retry_429 and attempt < self.max_429_retries:
                wait = _retry_after(response.headers.get("retry-after"), attempt)
                attempt += 1
                if wait > 0:
                    time.sleep(wait)
                continue
            exchange = self._exchange(request, response, time.perf_counter() - started, op, attempt + 1)
            self.log.record(exchange)
            self._after(exchange, bearer)
            return exchange

    def _exchange(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        elapsed: float,
        op: Operation | None,
        attempts: int,
        error: str | None = None,
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
            raw=response,
        )

    def _after(self, exchange: Exchange, bearer: str | None) -> None:
        body = exchange.json_or_none() if exchange.body else None
        if body is not None:
            with contextlib.suppress(RecursionError):
                redact_json(body)  # registers secrets seen in the response (tokens, keys, launch URLs)
        created = created_session(
            exchange.method,
            self._rel_path(exchange.url),
            exchange.status,
            body,
            base_url=self.base_url,
            token=bearer,
        )
        if created is not None:
            self.cleanup.add(created)
        rotated = _ZITADEL_SET.match(self._rel_path(exchange.url))
        if (
            rotated
            and exchange.method == "PATCH"
            and 200 <= exchange.status < 300
            and isinstance(body, dict)
            and isinstance(body.get("sessionToken"), str)
        ):
            api = "zitadel-v2" if rotated.group(1) == "v2" else "zitadel-v2beta"
            self.cleanup.rotate(api, rotated.group(2), body["sessionToken"])

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
        return self.request(
            str(kwargs["method"]),
            url,
            json=body,
            content=content,
            params=params,
            headers=headers,
            token=token,
        )

    # --- checking ---

    def check_contract(
        self, exchange: Exchange, api: str | None = None, operation_id: str | None = None
    ) -> None:
        """Raise ``RuleViolation`` (first rule, every difference listed) unless the response conforms."""
        api = api or exchange.api
        operation_id = operation_id or exchange.operation_id
        if api is None or operation_id is None:
            raise ValueError(f"no contract operation known for {exchange.method} {exchange.url}")
        op = self.contracts.get(api, operation_id)
        problems = contract_violations(self.contracts, exchange, op, strict=self.strict)
        if problems:
            rule = problems[0][0]
            details = "; ".join(message for r, message in problems if r == rule)
            others = [f"[{r}] {m}" for r, m in problems if r != rule]
            message = details + ("\nalso: " + "\n      ".join(others) if others else "")
            raise RuleViolation(rule, f"{api} {message}", evidence=exchange)


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
            started = time.perf_counter()
            try:
                response = http.send(request)
            except httpx.HTTPError as exc:
                raise ProviderStateError(
                    f"provider state {name!r}: hook unreachable: {redact_text(str(exc))}"
                ) from None
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
            redact_json(answer)
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
