"""How a conformance check says that a rule does not hold, and how strongly.

Verdict levels, as the OpenID conformance suite has them:

``failed``   a documented rule is broken: ``expect(rule, condition, message)`` raises ``RuleViolation``;
``warning``  the target differs from the suite's own reading of an *inferred* fact or an ambiguity the
             sheets leave open: ``warn(rule, condition, message)`` records it and the check goes on;
``blocked``  the check could not reach its own rules because another rule's precondition failed (the
             plugin decides this: a ``RuleViolation`` of a rule the test does not declare);
``waived``   a failure that an unexpired waiver (``--waivers``, ``waivers.py``) covers: a known defect,
             not counted as failed, never shown as passed;
``skipped``, ``error`` and ``passed`` as pytest has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["failed", "warning"]
VERDICTS = ("passed", "warning", "skipped", "blocked", "waived", "error", "failed")


class RuleViolation(AssertionError):
    """A rule does not hold on the target. The message always starts with the rule ID."""

    def __init__(self, rule: str, message: str, *, evidence: Any = None, level: Level = "failed") -> None:
        self.rule = rule
        self.level: Level = level
        self.evidence = evidence  # the exchange(s) that show it, attached to the report
        super().__init__(f"[{rule}] {message}")
        if FIRST_VIOLATION.current is None:
            FIRST_VIOLATION.current = self


class _FirstViolation:
    """The first violation the running check raised (the plugin starts it per test).

    The verdict when a property-based check ends on something else after it: Hypothesis' replay of the
    failing example met a transport fault, or the target's state moved on (flaky).
    """

    def __init__(self) -> None:
        self.current: RuleViolation | None = None

    def start(self) -> None:
        self.current = None


FIRST_VIOLATION = _FirstViolation()


@dataclass(frozen=True)
class Warning_:
    """One ``warn()`` that did not hold: the rule, the masked message and the exchange(s)."""

    rule: str
    message: str
    evidence: Any = None


class _Warnings:
    """The warnings of the running check (the pytest plugin starts and collects them around each test)."""

    def __init__(self) -> None:
        self.current: list[Warning_] = []

    def start(self) -> None:
        self.current = []

    def collect(self) -> list[Warning_]:
        found, self.current = self.current, []
        return found


WARNINGS = _Warnings()


def expect(rule: str, condition: object, message: str, *, evidence: Any = None) -> None:
    """Fail the check for the documented ``rule`` unless ``condition`` holds."""
    if not condition:
        raise RuleViolation(rule, message, evidence=evidence)


def warn(rule: str, condition: object, message: str, *, evidence: Any = None) -> bool:
    """Record a warning of ``rule`` unless ``condition`` holds; the check goes on. Returns ``condition``.

    For the suite's own readings: an *inferred* fact, or one reading of an ambiguity (``A-nn``/``Z-nn``)
    where a target may legitimately choose another.
    """
    if not condition:
        WARNINGS.current.append(Warning_(rule, f"[{rule}] {message}", evidence))
    return bool(condition)
