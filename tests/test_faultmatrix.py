"""The fault matrix: every fault of the embedded server is detected under the rule it breaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from session_conformance.faultmatrix import Run, plan, read_junit, render
from session_conformance.server.faults import Fault

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="suites.a" name="test_one"><failure message="[TRN-R04] wrong status">
[TRN-R04] wrong status
also: [TRN-R42] errorCode: 'CANCELED' is not one of ...</failure></testcase>
<testcase classname="suites.a" name="test_two"><error message="boom">ProviderStateError</error></testcase>
<testcase classname="suites.a" name="test_three"/>
</testsuite></testsuites>
"""


def test_read_junit_collects_every_rule_named_by_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT, encoding="utf-8")
    tests, rules, failed, errored = read_junit(path)
    assert tests == 3 and rules == ["TRN-R04", "TRN-R42"]
    assert failed == ["suites.a::test_one"] and errored == ["suites.a::test_two"]


def test_plan_limits_each_run_to_its_api_and_rule() -> None:
    faults = [Fault("trn-a", "TRN-R01", "x"), Fault("ztd-b", "ZTD-R02", "y"), Fault("trn-c", "TRN-R31", "z")]
    baselines, runs = plan(faults)
    assert [(r.fault, r.apis, r.rules) for r in runs] == [
        ("trn-a", ("trinsic",), ("TRN-R01",)),
        ("ztd-b", ("zitadel-v2", "zitadel-v2beta"), ("ZTD-R02",)),
        ("trn-c", ("trinsic",), ("TRN-R31",)),
    ]
    assert [(b.apis, b.rules) for b in baselines] == [
        (("trinsic",), ("TRN-R01", "TRN-R31")),
        (("zitadel-v2", "zitadel-v2beta"), ("ZTD-R02",)),
    ]
    run = Run("trn-a", "TRN-R01", ("trinsic",), ("TRN-R01",), exit_code=1, failed_rules=["TRN-R01"])
    assert run.detected and "trn-a" in render(baselines[:1], [run])


def test_every_fault_is_detected(tmp_path: Path) -> None:
    output = tmp_path / "fault-matrix.json"
    jobs = str(max(2, os.cpu_count() or 2))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "session_conformance.cli",
            "fault-matrix",
            "--profile",
            "smoke",
            "--jobs",
            jobs,
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["undetected"] == [], done.stdout
    assert all(base["exit_code"] == 0 for base in report["fault_free"]), done.stdout
    assert done.returncode == 0, done.stdout + done.stderr
