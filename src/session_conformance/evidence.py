"""What a check saw: HTTP exchanges, cURL lines, and the per-test record the reports are built from.

Every rendering here goes through ``redaction``: nothing this module returns contains a secret.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

import httpx

from session_conformance.redaction import redact_body, redact_headers, redact_text, redact_url

MAX_RECORD_EXCHANGES = 5  # the last exchanges of a check its record carries to the reports (attached)
MAX_BODY_CHARS = 4000  # bodies are cut in rendered evidence (the full body stays on the Exchange)
_SKIP_CURL_HEADERS = frozenset({"host", "content-length", "accept-encoding", "connection", "user-agent"})


@dataclass
class Exchange:
    """One HTTP request and its response (``status`` 0 when no response arrived)."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float = 0.0
    api: str | None = None  # "trinsic", "zitadel-v2", ... when the path matched a contract
    operation_id: str | None = None
    error: str | None = None  # transport error (timeout, connection refused) when status is 0
    attempts: int = 1  # > 1 when transient faults (429, a cut connection...) were re-sent
    retries: list[str] = field(default_factory=list)  # one line per re-sent attempt: the fault, the wait
    raw: httpx.Response | None = field(default=None, repr=False, compare=False)

    # --- the response -----------------------------------------------------------------------------

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    def header(self, name: str) -> str | None:
        return _header(self.headers, name)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The response body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body)

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except (ValueError, RecursionError):
            return None

    @property
    def operation(self) -> str | None:
        return f"{self.api}:{self.operation_id}" if self.api and self.operation_id else None

    # --- masked renderings ------------------------------------------------------------------------

    def curl(self) -> str:
        """A runnable cURL command line for the request, secrets masked."""
        return self._curl(*self._masked_request())

    def _masked_request(self) -> tuple[str, dict[str, str], str]:
        """URL, headers and body of the request, each masked once (a record and its cURL line share them)."""
        content_type = _header(self.request_headers, "content-type")
        body = redact_body(self.request_body, content_type) if self.request_body else ""
        return redact_url(self.url), redact_headers(self.request_headers), body

    def _curl(self, url: str, headers: dict[str, str], body: str) -> str:
        # Built from parts that are masked already (URL, headers, body): masking the whole line again
        # found nothing more and cost ~10 % of a run's CPU.
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(url)]
        for name, value in headers.items():
            if name.lower() not in _SKIP_CURL_HEADERS:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if body:
            parts += ["--data-raw", shlex.quote(body)]
        return " ".join(parts)

    def response_summary(self, limit: int = MAX_BODY_CHARS) -> str:
        if self.status == 0:
            return f"no response: {redact_text(self.error or 'unknown transport error')}"
        lines = [f"HTTP {self.status}"]
        for name, value in redact_headers(self.headers).items():
            if name.lower() in ("content-type", "www-authenticate", "retry-after", "location"):
                lines.append(f"{name}: {value}")
        body = redact_body(self.body, self.content_type)
        if len(body) > limit:
            body = body[:limit] + f"... ({len(body) - limit} more characters)"
        if body:
            lines.append(body)
        return "\n".join(lines)

    def render(self) -> str:
        """Request as cURL plus the response, masked: what a failure message shows."""
        label = f" [{self.operation}]" if self.operation else ""
        retried = f" (after {self.attempts - 1} re-sent attempt(s))" if self.attempts > 1 else ""
        notes = "".join(f"\n  retry: {redact_text(line)}" for line in self.retries)
        request = f"request{label}:\n  {self.curl()}{notes}"
        return f"{request}\nresponse{retried}:\n" + _indent(self.response_summary())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable, masked record (for Allure attachments and the summary)."""
        url, headers, body = self._masked_request()
        return {
            "operation": self.operation,
            "method": self.method,
            "url": url,
            "request_headers": headers,
            "request_body": body,
            "status": self.status,
            "response_headers": redact_headers(self.headers),
            "response_body": redact_body(self.body, self.content_type),
            "elapsed": round(self.elapsed, 4),
            "attempts": self.attempts,
            "retries": [redact_text(line) for line in self.retries],
            "error": redact_text(self.error) if self.error else None,
            "curl": self._curl(url, headers, body),
        }


def _header(headers: dict[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


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


@dataclass
class ItemRecord:
    """What the plugin knows about one test item; see ARCHITECTURE.md "Per-test data for reporting"."""

    nodeid: str
    api: str | None = None
    operations: list[str] = field(default_factory=list)  # "api:operationId", declared or seen
    rules: list[str] = field(default_factory=list)  # from @pytest.mark.rules
    outcome: str | None = None  # passed, warning, failed, waived, blocked, error, skipped (verdict.VERDICTS)
    failure_rule: str | None = None  # the rule ID a failure (or a blocking precondition) names
    warnings: list[str] = field(default_factory=list)  # masked "[RULE] ..." messages of warn()
    seen: list[str] = field(default_factory=list)  # "api:operationId status" answered during the test
    message: str | None = None  # masked failure / skip message
    replay: str | None = None  # how to re-run this test with the same inputs
    exchanges: list[Exchange] = field(default_factory=list, repr=False)
    waiver: dict[str, Any] | None = None  # the waiver (waivers.Waiver.to_dict()) that covered the failure

    def to_dict(self, max_exchanges: int = MAX_RECORD_EXCHANGES) -> dict[str, Any]:
        return _utf8_safe(
            {
                "nodeid": self.nodeid,
                "api": self.api,
                "operations": list(self.operations),
                "rules": list(self.rules),
                "outcome": self.outcome,
                "failure_rule": self.failure_rule,
                "warnings": list(self.warnings),
                "seen": sorted(self.seen),
                "message": self.message,
                "replay": self.replay,
                "exchanges": [exchange.to_dict() for exchange in self.exchanges[-max_exchanges:]],
                "waiver": self.waiver,
            }
        )


def _utf8_safe(value: Any) -> Any:
    """Escape lone surrogates (generated inputs) in keys and values: xdist and report writers need UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8_safe(k): _utf8_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8_safe(item) for item in value]
    return value


def render_evidence(exchanges: list[Exchange], *, limit: int = 3) -> str:
    """The last ``limit`` exchanges, masked, for a failure message."""
    if not exchanges:
        return "(no HTTP exchange recorded)"
    shown = exchanges[-limit:]
    header = (
        f"last {len(shown)} of {len(exchanges)} exchanges" if len(exchanges) > len(shown) else "exchanges"
    )
    return header + ":\n" + "\n".join(exchange.render() for exchange in shown)
