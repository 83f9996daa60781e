"""One truth, many views: pytest's tally, JUnit, the summary and the generated Allure report agree.

Real suites against the embedded server, once clean and once with several faults, under xdist as
`tox -e conformance` runs them; then the HTML report is built and its own data (`summary.json`,
what the page's headline shows) is compared. Allure has no warning/blocked statuses: a warning is a
passed test tagged `verdict:warning`, a blocked check a skipped one tagged `verdict:blocked`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from session_conformance.reporting import html

FAULTS = "trn-create-201,ztd-deleted-listed"


def _tally(stdout: str) -> dict[str, int]:
    line = stdout.strip().splitlines()[-1]
    found = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?)", line)}
    return {
        "passed": found.get("passed", 0),
        "failed": found.get("failed", 0) + found.get("error", 0) + found.get("errors", 0),
        "skipped": found.get("skipped", 0),
    }


def _junit(path: Path) -> tuple[dict[str, int], set[str]]:
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed: set[str] = set()
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
            failed.add(case.get("name", ""))
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return counts, failed


@pytest.mark.parametrize("faults", ["", FAULTS], ids=["passing", "faulty"])
def test_every_view_counts_the_same(tmp_path: Path, faults: str) -> None:
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "session_conformance.cli", "run", "-n", "2", "--profile", "smoke"]
    command += ["--api", "trinsic,zitadel-v2", "--reports-dir", str(reports)]
    command += ["--faults", faults] if faults else []
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path)
    assert done.returncode == (1 if faults else 0), done.stdout[-3000:]
    tally = _tally(done.stdout)

    summary = json.loads((reports / "conformance-summary.json").read_text(encoding="utf-8"))
    checks = summary["checks"]
    from_summary = {
        "passed": checks["passed"] + checks["warning"],
        "failed": checks["failed"] + checks["error"],
        "skipped": checks["skipped"] + checks["blocked"],
    }
    junit, junit_failed = _junit(reports / "junit.xml")

    index = html.build(
        results=reports / "allure-results",
        output=reports / "html",
        history=reports / "history.jsonl",
        name="parity",
    )
    stats = json.loads((index.parent / "summary.json").read_text(encoding="utf-8"))["stats"]
    from_allure = {
        "passed": stats.get("passed", 0),
        "failed": stats.get("failed", 0) + stats.get("broken", 0),
        "skipped": stats.get("skipped", 0),
    }
    assert stats.get("total") == sum(tally.values()) and not stats.get("retries")
    assert tally == junit == from_summary == from_allure, (tally, junit, from_summary, from_allure)

    failed_records = {
        r["nodeid"].split("::", 1)[1] for r in summary["records"] if r["outcome"] in ("failed", "error")
    }
    assert junit_failed == failed_records
    if faults:
        failed_rules = sorted({r["id"] for r in summary["rules"] if r["verdict"] == "failed"})
        assert failed_rules == ["TRN-R04", "ZTD-R62"], failed_rules  # one fault, one rule
