"""What a run exercised, per API: operations called, documented status codes answered, rules judged.

As Specmatic and RESTler report it: a run that never reached an operation or a documented status says
nothing about it, whatever its verdict. ``--min-coverage PERCENT`` fails a run below that share on any
of the three figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from session_conformance.contracts import Contracts

CHECKED_VERDICTS = ("passed", "warning", "waived", "failed")


def _figure(exercised: Iterable[str], total: Iterable[str]) -> dict[str, Any]:
    everything = sorted(set(total))
    done = sorted(set(exercised) & set(everything))
    percent = round(100.0 * len(done) / len(everything), 1) if everything else 100.0
    return {
        "exercised": len(done),
        "total": len(everything),
        "percent": percent,
        "missing": [item for item in everything if item not in done],
    }


def coverage(
    contracts: Contracts, apis: Iterable[str], seen: Iterable[str], rules: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per API: ``operations``, ``statuses`` (documented exact codes) and ``rules`` figures.

    ``seen`` holds ``"api:operationId status"`` of every answer the run got; ``rules`` are the summary's
    rule results (a rule counts once it was judged: passed, warning or failed).
    """
    answered: dict[str, set[str]] = {}
    for item in seen:
        key, _, status = item.rpartition(" ")
        answered.setdefault(key, set()).add(status)
    result: dict[str, dict[str, Any]] = {}
    rule_list = list(rules)
    for api in apis:
        operations = contracts.for_api(api)
        documented = [
            f"{op.operation_id} {status}" for op in operations for status in op.responses if status.isdigit()
        ]
        exercised = [
            f"{op.operation_id} {status}" for op in operations for status in answered.get(op.key, ())
        ]
        api_rules = [r for r in rule_list if r["api"] == api]
        result[api] = {
            "operations": _figure(
                [op.operation_id for op in operations if op.key in answered],
                [op.operation_id for op in operations],
            ),
            "statuses": _figure(exercised, documented),
            "rules": _figure(
                [r["id"] for r in api_rules if r["verdict"] in CHECKED_VERDICTS], [r["id"] for r in api_rules]
            ),
        }
    return result


def below(cover: Mapping[str, Mapping[str, Any]], minimum: float) -> list[str]:
    """The figures under ``minimum`` percent, as readable lines (empty when none)."""
    return [
        f"{api} {name}: {figure['percent']}% < {minimum:g}% ({figure['exercised']} of {figure['total']})"
        for api, figures in cover.items()
        for name, figure in figures.items()
        if figure["percent"] < minimum
    ]


def markdown(cover: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = [
        "",
        "## Coverage",
        "",
        "| API | operations | documented statuses | rules judged |",
        "|---|---|---|---|",
    ]
    for api, figures in cover.items():
        cells = [f"{f['exercised']}/{f['total']} ({f['percent']}%)" for f in figures.values()]
        lines.append(f"| {api} | " + " | ".join(cells) + " |")
    for api, figures in cover.items():
        missing = figures["statuses"]["missing"]
        if missing:
            lines.append(f"\n{api}: documented statuses never answered: {', '.join(missing[:40])}")
    return lines
