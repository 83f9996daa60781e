"""Several runs side by side: ``diff OLD NEW`` (what changed) and ``matrix SUMMARY...`` (rules by targets).

Both read ``conformance-summary.json`` files only, so they work on runs of any target, from any machine.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from session_conformance.errors import UsageError

GOOD = ("passed", "warning")
BROKEN = ("failed", "error", "waived")  # a waived rule is still broken: accepted, not fixed


def load(path: Path) -> dict[str, Any]:
    file = path / "conformance-summary.json" if path.is_dir() else path
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{file}: not a readable conformance-summary.json ({exc})") from None
    if not isinstance(summary, dict) or "rules" not in summary:
        raise UsageError(f"{file}: not a conformance summary")
    return summary


def _verdicts(summary: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(rule["api"], rule["id"]): rule for rule in summary["rules"]}


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Regressions (was good, now failed/error/waived), fixes (the reverse), other changes, new and removed
    rules."""
    before, after = _verdicts(old), _verdicts(new)
    out: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("regressions", "fixes", "changed", "new", "removed")
    }
    for key in sorted(set(before) | set(after)):
        api, rule = key
        if key not in before:
            out["new"].append({"api": api, "rule": rule, "verdict": after[key]["verdict"]})
            continue
        if key not in after:
            out["removed"].append({"api": api, "rule": rule, "verdict": before[key]["verdict"]})
            continue
        was, now = before[key]["verdict"], after[key]["verdict"]
        if was == now:
            continue
        row = {"api": api, "rule": rule, "was": was, "now": now, "reason": after[key].get("reason", "")}
        row["statement"] = after[key].get("statement", "")
        if was in GOOD and now in BROKEN:
            out["regressions"].append(row)
        elif was in BROKEN and now in GOOD:
            out["fixes"].append(row)
        else:
            out["changed"].append(row)
    return {"old_run": _label(old), "new_run": _label(new), **out}


def _label(summary: dict[str, Any]) -> str:
    return f"{summary.get('target', '?')} @ {summary.get('finished', '?')}"


def diff_markdown(result: dict[str, Any]) -> str:
    lines = ["# Conformance diff", "", f"- old: `{result['old_run']}`", f"- new: `{result['new_run']}`", ""]
    titles = {
        "regressions": "Regressions",
        "fixes": "Fixes",
        "changed": "Other changes",
        "new": "New rules",
        "removed": "Removed rules",
    }
    for key, title in titles.items():
        rows = result[key]
        lines.append(f"## {title} ({len(rows)})")
        for row in rows:
            if "was" in row:
                lines.append(
                    f"- {row['rule']} ({row['api']}): {row['was']} → {row['now']} — {row['statement']}"
                )
            else:
                lines.append(f"- {row['rule']} ({row['api']}): {row['verdict']}")
        lines.append("")
    return "\n".join(lines)


def matrix(summaries: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One row per (API, rule), one column per run (its label), like wpt.fyi."""
    columns = [label for label, _ in summaries]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    statements: dict[tuple[str, str], str] = {}
    for label, summary in summaries:
        for key, rule in _verdicts(summary).items():
            rows.setdefault(key, {})[label] = rule["verdict"]
            statements[key] = rule.get("statement", "")
    return {
        "columns": columns,
        "rows": [
            {"api": api, "rule": rule, "statement": statements[(api, rule)], "verdicts": rows[(api, rule)]}
            for api, rule in sorted(rows)
        ],
    }


ICON = {
    "passed": "✅",
    "warning": "🟡",
    "failed": "❌",
    "waived": "🏷️",
    "blocked": "⛔",
    "error": "⚠️",
    "skipped": "·",
}


def matrix_markdown(table: dict[str, Any]) -> str:
    head = "| API | rule | " + " | ".join(table["columns"]) + " |"
    lines = ["# Conformance matrix", "", head, "|---|---|" + "---|" * len(table["columns"])]
    for row in table["rows"]:
        cells = [
            ICON.get(row["verdicts"].get(c, ""), "") + " " + row["verdicts"].get(c, "-")
            for c in table["columns"]
        ]
        lines.append(f"| {row['api']} | {row['rule']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def matrix_html(table: dict[str, Any]) -> str:
    """A static page: no script, no external resources."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in table["columns"])
    body = []
    for row in table["rows"]:
        cells = "".join(
            f'<td class="{esc(row["verdicts"].get(c, "none"))}">{esc(row["verdicts"].get(c, "-"))}</td>'
            for c in table["columns"]
        )
        rule = f'<td title="{esc(row["statement"])}">{esc(row["rule"])}</td>'
        body.append(f"<tr><td>{esc(row['api'])}</td>{rule}{cells}</tr>")
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}"
        ".passed{background:#cfc}.warning{background:#ffc}.failed{background:#fcc}.error{background:#fdb}"
        ".waived{background:#e8d8ff}.blocked{background:#ddd}.skipped,.none{color:#888}"
    )
    return (
        f"<!doctype html><meta charset=utf-8><title>Conformance matrix</title><style>{style}</style>"
        f"<h1>Conformance matrix</h1><table><tr><th>API</th><th>rule</th>{head}</tr>{''.join(body)}</table>\n"
    )


def write(base: Path, markdown: str, data: dict[str, Any], page: str | None = None) -> list[Path]:
    base.parent.mkdir(parents=True, exist_ok=True)
    written = [base.with_suffix(".md"), base.with_suffix(".json")]
    written[0].write_text(markdown, encoding="utf-8")
    written[1].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if page is not None:
        written.append(base.with_suffix(".html"))
        written[2].write_text(page, encoding="utf-8")
    return written
