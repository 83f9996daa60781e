"""How a conformance check says that a documented rule does not hold."""

from __future__ import annotations

from typing import Any


class RuleViolation(AssertionError):
    """A documented rule does not hold on the target. The message always starts with the rule ID."""

    def __init__(self, rule: str, message: str, *, evidence: Any = None) -> None:
        self.rule = rule
        self.evidence = evidence  # the exchange(s) that show it, attached to the report
        super().__init__(f"[{rule}] {message}")


def expect(rule: str, condition: object, message: str, *, evidence: Any = None) -> None:
    """Fail the check for ``rule`` unless ``condition`` holds."""
    if not condition:
        raise RuleViolation(rule, message, evidence=evidence)
