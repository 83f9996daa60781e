"""Rule and API verdicts of a run, and ``conformance-summary.{json,md}``.

The pytest plugin turns every test report into a :class:`CheckRecord` (in the xdist controller,
never in a worker); :func:`build_summary` then judges every rule of the selected APIs:

rule verdict (per API; Zitadel rules are judged for ``zitadel-v2`` and ``zitadel-v2beta`` apart)
    ``failed``  a check failed on this rule (its message starts with ``[RULE-ID]``);
    ``error``   otherwise, a check of this rule could not finish (suite or environment problem);
    ``waived``  otherwise, its failures are all covered by unexpired waivers (``--waivers``);
    ``warning`` otherwise, a check warned on this rule (the suite's own reading of an inferred fact or
                an ambiguity differs from the target's);
    ``passed``  otherwise, at least one check of this rule passed;
    ``blocked`` otherwise, its checks stopped at another rule's failed precondition ("blocked by");
    ``skipped`` otherwise: every check was skipped, or no check in the run covers the rule.

API verdict
    ``non-conformant`` any rule failed;
    ``incomplete``     otherwise, any rule or check of the API errored;
    ``waived``         otherwise, a rule failed but every failure is covered by an unexpired waiver;
    ``incomplete``     otherwise, when no rule passed;
    ``conformant``     otherwise (every rule that was checked passed or warned, at least one ran).

Each waiver of the run gets a status: ``applied`` (it covered a failure), ``stale`` (its rule passed:
the defect is gone, remove it), ``expired`` (it covers nothing any more) or ``unused`` (its rule was not
checked in this run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from session_conformance.apis import API_FAMILY, APIS, RULE_PREFIXES, family
from session_conformance.contracts import Contracts, load_contracts
from session_conformance.reporting.coverage import coverage
from session_conformance.reporting.coverage import markdown as coverage_markdown
from session_conformance.stcodes import as_json as st_json
from session_conformance.waivers import check_matches

Outcome = Literal["passed", "warning", "failed", "waived", "blocked", "skipped", "error"]
Verdict = Literal["conformant", "non-conformant", "waived", "incomplete"]

SUMMARY_FORMAT = "session-conformance-summary/1"
RULE_ID = re.compile(rf"\b((?:{RULE_PREFIXES})[RX]\d+)\b")
RULE_PREFIX = re.compile(rf"^\[((?:{RULE_PREFIXES})[RX]\d+)\]")
NOT_CHECKED = "no check in this run covers it (not selected or not collected)"
NOT_SELECTED = "not selected in this run (--rules)"
_OUTCOME_RANK: dict[str, int] = {
    "passed": 0,
    "warning": 1,
    "skipped": 2,
    "blocked": 3,
    "waived": 4,
    "error": 5,
    "failed": 6,
}


@dataclass
class CheckRecord:
    """One test (one pytest node id), merged over its setup, call and teardown reports."""

    nodeid: str
    apis: tuple[str, ...]
    rules: tuple[str, ...]
    outcome: Outcome = "passed"
    failure_rule: str | None = None
    reason: str | None = None  # already masked; None when passed
    operations: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # "[RULE] message" of each warning (the check went on)
    seen: tuple[str, ...] = ()  # "api:operationId status" of every answer the check got
    replay: str | None = None  # the command that re-runs a failed, errored or warned check
    waiver: dict[str, Any] | None = None  # the waiver that covered a waived failure (Waiver.to_dict())
    schemathesis: tuple[str, ...] = ()  # "ST101:critical" of a Schemathesis-driven failure (stcodes.py)

    def merge(self, outcome: Outcome, reason: str | None, failure_rule: str | None) -> None:
        """Fold one phase's outcome in (failed > error > waived > blocked > skipped > warning > passed)."""
        if _OUTCOME_RANK[outcome] > _OUTCOME_RANK[self.outcome]:
            self.outcome = outcome
            self.reason = reason
            self.failure_rule = failure_rule if outcome in ("failed", "blocked", "waived") else None

    @property
    def warning_rules(self) -> list[str]:
        return [rule for rule in (failure_rule_of(w) for w in self.warnings) if rule]


@dataclass
class RuleResult:
    id: str
    api: str
    inferred: bool
    statement: str
    verdict: Outcome = "skipped"
    reason: str | None = None
    checks: list[str] = field(default_factory=list)
    replay: str | None = None  # how to re-run the check the reason comes from (failed, error, warning)
    waiver: dict[str, Any] | None = None  # the waiver of a waived rule
    schemathesis: list[str] = field(default_factory=list)  # codes of the failures behind the verdict

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "api": self.api, "verdict": self.verdict}
        if self.verdict != "passed":
            out["reason"] = self.reason or NOT_CHECKED
        out["checks"] = list(self.checks)
        if self.replay and self.verdict in ("failed", "error", "warning", "waived"):
            out["replay"] = self.replay
        if self.waiver is not None and self.verdict == "waived":
            out["waiver"] = dict(self.waiver)
        if self.schemathesis and self.verdict in ("failed", "waived"):
            out["schemathesis"] = st_json(self.schemathesis)
        out["inferred"] = self.inferred
        out["statement"] = self.statement
        return out


@dataclass
class ApiResult:
    api: str
    verdict: Verdict
    reason: str
    rules: dict[str, int]
    checks: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reason": self.reason, "rules": self.rules, "checks": self.checks}


def failure_rule_of(message: str) -> str | None:
    """The rule a failure message names: ``[TRN-R07] ...`` → ``TRN-R07`` (also after ``Class: ``)."""
    text = message.strip()
    match = RULE_PREFIX.match(text)
    if match is None and ": " in text.split("\n", 1)[0]:
        match = RULE_PREFIX.match(text.split(": ", 1)[1])
    return match.group(1) if match else None


def rule_applies(rule_api: str, api: str) -> bool:
    """``rules.json`` names the family (``trinsic``, ``zitadel``); a run names APIs."""
    return API_FAMILY.get(api) == rule_api or rule_api == api


def _judge_rule(result: RuleResult, records: Sequence[CheckRecord]) -> None:
    outcomes: dict[str, list[tuple[str, str | None]]] = {k: [] for k in _OUTCOME_RANK}
    for record in records:
        declared = result.id in record.rules
        warned = [w for w in record.warnings if failure_rule_of(w) == result.id]
        if record.outcome in ("failed", "waived"):
            if record.failure_rule == result.id:
                outcomes[record.outcome].append((record.nodeid, record.reason))
                result.schemathesis += [c for c in record.schemathesis if c not in result.schemathesis]
                if record.outcome == "waived" and result.waiver is None:
                    result.waiver = record.waiver
            elif record.failure_rule is None and declared:
                outcomes["error"].append((record.nodeid, f"failed without naming a rule: {record.reason}"))
            elif declared:
                outcomes["blocked"].append(
                    (record.nodeid, f"not reached: the check stopped at a failure of {record.failure_rule}")
                )
            else:
                continue
        elif warned:
            outcomes["warning"].append((record.nodeid, warned[0]))
        elif not declared:
            continue
        elif record.outcome == "warning":
            outcomes["passed"].append((record.nodeid, None))
        else:
            outcomes[record.outcome].append((record.nodeid, record.reason))
        result.checks.append(record.nodeid)
    for verdict in ("failed", "error", "waived", "warning", "passed", "blocked", "skipped"):
        found = outcomes[verdict]
        if not found:
            continue
        result.verdict = verdict
        if verdict == "passed":
            result.reason = None
        else:
            nodeid, reason = found[0]
            more = f" (and {len(found) - 1} more check(s))" if len(found) > 1 else ""
            result.reason = f"{reason or verdict}{more}"
            result.replay = next((r.replay for r in records if r.nodeid == nodeid), None)
        return
    result.verdict = "skipped"
    result.reason = NOT_CHECKED


def judge(
    rules: Mapping[str, Mapping[str, Any]],
    apis: Iterable[str],
    records: Iterable[CheckRecord],
    *,
    session_errors: Sequence[str] = (),
    selected_rules: Collection[str] | None = None,
) -> tuple[list[RuleResult], dict[str, ApiResult]]:
    """Every rule of ``apis`` with its verdict, and the verdict of each API.

    ``session_errors`` are problems outside any test (collection errors, an interrupted run): they
    make every API incomplete. ``selected_rules`` (``--rules``) only changes the reason given for
    rules that no check covered.
    """
    selected = [api for api in APIS if api in set(apis)]
    records = list(records)
    rule_results: list[RuleResult] = []
    api_results: dict[str, ApiResult] = {}
    for api in selected:
        api_records = [r for r in records if api in r.apis]
        results = []
        for rule_id, rule in rules.items():
            if not rule_applies(str(rule.get("api", "")), api) or not family(api).applies(rule_id, api):
                continue  # another family's, or another transport's (Zitadel REST vs Connect)
            result = RuleResult(
                id=rule_id,
                api=api,
                inferred=bool(rule.get("inferred", False)),
                statement=str(rule.get("statement", "")),
            )
            _judge_rule(result, api_records)
            if not result.checks and rule.get("unchecked"):
                result.reason = f"not checked: {rule['unchecked']}"
            elif not result.checks and selected_rules is not None and rule_id not in selected_rules:
                result.reason = NOT_SELECTED
            results.append(result)
        rule_results.extend(results)
        api_results[api] = _judge_api(api, results, api_records, session_errors)
    return rule_results, api_results


def _count(values: Iterable[str]) -> dict[str, int]:
    counts = {"passed": 0, "warning": 0, "failed": 0, "waived": 0, "blocked": 0, "error": 0, "skipped": 0}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def _judge_api(
    api: str, results: Sequence[RuleResult], records: Sequence[CheckRecord], session_errors: Sequence[str]
) -> ApiResult:
    rule_counts = _count(r.verdict for r in results)
    check_counts = _count(r.outcome for r in records)
    failed = [r.id for r in results if r.verdict == "failed"]
    errored = [r.id for r in results if r.verdict == "error"]
    loose_errors = [r.nodeid for r in records if r.outcome == "error" and not r.rules]
    if failed:
        return ApiResult(
            api, "non-conformant", f"rule(s) failed: {', '.join(failed)}", rule_counts, check_counts
        )
    if errored or loose_errors or session_errors:
        parts = []
        if errored:
            parts.append(f"rule(s) could not be checked because of errors: {', '.join(errored)}")
        if loose_errors:
            parts.append(f"check(s) errored: {', '.join(loose_errors)}")
        parts.extend(session_errors)
        return ApiResult(api, "incomplete", "; ".join(parts), rule_counts, check_counts)
    waived = [r for r in results if r.verdict == "waived"]
    if waived:
        named = ", ".join(f"{r.id} (until {(r.waiver or {}).get('expires', '?')})" for r in waived)
        return ApiResult(
            api,
            "waived",
            f"every failure is waived: {named}; {rule_counts['passed'] + rule_counts['warning']} of "
            f"{len(results)} rules passed{_unchecked(results)}",
            rule_counts,
            check_counts,
        )
    if not rule_counts["passed"]:
        return ApiResult(api, "incomplete", "no check of this API ran", rule_counts, check_counts)
    checked = rule_counts["passed"] + rule_counts["warning"]
    warned = f", {rule_counts['warning']} with warnings" if rule_counts["warning"] else ""
    return ApiResult(
        api,
        "conformant",
        f"conformant on {checked} of {len(results)} rules{warned}{_unchecked(results)}",
        rule_counts,
        check_counts,
    )


def _unchecked(results: Sequence[RuleResult]) -> str:
    """`` (52 not checked: 40 needs writes: --read-only ..., 12 no check covers it)``; empty when none."""
    reasons: dict[str, int] = {}
    for result in results:
        if result.verdict in ("skipped", "blocked"):
            reason = (result.reason or NOT_CHECKED).split(" (and ", 1)[0]
            if reason.startswith("not checked: "):  # rules.json's `unchecked`: no check can exist
                reason = "not observable through the API (rules.json says why)"
            reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        return ""
    total = sum(reasons.values())
    top = sorted(reasons.items(), key=lambda item: -item[1])[:3]
    parts = [f"{count} {reason[:90]}" for reason, count in top]
    if len(reasons) > 3:
        parts.append("...")
    return f" ({total} not checked: {'; '.join(parts)})"


def waiver_statuses(
    waivers: Iterable[Mapping[str, Any]],
    rule_results: Sequence[RuleResult],
    records: Sequence[CheckRecord],
    today: str,
) -> list[dict[str, Any]]:
    """Every waiver of the run with its ``status`` (applied, stale, expired, unused) and why."""
    out = []
    for waiver in waivers:
        entry = dict(waiver)
        rule, api, check = entry["rule"], entry.get("api"), entry.get("check")
        covered = [
            r.nodeid
            for r in records
            if r.outcome == "waived" and (r.waiver or {}).get("entry") == entry.get("entry")
        ]
        scoped = [r for r in rule_results if r.id == rule and (api is None or r.api == api)]
        if str(entry["expires"]) < today:
            failed = [r.api for r in scoped if r.verdict == "failed"]
            entry["status"] = "expired"
            entry["why"] = f"expired on {entry['expires']}: it covers nothing" + (
                f"; the rule failed ({', '.join(failed)})" if failed else ""
            )
        elif covered:
            entry["status"], entry["why"] = "applied", f"covered {len(covered)} failed check(s)"
            entry["checks"] = covered
        else:
            if check is not None:
                mine = [r for r in records if rule in r.rules and check_matches(check, r.nodeid)]
                good = bool(mine) and all(r.outcome in ("passed", "warning") for r in mine)
            else:
                good = (
                    bool(scoped)
                    and any(r.verdict in ("passed", "warning") for r in scoped)
                    and not any(r.verdict in ("failed", "error") for r in scoped)
                )
            if good:
                entry["status"] = "stale"
                entry["why"] = "its rule passed: the defect is gone, remove the waiver"
            else:
                entry["status"], entry["why"] = (
                    "unused",
                    "its rule was not checked (or did not pass) in this run",
                )
        out.append(entry)
    return out


def build_summary(
    *,
    rules: Mapping[str, Mapping[str, Any]],
    apis: Iterable[str],
    records: Iterable[CheckRecord],
    target: str,
    started: str,
    finished: str,
    suite_version: str,
    contracts_digest: str,
    profile: str,
    session_errors: Sequence[str] = (),
    selected_rules: Collection[str] | None = None,
    contracts: Contracts | None = None,
    waivers: Iterable[Mapping[str, Any]] = (),
    run: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary document (``conformance-summary.json``). ``target`` must already be masked.

    ``waivers`` are the run's (``Waiver.to_dict()``), ``run`` what else the run records (seed, masked
    options, versions: what a certification package's manifest names).
    """
    apis = [api for api in APIS if api in set(apis)]
    records = list(records)
    rule_results, api_results = judge(
        rules, apis, records, session_errors=session_errors, selected_rules=selected_rules
    )
    today = (finished or "")[:10]
    return {
        "format": SUMMARY_FORMAT,
        "target": target,
        "apis": apis,
        "started": started,
        "finished": finished,
        "suite_version": suite_version,
        "contracts_digest": contracts_digest,
        "profile": profile,
        "verdicts": {api: result.verdict for api, result in api_results.items()},
        "per_api": {api: result.as_json() for api, result in api_results.items()},
        "checks": _count(r.outcome for r in records),
        "session_errors": list(session_errors),
        "rules": [r.as_json() for r in rule_results],
        "waivers": waiver_statuses(waivers, rule_results, records, today),
        "run": dict(run or {}),
        # every check's own record: `merge` recomputes the verdicts of sharded runs from these
        "records": [asdict(r) for r in sorted(records, key=lambda r: r.nodeid)],
        "coverage": coverage(
            contracts or load_contracts(),
            apis,
            [item for r in records for item in r.seen],
            [r.as_json() for r in rule_results],
        ),
    }


def record_from_json(data: Mapping[str, Any]) -> CheckRecord:
    """A ``CheckRecord`` back from the summary's ``records`` list."""
    fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return CheckRecord(**fields)


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


_ICON = {
    "passed": "✅ passed",
    "warning": "🟡 warning",
    "blocked": "⛔ blocked",
    "failed": "❌ failed",
    "waived": "🏷️ waived",
    "error": "⚠️ error",
    "skipped": "⏭️ skipped",
    "conformant": "✅ conformant",
    "non-conformant": "❌ non-conformant",
    "incomplete": "⚠️ incomplete",
}
_WAIVER_ICON = {"applied": "🏷️ applied", "stale": "🧹 stale", "expired": "⌛ expired", "unused": "· unused"}


def render_markdown(summary: Mapping[str, Any]) -> str:
    """``conformance-summary.md``: the same facts as the JSON, for people."""
    lines = [
        "# Conformance summary",
        "",
        f"- **Target:** `{summary['target']}`",
        f"- **APIs:** {', '.join(summary['apis']) or '(none)'}",
        f"- **Profile:** {summary['profile']}",
        f"- **Started / finished:** {summary['started']} / {summary['finished']}",
        f"- **Suite version:** {summary['suite_version']}",
        f"- **Contracts digest:** `{summary['contracts_digest']}`",
        "",
        "## Verdicts",
        "",
        "| API | verdict | rules passed | warning | failed | waived | blocked | error | skipped | why |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for api, details in summary["per_api"].items():
        counts = details["rules"]
        lines.append(
            f"| {api} | {_ICON[details['verdict']]} | {counts['passed']} | {counts['warning']} | "
            f"{counts['failed']} | {counts.get('waived', 0)} | {counts['blocked']} | {counts['error']} | "
            f"{counts['skipped']} | "
            f"{_cell(details['reason'])} |"
        )
    for error in summary.get("session_errors", ()):
        lines.append(f"\n> Run problem: {_cell(error)}")
    problems = [
        r for r in summary["rules"] if r["verdict"] in ("failed", "error", "waived", "warning", "blocked")
    ]
    if problems:
        lines += ["", "## Failed, errored, waived, warned and blocked rules", ""]
        for rule in problems:
            checks = ", ".join(f"`{c}`" for c in rule["checks"][:5])
            waiver = rule.get("waiver")
            codes = ", ".join(f"{c['code']} ({c['severity']})" for c in rule.get("schemathesis", ()))
            lines.append(
                f"- **{rule['id']}** ({rule['api']}, {rule['verdict']}) {_cell(rule['statement'])} — "
                f"{_cell(rule['reason'])}"
                + (f" — checks: {checks}" if checks else "")
                + (f" — Schemathesis: {codes}" if codes else "")
                + (
                    f"\n  - waived until {waiver['expires']}: {_cell(waiver['reason'])} ({waiver['link']})"
                    if waiver
                    else ""
                )
                + (f"\n  - replay: `{rule['replay']}`" if rule.get("replay") else "")
            )
    if summary.get("waivers"):
        lines += [
            "",
            "## Waivers",
            "",
            "| entry | rule | API | check | status | expires | reason | link | why |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for w in summary["waivers"]:
            lines.append(
                f"| {w['entry']} | {w['rule']} | {w.get('api', 'any')} | {_cell(w.get('check', 'any'))} | "
                f"{_WAIVER_ICON.get(w['status'], w['status'])} | {w['expires']} | {_cell(w['reason'])} | "
                f"{_cell(w['link'])} | {_cell(w['why'])} |"
            )
    for api in summary["apis"]:
        lines += [
            "",
            f"## {api}: every rule",
            "",
            "| rule | statement | verdict | inferred | checks | reason |",
            "|---|---|---|---|---|---|",
        ]
        for rule in summary["rules"]:
            if rule["api"] != api:
                continue
            reason = _cell(rule.get("reason", ""))
            inferred = "yes" if rule["inferred"] else ""
            lines.append(
                f"| {rule['id']} | {_cell(rule['statement'])} | {_ICON[rule['verdict']]} | {inferred} | "
                f"{len(rule['checks'])} | {reason} |"
            )
    if summary.get("coverage"):
        lines += coverage_markdown(summary["coverage"])
    lines += ["", "Verdict rules and how to read this file: `reports/README.md`.", ""]
    return "\n".join(lines)


def write_summary(summary: Mapping[str, Any], reports_dir: Path) -> tuple[Path, Path]:
    reports_dir.mkdir(parents=True, exist_ok=True)
    json_path = reports_dir / "conformance-summary.json"
    md_path = reports_dir / "conformance-summary.md"
    json_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(summary), encoding="utf-8")
    return json_path, md_path
