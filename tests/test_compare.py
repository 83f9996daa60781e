"""Runs side by side: `diff` finds regressions and fixes, `matrix` renders rules by targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from session_conformance.reporting.compare import diff, matrix, matrix_html, matrix_markdown


def summary(target: str, verdicts: dict[str, str]) -> dict:
    return {
        "target": target,
        "finished": "2026-11-27T00:00:00Z",
        "rules": [
            {"api": "trinsic", "id": rule, "verdict": verdict, "statement": f"statement of {rule}"}
            for rule, verdict in verdicts.items()
        ],
    }


OLD = summary(
    "staging-1.4", {"TRN-R01": "passed", "TRN-R04": "failed", "TRN-R28": "passed", "TRN-R30": "passed"}
)
NEW = summary(
    "staging-1.5", {"TRN-R01": "failed", "TRN-R04": "passed", "TRN-R28": "warning", "TRN-R31": "passed"}
)


def test_diff_names_regressions_fixes_and_rule_changes() -> None:
    result = diff(OLD, NEW)
    assert [r["rule"] for r in result["regressions"]] == ["TRN-R01"]
    assert [r["rule"] for r in result["fixes"]] == ["TRN-R04"]
    assert [r["rule"] for r in result["changed"]] == ["TRN-R28"]
    assert [r["rule"] for r in result["new"]] == ["TRN-R31"]
    assert [r["rule"] for r in result["removed"]] == ["TRN-R30"]
    assert result["old_run"].startswith("staging-1.4") and result["new_run"].startswith("staging-1.5")


def test_matrix_has_one_column_per_run() -> None:
    table = matrix([("1.4", OLD), ("1.5", NEW)])
    assert table["columns"] == ["1.4", "1.5"]
    row = next(r for r in table["rows"] if r["rule"] == "TRN-R01")
    assert row["verdicts"] == {"1.4": "passed", "1.5": "failed"}
    assert "| trinsic | TRN-R01 |" in matrix_markdown(table)
    assert '<td class="failed">failed</td>' in matrix_html(table)


def test_the_commands_write_markdown_json_and_html(tmp_path: Path) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(OLD), encoding="utf-8")
    new.write_text(json.dumps(NEW), encoding="utf-8")
    cli = [sys.executable, "-m", "session_conformance.cli"]
    done = subprocess.run(
        [*cli, "diff", str(old), str(new), "--output", str(tmp_path / "diff"), "--fail-on-regression"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Regressions (1)" in done.stdout
    assert json.loads((tmp_path / "diff.json").read_text(encoding="utf-8"))["fixes"][0]["rule"] == "TRN-R04"
    done = subprocess.run(
        [*cli, "matrix", f"v1.4={old}", f"v1.5={new}", "--output", str(tmp_path / "matrix")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "matrix.html").read_text(encoding="utf-8").count("<tr>") == 6
    bad = subprocess.run([*cli, "diff", str(tmp_path), str(new)], capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1  # one readable line, no traceback
