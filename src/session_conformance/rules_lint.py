"""The rules lint: ``contracts/rules.json`` is the one source of rule metadata, and nothing disagrees.

As test262's frontmatter linter does for its tests, it fails when

- a ``rules`` marker, ``expect``/``warn`` or any string literal in the suites names an unknown rule ID;
- a rule is neither checked (named by a ``rules`` marker or a generic check) nor marked ``unchecked``
  with its reason in ``rules.json``, or is both;
- a checked rule has no fault switch that breaks it (so nothing proves its check can fail);
- a fault or a variant names an unknown rule;
- a rule lacks a field (statement, source, inferred, severity) or its ID's prefix is not its API's.

``python -m session_conformance.rules_lint`` prints the problems (exit 1 when there are any).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from session_conformance.apis import FAMILIES, family
from session_conformance.contracts import load_rules

_PREFIXES = "|".join(re.escape(fam.rule_prefix) for fam in FAMILIES)
RULE_LITERAL = re.compile(rf"""["']((?:{_PREFIXES})[A-Z]\d+)["']""")
SEVERITIES = ("blocker", "critical", "normal", "minor", "trivial")  # Allure's
FIELDS = {"id": str, "api": str, "statement": str, "source": str, "inferred": bool, "severity": str}
MARKER = re.compile(r"mark\.rules\(([^)]*)\)", re.S)


def suite_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)


def lint(suites: Path, files: Iterable[Path] | None = None) -> list[str]:
    from session_conformance.generic import ALL_GENERIC_RULES
    from session_conformance.server.catalogue import all_faults, all_variants

    rules = load_rules()
    problems: list[str] = []
    checked = set(ALL_GENERIC_RULES)
    for path in files if files is not None else suite_files(suites):
        source = path.read_text(encoding="utf-8")
        for match in RULE_LITERAL.finditer(source):
            if match.group(1) not in rules:
                line = source.count("\n", 0, match.start()) + 1
                problems.append(f"{path}:{line}: unknown rule ID {match.group(1)}")
        for marker in MARKER.finditer(source):
            checked |= set(RULE_LITERAL.findall(marker.group(1)))
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
        fam = next((f for f in FAMILIES if f.owns_rule(rule_id)), None)
        if fam is None or family(str(rule.get("api"))).name != fam.name:
            problems.append(f"rules.json: {rule_id}: its prefix and its api {rule.get('api')!r} disagree")
        unchecked = rule.get("unchecked")
        if rule_id in checked and unchecked:
            problems.append(f"rules.json: {rule_id} is checked but marked unchecked ({unchecked})")
        if rule_id not in checked and not unchecked:
            problems.append(f"rules.json: {rule_id} has no check and no `unchecked` reason")
        if rule_id in checked and rule_id not in faulted:
            problems.append(f"{rule_id} is checked but no fault switch breaks it")
    for fault in all_faults().values():
        if fault.rule not in rules:
            problems.append(f"fault {fault.name}: unknown rule ID {fault.rule}")
    for variant in all_variants().values():
        problems += [f"variant {variant.name}: unknown rule ID {r}" for r in variant.rules if r not in rules]
    return problems


def main() -> int:
    from session_conformance.runner import suites_dir

    problems = lint(suites_dir())
    print("\n".join(problems) or "rules lint: clean")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
