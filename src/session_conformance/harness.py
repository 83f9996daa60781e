"""What a suite imports to judge answers: masked renderings, status and JSON expectations, fixture types.

A suite check judges an HTTP answer with ``expect`` / ``warn`` (re-exported from ``verdict``) and these:

``shown(exchange)``
    one short line, ``METHOD /path?query -> status body``, masked, for failure and warning messages
    (the plugin attaches the full masked exchange as evidence);
``expect_status(rule, exchange, statuses, what)`` / ``warn_status(...)``
    the status is one of ``statuses``, else ``rule`` fails (or warns) with
    ``"{what} must answer {expected}: {shown(exchange)}"`` and the exchange as evidence;
``json_of(exchange, rule)``
    the body parsed as JSON, else ``rule`` fails. When a body that is not JSON is no failure, use the
    exchange's own ``Exchange.json_or_none()``.

Every rendering goes through ``redaction`` (JSON-aware where the body is JSON): nothing here returns a
secret, whatever the target answered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

from session_conformance.checks import check_contract
from session_conformance.config import Profile, Target
from session_conformance.evidence import Exchange
from session_conformance.http import ConformanceClient
from session_conformance.redaction import SECRETS, redact_json, redact_text, redact_url
from session_conformance.verdict import RuleViolation, expect, warn

__all__ = [
    "ConformanceClient",
    "Exchange",
    "Profile",
    "ProviderState",
    "RuleViolation",
    "Statuses",
    "Target",
    "expect",
    "expect_contract",
    "expect_status",
    "expected_statuses",
    "json_of",
    "shown",
    "warn",
    "warn_status",
]

SHOWN_BODY_CHARS = 400  # of the masked body, in one message line
# ``shown`` runs in every ``expect`` message, failing or not, and masking costs tens of microseconds a
# string: a JSON body is masked only as far as a message can show it (objects and lists cut beyond
# ``_JSON_ROOM`` times the limit), a text body only its first part, and the last few renderings are
# reused while no secret was registered in between.
_JSON_ROOM = 2
_TEXT_MARGIN = 2000  # masked beyond the cut: only a secret longer than this could straddle it
_JSON_PARSE_LIMIT = 64 * 1024  # a longer body is masked as text
_RECENT: list[tuple[Exchange, int, int, str]] = []  # (exchange, limit, registry size, rendering)
_RECENT_SIZE = 8

Statuses: TypeAlias = int | Iterable[int]
"""One HTTP status or several (a tuple, set or frozenset of ints)."""

ProviderState: TypeAlias = Callable[..., dict[str, Any]]
"""The ``provider_state`` fixture: ``provider_state(name, params, token=None) -> dict``."""


def shown(exchange: Exchange, limit: int = SHOWN_BODY_CHARS) -> str:
    """``METHOD /path?query -> status body`` on one line, masked, the body cut at ``limit`` characters.

    Secret query parameters (``sessionToken=***``), tokens, keys, launch URLs, identity data and every
    registered secret are masked (``redaction``); a missing response shows its (masked) transport error.
    """
    registered = len(SECRETS)
    for seen, seen_limit, seen_registered, text in _RECENT:
        if seen is exchange and seen_limit == limit and seen_registered == registered:
            return text
    text = _render(exchange, limit)
    if len(SECRETS) == registered:  # else the rendering taught the registry something: do not reuse it
        _RECENT.append((exchange, limit, registered, text))
        del _RECENT[:-_RECENT_SIZE]
    return text


def _render(exchange: Exchange, limit: int) -> str:
    parts = urlsplit(exchange.url)
    where = redact_url(urlunsplit(("", "", parts.path, parts.query, "")))
    if exchange.status == 0:
        answer = f"no response: {redact_text(exchange.error or 'unknown transport error')}"
    else:
        answer = f"{exchange.status} {_masked_body(exchange, limit)}"
    return f"{exchange.method} {where} -> {answer}".strip()


def _masked_body(exchange: Exchange, limit: int) -> str:
    body = exchange.body or b""
    if not body.strip():
        return ""
    data = exchange.json_or_none() if len(body) <= _JSON_PARSE_LIMIT else None
    if data is not None:
        try:
            part, _, cut = _json_part(data, _JSON_ROOM * limit)
            text = _one_line(json.dumps(redact_json(part), ensure_ascii=False, separators=(",", ":")))
        except (ValueError, RecursionError):
            data = None
    if data is None:
        raw = body[: limit + _TEXT_MARGIN]
        text, cut = _one_line(redact_text(raw.decode("utf-8", errors="replace"))), len(raw) < len(body)
    if len(text) > limit:
        return text[:limit] + "…"
    return text + "…" if cut else text


def _json_part(value: Any, room: int) -> tuple[Any, int, bool]:
    """The beginning of a JSON value, about ``room`` characters of it as compact JSON.

    Answers (the part, its approximate size, whether anything was left out). Strings are kept whole up
    to ``room`` plus a margin: masking judges a value as a whole.
    """
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        kept: dict[Any, Any] = {}
        used, cut = 2, False
        for key, item in pairs:
            if used >= room:
                cut = True
                break
            part, size, inner = _json_part(item, room - used)
            kept[key] = part
            used += size + (len(str(key)) + 4 if isinstance(value, dict) else 1)
            cut = cut or inner
        return (kept if isinstance(value, dict) else list(kept.values())), used, cut
    if isinstance(value, str):
        keep = room + _TEXT_MARGIN
        return value[:keep], min(len(value), keep) + 2, len(value) > keep
    return value, len(str(value)), False


def _one_line(text: str) -> str:
    return " ".join(text.split())


def expected_statuses(statuses: Statuses) -> tuple[int, ...]:
    """``statuses`` as a sorted tuple without duplicates."""
    return (statuses,) if isinstance(statuses, int) else tuple(sorted(set(statuses)))


def _statuses_text(allowed: tuple[int, ...]) -> str:
    names = [str(status) for status in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def expect_status(rule: str, exchange: Exchange, statuses: Statuses, what: str) -> None:
    """Fail ``rule`` unless ``exchange`` answered one of ``statuses``.

    The message is ``"{what} must answer {expected}: {shown(exchange)}"`` (so it names the expected and
    the actual status) and the exchange is the evidence; it is built only when the check fails.
    """
    allowed = expected_statuses(statuses)
    if exchange.status not in allowed:
        raise RuleViolation(
            rule, f"{what} must answer {_statuses_text(allowed)}: {shown(exchange)}", evidence=exchange
        )


def warn_status(rule: str, exchange: Exchange, statuses: Statuses, what: str) -> bool:
    """Warn under ``rule`` unless ``exchange`` answered one of ``statuses``; the check goes on.

    For the suite's own readings (inferred facts, ambiguities): the message is
    ``"{what} should answer {expected}: {shown(exchange)}"``. Returns whether the status was one of them.
    """
    allowed = expected_statuses(statuses)
    if exchange.status in allowed:
        return True
    return warn(
        rule, False, f"{what} should answer {_statuses_text(allowed)}: {shown(exchange)}", evidence=exchange
    )


def json_of(exchange: Exchange, rule: str) -> Any:
    """The body parsed as JSON; a body that is not JSON (or is empty) fails ``rule``.

    For a body that may legitimately be anything, use ``exchange.json_or_none()`` (None when not JSON).
    """
    try:
        return exchange.json()
    except (ValueError, RecursionError):
        raise RuleViolation(rule, f"the answer is not JSON: {shown(exchange)}", evidence=exchange) from None


def expect_contract(
    client: ConformanceClient, exchange: Exchange, api: str | None = None, operation_id: str | None = None
) -> None:
    """Fail the operation's response rule unless the answer conforms to its contract (all differences)."""
    check_contract(client.contracts, exchange, api, operation_id, strict=client.strict)
