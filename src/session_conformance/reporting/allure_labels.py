"""The Allure label scheme of a conformance check.

Behaviours tree: epic = API (``trinsic``, ``zitadel-v2``, ``zitadel-v2beta``), feature = operation
ID (``createWidgetSession``), story = ``RULE-ID: statement``. Every check also carries a ``rule``
label and a tag per rule ID (filterable), ``api`` and ``operation`` labels, a severity, a link to
each operation's contract and to the rule catalogue, and a description section that shows what the
suite chose where the fact sheets are ambiguous (rules marked ``inferred`` and the contracts'
``x-choices`` / inferred statuses).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from session_conformance.apis import API_FAMILY
from session_conformance.contracts import Contracts

# Severity is a property of the rule, not of the outcome: each rule's ``severity`` in rules.json
# (critical: a breach leaks data across accounts, lets a request through without valid credentials or
# keeps a secret usable; minor: the suite's own reading of an ambiguous sheet; normal: the rest).
SEVERITY_ORDER = ("blocker", "critical", "normal", "minor", "trivial")
STORY_STATEMENT_CHARS = 90
INFERRED_TAG = "inferred-rule"
INFERRED_NOTE = " — ⚠️ *inferred: the suite's reading of an ambiguous fact sheet*"


def rule_severity(rule_id: str, rule: Mapping[str, Any] | None) -> str:
    severity = (rule or {}).get("severity")
    return str(severity) if severity in SEVERITY_ORDER else "normal"


def severity_of(rules: Iterable[str], catalogue: Mapping[str, Mapping[str, Any]]) -> str:
    """The most severe of the checked rules' severities (``normal`` when none is known)."""
    found = [rule_severity(r, catalogue.get(r)) for r in rules]
    return min(found, key=SEVERITY_ORDER.index) if found else "normal"


def _short(statement: str, limit: int = STORY_STATEMENT_CHARS) -> str:
    text = " ".join(statement.replace("`", "").replace("**", "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def story_of(rule_id: str, rule: Mapping[str, Any] | None) -> str:
    return f"{rule_id}: {_short(str(rule.get('statement', '')))}" if rule else rule_id


@dataclass
class Link:
    url: str
    name: str
    type: str = "link"


@dataclass
class LabelPlan:
    """What the report says about one check, independent of how it is attached."""

    labels: list[tuple[str, str]] = field(default_factory=list)  # (label name, value), in order
    severity: str = "normal"
    links: list[Link] = field(default_factory=list)
    description: str = ""  # markdown section appended to the check's own description

    def values(self, name: str) -> list[str]:
        return [value for label, value in self.labels if label == name]


def _choices_section(
    apis: Sequence[str], operations: Sequence[str], contracts: Contracts | None
) -> list[str]:
    if contracts is None:
        return []
    lines: list[str] = []
    for api in apis:
        for op_id in operations:
            key = f"{api}:{op_id}"
            op = contracts.operations.get(key)
            if op is None:
                continue
            document = contracts.documents.get(op.uri, {})
            for choice in document.get("x-choices", ()) or ():
                ambiguity, text = choice.get("ambiguity", "?"), choice.get("choice", "")
                lines.append(f"- `{api}/{op_id}` — {ambiguity}: {text}")
            for status, spec in sorted(op.responses.items()):
                if spec.inferred:
                    lines.append(
                        f"- `{api}/{op_id}` — status {status} is the suite's choice for "
                        f"{spec.inferred}: {spec.description}"
                    )
    return lines


def plan_labels(
    *,
    apis: Sequence[str],
    operations: Sequence[str],
    rules: Sequence[str],
    catalogue: Mapping[str, Mapping[str, Any]],
    contracts: Contracts | None = None,
    link_base: str = "contracts/",
) -> LabelPlan:
    """Labels, links and the description section of a check of ``rules`` on ``operations`` of ``apis``."""
    plan = LabelPlan(severity=severity_of(rules, catalogue))
    for api in apis:
        plan.labels.append(("epic", api))
    for op_id in operations:
        plan.labels.append(("feature", op_id))
    if not operations:
        plan.labels.append(("feature", "(across operations)"))
    for rule_id in rules:
        plan.labels.append(("story", story_of(rule_id, catalogue.get(rule_id))))
    for api in apis:
        plan.labels.append(("api", api))
    for op_id in operations:
        plan.labels.append(("operation", op_id))
    for rule_id in rules:
        plan.labels.append(("rule", rule_id))
        plan.labels.append(("tag", rule_id))
    inferred = [r for r in rules if catalogue.get(r, {}).get("inferred")]
    if inferred:
        plan.labels.append(("tag", INFERRED_TAG))

    base = link_base if link_base.endswith("/") else link_base + "/"
    for api in apis:
        for op_id in operations:
            if contracts is None or f"{api}:{op_id}" in contracts.operations:
                plan.links.append(Link(f"{base}{api}/{op_id}.json", f"contract {api}/{op_id}"))
    if rules:
        plan.links.append(Link(f"{base}rules.json", "rule catalogue (rules.json)"))

    lines = ["", "---", "", "**Rules checked**", ""]
    for rule_id in rules:
        rule = catalogue.get(rule_id)
        if rule is None:
            lines.append(f"- **{rule_id}** (not in rules.json)")
            continue
        mark = INFERRED_NOTE if rule.get("inferred") else ""
        family = str(rule.get("api", ""))
        scope = "" if family in {API_FAMILY.get(a) for a in apis} else f" ({family})"
        lines.append(
            f"- **{rule_id}**{scope}{mark}: {rule.get('statement', '')} _(source: {rule.get('source', '?')})_"
        )
    choices = _choices_section(apis, operations, contracts)
    if inferred or choices:
        lines += ["", "**Choices made by the suite**", ""]
        lines += [
            f"- {r} is inferred: its check follows the suite's reading, recorded in rules.json."
            for r in inferred
        ]
        lines += choices
    plan.description = "\n".join(lines) + "\n" if rules else ""
    return plan
