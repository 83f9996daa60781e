"""Schemathesis failure codes (``ST101`` … ``ST402``) as our messages carry them, and the codes that exist.

A Schemathesis-driven failure keeps its code and severity in every view: ``generic.py`` writes them into
the failure's message with :func:`tag` (``(Schemathesis ST101, critical)``), and the reports read them
back with :func:`found`. ``rules.json`` names per rule the codes it corresponds to (``st_codes``).
"""

from __future__ import annotations

import re
from functools import cache

SEVERITIES = ("critical", "high", "medium", "low")  # Schemathesis' Severity values
_TAG = re.compile(r"\(Schemathesis (ST\d{3}), (critical|high|medium|low)\)")


def tag(code: str, severity: object) -> str:
    return f"(Schemathesis {code}, {severity})"


def found(text: str | None) -> list[str]:
    """``["ST101:critical", ...]``: every code a message carries, in order, once each."""
    return list(dict.fromkeys(f"{code}:{severity}" for code, severity in _TAG.findall(text or "")))


def as_json(codes: list[str] | tuple[str, ...]) -> list[dict[str, str]]:
    return [{"code": c.split(":", 1)[0], "severity": c.split(":", 1)[1]} for c in codes]


@cache
def check_codes() -> dict[str, tuple[str, ...]]:
    """Schemathesis check name → the failure codes it can raise (read from the installed Schemathesis)."""
    import schemathesis.core.failures as core
    import schemathesis.openapi.checks as openapi

    by_check: dict[str, set[str]] = {}
    for module in (core, openapi):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, core.Failure):
                for check in value.checks:
                    by_check.setdefault(check, set()).add(value.code)
    return {check: tuple(sorted(codes)) for check, codes in by_check.items()}


def known_codes() -> frozenset[str]:
    return frozenset(code for codes in check_codes().values() for code in codes)
