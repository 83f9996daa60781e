"""Waivers: a reviewed list of known defects (TOML) that a release gate may accept until they expire.

Each ``[[waiver]]`` names a ``rule`` (optionally an ``api`` and a ``check``: a node ID or its prefix), a
``reason``, a ``link`` to the ticket and an ``expires`` date (the last day it holds, UTC). A failure of
that rule that an unexpired waiver covers gets the verdict **waived**: not counted as failed, never
shown as passed. An expired waiver covers nothing. Loading refuses anything a reviewer would have to
guess (an unknown rule or API, a malformed or empty date, a missing reason or link) with one line.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from session_conformance.apis import APIS, FAMILY_NAMES
from session_conformance.errors import UsageError
from session_conformance.redaction import redact_text

WAIVER_KEYS = ("rule", "api", "check", "reason", "link", "expires")
_REQUIRED = ("rule", "reason", "link", "expires")


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Waiver:
    """One entry of the waiver file (``entry``: its position, from 1)."""

    entry: int
    rule: str
    reason: str
    link: str
    expires: date
    api: str | None = None
    check: str | None = None

    def expired(self, on: date | None = None) -> bool:
        return (on or today()) > self.expires

    def covers(self, rule: str, api: str | None, nodeid: str) -> bool:
        """Whether this waiver names that failure (expiry aside)."""
        if rule != self.rule:
            return False
        if self.api is not None and api is not None and api != self.api and api not in FAMILY_NAMES:
            return False
        return self.check is None or check_matches(self.check, nodeid)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe and masked (a reason may quote a token or a person): what every report shows."""
        data = asdict(self)
        data["expires"] = self.expires.isoformat()
        return {
            key: redact_text(value) if isinstance(value, str) else value
            for key, value in data.items()
            if value is not None
        }

    def label(self) -> str:
        """``until 2027-01-31: reason (link)``, masked."""
        return redact_text(f"until {self.expires.isoformat()}: {self.reason} ({self.link})")


def check_matches(check: str, nodeid: str) -> bool:
    """A waiver's ``check``: the node ID itself, or a prefix that ends at ``::`` or ``[`` (a file, a
    function of parametrised cases)."""
    rest = nodeid[len(check) :] if nodeid.startswith(check) else None
    return rest is not None and (not rest or rest[0] in ":[")


def find(
    waivers: Iterable[Waiver], rule: str, api: str | None, nodeid: str, on: date | None = None
) -> Waiver | None:
    """The first unexpired waiver that covers the failure, if any."""
    for waiver in waivers:
        if waiver.covers(rule, api, nodeid) and not waiver.expired(on):
            return waiver
    return None


def _date(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        raise UsageError(f"{where}: expires is empty: fill in the last day the waiver holds (YYYY-MM-DD)")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{where}: expires {text!r} is not a date (YYYY-MM-DD)") from None


def parse(data: Mapping[str, Any], source: str, known_rules: Collection[str] | None = None) -> list[Waiver]:
    """The waivers of a parsed TOML document (``source`` names the file in messages)."""
    entries = data.get("waiver", [])
    unknown_top = sorted(set(data) - {"waiver"})
    if unknown_top or not isinstance(entries, list):
        raise UsageError(f"{source}: only [[waiver]] tables are allowed (found {', '.join(unknown_top)})")
    waivers = []
    for index, entry in enumerate(entries, 1):
        rule = str(entry.get("rule", "")).strip() if isinstance(entry, dict) else ""
        where = f"{source}: waiver {index}" + (f" ({rule})" if rule else "")
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: not a table")
        extra = sorted(set(entry) - set(WAIVER_KEYS))
        if extra:
            raise UsageError(
                f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(WAIVER_KEYS)})"
            )
        for key in _REQUIRED:
            if key == "expires":
                continue
            if not str(entry.get(key, "")).strip():
                raise UsageError(f"{where}: {key} is missing or empty")
        if known_rules is not None and rule not in known_rules:
            raise UsageError(f"{where}: unknown rule {rule!r} (see contracts/rules.json)")
        if "expires" not in entry:
            raise UsageError(f"{where}: expires is missing (the last day the waiver holds, YYYY-MM-DD)")
        api = str(entry.get("api", "")).strip() or None
        if api is not None and api not in APIS:
            raise UsageError(f"{where}: unknown api {api!r} (choose {', '.join(APIS)})")
        waivers.append(
            Waiver(
                entry=index,
                rule=rule,
                reason=str(entry["reason"]).strip(),
                link=str(entry["link"]).strip(),
                expires=_date(entry["expires"], where),
                api=api,
                check=str(entry.get("check", "")).strip() or None,
            )
        )
    return waivers


def load(path: str | Path, known_rules: Collection[str] | None = None) -> list[Waiver]:
    """Read and check a waiver file; every problem is one ``UsageError`` line."""
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--waivers / CONFORMANCE_WAIVERS: cannot read {file}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{file}: not valid TOML ({exc})") from None
    return parse(data, str(file), known_rules)


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{escaped}"'


def _comment(text: object) -> str:
    return " ".join(str(text).split())[:150]


def starting_file(summary: Mapping[str, Any]) -> str:
    """The waiver file a team starts from: every failed rule of a summary, reason, link and expiry empty.

    The loader refuses the empty fields until a reviewer fills them in.
    """
    lines = [
        "# session-conformance waivers: known defects a release gate may accept until they expire.",
        f"# Written from the run of {summary.get('target', '?')} finished {summary.get('finished', '?')}.",
        "# Fill in reason, link (the ticket) and expires (the last day the waiver holds, YYYY-MM-DD)",
        "# for every entry you keep; delete the others. `--waivers FILE` refuses empty fields.",
    ]
    seen: set[tuple[str, str]] = set()
    for rule in summary.get("rules", []):
        if rule.get("verdict") not in ("failed", "waived"):
            continue
        key = (str(rule["id"]), str(rule["api"]))
        if key in seen:
            continue
        seen.add(key)
        lines += [
            "",
            "[[waiver]]",
            f"rule = {_toml_string(key[0])}",
            f"api = {_toml_string(key[1])}",
            f"# {_comment(rule.get('statement', ''))}",
            f"# failed: {_comment(rule.get('reason', ''))}",
            'reason = ""',
            'link = ""',
            'expires = ""',
        ]
    if not seen:
        lines += ["", "# (no rule failed in that run: nothing to waive)"]
    return "\n".join(lines) + "\n"
