"""The rules lint: ``contracts/rules.json`` is the one source of rule metadata, and nothing disagrees.

As test262's frontmatter linter does for its tests, it fails when

- a ``rules`` marker, ``expect``/``warn`` or any string literal in the suites names an unknown rule ID;
- a rule is neither checked (named by a ``rules`` marker or a generic check) nor marked ``unchecked``
  with its reason in ``rules.json``, or is both;
- a checked rule has no fault switch that breaks it (so nothing proves its check can fail);
- a fault or a variant names an unknown rule;
- a rule lacks a field (statement, source, inferred, severity) or its ID's prefix is not its API's;
- a checked rule has no ``fails_at`` (``failed`` or ``warning``: the verdict level it fails at), or a
  rule that fails at ``warning`` (the suite's own reading) is failed by an ``expect`` of a suite (or a
  suite helper that fails the rule it is given: ``expect_accepted``, ``expect_rejected``, ``rule=``);
- an ``inferred`` rule fails at ``failed``: the suite's reading of an inferred fact is at most a
  warning (a rule that mixes a documented and an inferred part is split, one level each).
- a rule's ``st_codes`` (the Schemathesis failure codes it corresponds to) is missing, names a code the
  installed Schemathesis does not have, or leaves out a code that a generic check reports under it.

Generic (Schemathesis) checks may report rules of either level: ``generic.raise_violations`` warns the
rules that fail at ``warning``.

``python -m session_conformance.rules_lint`` prints the problems (exit 1 when there are any).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from session_conformance.apis import RULE_PREFIXES, family, family_of_rule
from session_conformance.contracts import load_rules

RULE_LITERAL = re.compile(rf"""["']((?:{RULE_PREFIXES})[A-Z]\d+)["']""")
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")  # Allure's
LEVELS = ("failed", "warning")  # `fails_at`: the verdict a broken checked rule gets
FAILING_CALLS = frozenset(
    {
        "expect",
        "expect_status",
        "RuleViolation",
        "json_of",
        "expect_accepted",
        "expect_rejected",
        "expect_same",
    }
)
FIELDS = {"id": str, "api": str, "statement": str, "source": str, "inferred": bool, "severity": str}
MARKER = re.compile(r"mark\.rules\(([^)]*)\)", re.S)


def suite_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def failing_calls(source: str) -> list[tuple[str, int]]:
    """``(rule, line)`` of each call that fails a literal rule ID (``expect("TRN-R04", ...)``, ...)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not (node.args or node.keywords):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        first = node.args[0] if node.args else None
        if name in FAILING_CALLS and isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append((first.value, node.lineno))
        found += [
            (kw.value.value, node.lineno)
            for kw in node.keywords
            if kw.arg == "rule" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)
        ]
    return found


def lint(
    suites: Path, files: Iterable[Path] | None = None, rules: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    from session_conformance.generic import ALL_GENERIC_RULES
    from session_conformance.server.catalogue import all_faults, all_variants

    rules = load_rules() if rules is None else rules
    problems: list[str] = []
    checked = set(ALL_GENERIC_RULES)
    failing: dict[str, list[str]] = {}  # rule -> where a suite fails it with a literal rule ID
    for path in files if files is not None else suite_files(suites):
        source = path.read_text(encoding="utf-8")
        for match in RULE_LITERAL.finditer(source):
            if match.group(1) not in rules:
                line = source.count("\n", 0, match.start()) + 1
                problems.append(f"{path}:{line}: unknown rule ID {match.group(1)}")
        for marker in MARKER.finditer(source):
            checked |= set(RULE_LITERAL.findall(marker.group(1)))
        for rule_id, line in failing_calls(source):
            failing.setdefault(rule_id, []).append(f"{path}:{line}")
    faulted = {fault.rule for fault in all_faults().values()}
    for rule_id, rule in rules.items():
        problems += [
            f"rules.json: {rule_id}: `{name}` missing or not a {kind.__name__}"
            for name, kind in FIELDS.items()
            if not isinstance(rule.get(name), kind)
        ]
        if rule.get("severity") not in SEVERITIES:
            problems.append(
                f"rules.json: {rule_id}: severity {rule.get('severity')!r} not one of {SEVERITIES}"
            )
        fam = family_of_rule(rule_id)
        if fam is None or family(str(rule.get("api"))).name != fam.name:
            problems.append(f"rules.json: {rule_id}: its prefix and its api {rule.get('api')!r} disagree")
        unchecked = rule.get("unchecked")
        level = rule.get("fails_at")
        if not unchecked and level not in LEVELS:
            problems.append(f"rules.json: {rule_id}: a checked rule needs fails_at, one of {LEVELS}")
        if unchecked and level is not None:
            problems.append(f"rules.json: {rule_id}: an unchecked rule fails at nothing (drop fails_at)")
        if level == "warning":
            problems += [
                f"{where}: fails {rule_id}, which rules.json says fails at warning (use warn)"
                for where in failing.get(rule_id, [])
            ]
        if rule.get("inferred") is True and level == "failed":
            problems.append(
                f"rules.json: {rule_id}: an inferred rule fails at warning at most (split off its "
                "documented part into a rule of its own)"
            )
        if rule_id in checked and unchecked:
            problems.append(f"rules.json: {rule_id} is checked but marked unchecked ({unchecked})")
        if rule_id not in checked and not unchecked:
            problems.append(f"rules.json: {rule_id} has no check and no `unchecked` reason")
        if rule_id in checked and rule_id not in faulted:
            problems.append(f"{rule_id} is checked but no fault switch breaks it")
    problems += st_code_problems(rules)
    for fault in all_faults().values():
        if fault.rule not in rules:
            problems.append(f"fault {fault.name}: unknown rule ID {fault.rule}")
    for variant in all_variants().values():
        problems += [f"variant {variant.name}: unknown rule ID {r}" for r in variant.rules if r not in rules]
    return problems


def expected_st_codes() -> dict[str, set[str]]:
    """Rule → the Schemathesis codes the generic checks can report under it (the families' tables)."""
    from session_conformance.apis import FAMILIES
    from session_conformance.generic import NEGATIVE_CHECKS, STATEFUL_CHECKS
    from session_conformance.stcodes import check_codes

    response_kinds = {
        "status_code_conformance": "status",
        "content_type_conformance": "content_type",
        "response_schema_conformance": "body",
    }
    expected: dict[str, set[str]] = {}
    for check in dict.fromkeys(c.__name__ for c in (*NEGATIVE_CHECKS, *STATEFUL_CHECKS)):
        codes = set(check_codes().get(check, ()))
        for fam in FAMILIES:
            targets = {
                fam.generic_rule(check, negative=negative, description=description)
                for negative in (False, True)
                for description in (None, "wrong type")
            } - {None}
            if not targets and check in response_kinds:
                targets = {
                    fam.response_rule(status, create=create, kind=response_kinds[check])
                    for status in (200, 201, 400, 401, 403, 404, 500)
                    for create in (False, True)
                }
            for rule in targets:
                expected.setdefault(str(rule), set()).update(codes)
    return expected


def st_code_problems(rules: dict[str, dict[str, Any]]) -> list[str]:
    from session_conformance.stcodes import known_codes

    problems = []
    known, expected = known_codes(), expected_st_codes()
    for rule_id, rule in rules.items():
        codes = rule.get("st_codes")
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            problems.append(
                f"rules.json: {rule_id}: `st_codes` missing or not a list of ST codes ([] for none)"
            )
            continue
        problems += [f"rules.json: {rule_id}: st_codes names unknown {c}" for c in codes if c not in known]
        if codes != sorted(set(codes)):
            problems.append(f"rules.json: {rule_id}: st_codes not sorted or repeated")
        missing = sorted(expected.get(rule_id, set()) - set(codes))
        if missing:
            problems.append(
                f"rules.json: {rule_id}: generic checks report {', '.join(missing)} under it (add them)"
            )
    return problems


def main() -> int:
    from session_conformance.runner import suites_dir

    problems = lint(suites_dir())
    print("\n".join(problems) or "rules lint: clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
