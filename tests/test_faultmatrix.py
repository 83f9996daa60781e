"""The matrices: every fault is detected under the rule it breaks, and no conformant variant fails a check.

Both run against servers reached only as live targets (separate `serve` processes), read their verdicts
from each run's own conformance-summary.json, and must give the same verdicts whatever the load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from session_conformance.faultmatrix import detected, plan, render
from session_conformance.matrix import Run, read_summary
from session_conformance.server.faults import Fault
from session_conformance.variantmatrix import ALL_AT_ONCE
from session_conformance.variantmatrix import plan as variant_plan

SUMMARY = {
    "checks": {"passed": 3, "warning": 1, "failed": 1, "blocked": 1, "error": 0, "skipped": 0},
    "rules": [
        {"id": "TRN-R04", "api": "trinsic", "verdict": "failed", "reason": "[TRN-R04] wrong status"},
        {"id": "TRN-R28", "api": "trinsic", "verdict": "warning", "reason": "[TRN-R28] ..."},
        {"id": "TRN-R16", "api": "trinsic", "verdict": "blocked", "reason": "blocked by TRN-R04"},
        {"id": "TRN-R01", "api": "trinsic", "verdict": "passed"},
    ],
}


def test_a_run_is_judged_from_its_summary_not_from_text(tmp_path: Path) -> None:
    path = tmp_path / "conformance-summary.json"
    path.write_text(json.dumps(SUMMARY), encoding="utf-8")
    run = read_summary(Run("trn-x", ("trinsic",), ("TRN-R04",), exit_code=1), path)
    assert run.failed_rules == ["TRN-R04"] and run.warned_rules == ["TRN-R28"]
    assert run.blocked_rules == ["TRN-R16"] and detected(run) and not run.clean
    missing = read_summary(Run("trn-y", ("trinsic",), ("TRN-R04",), exit_code=1), tmp_path / "nowhere.json")
    assert not detected(missing) and missing.note


ZITADEL_APIS = ("zitadel-v2", "zitadel-v2beta", "zitadel-v2-connect", "zitadel-v2beta-connect")


def test_plan_limits_each_run_to_its_family_and_rule() -> None:
    faults = [Fault("trn-a", "TRN-R01", "x"), Fault("ztd-b", "ZTD-R02", "y"), Fault("trn-c", "TRN-R31", "z")]
    faults.append(Fault("ztd-connect-d", "ZTD-T02", "w"))
    baselines, runs = plan(faults)
    # a Zitadel fault runs over the transport whose handlers it breaks (REST and Connect share the rest)
    rest = ("zitadel-v2", "zitadel-v2beta")
    connect = ("zitadel-v2-connect", "zitadel-v2beta-connect")
    assert [(r.label, r.apis, r.rules, r.faults) for r in runs] == [
        ("trn-a", ("trinsic",), ("TRN-R01",), ("trn-a",)),
        ("ztd-b", rest, ("ZTD-R02",), ("ztd-b",)),
        ("trn-c", ("trinsic",), ("TRN-R31",), ("trn-c",)),
        ("ztd-connect-d", connect, ("ZTD-T02",), ("ztd-connect-d",)),
    ]
    assert [(b.apis, b.rules, b.faults) for b in baselines] == [
        (("trinsic",), ("TRN-R01", "TRN-R31"), ()),
        (ZITADEL_APIS, ("ZTD-R02", "ZTD-T02"), ()),
    ]
    run = Run("trn-a", ("trinsic",), ("TRN-R01",), exit_code=1, failed_rules=["TRN-R01"])
    assert detected(run) and "trn-a" in render(baselines[:1], [run])


def test_variant_plan_ends_with_every_variant_at_once() -> None:
    from session_conformance.server.catalogue import all_variants

    variants = list(all_variants().values())
    runs = variant_plan(variants, everything=True)
    assert len(runs) == len(variants) + 1
    assert runs[-1].label == ALL_AT_ONCE and runs[-1].variants == ("all",)


def _matrix(command: str, output: Path) -> tuple[dict, str]:
    done = subprocess.run(
        [sys.executable, "-m", "session_conformance.cli", command, "--output", str(output), "--jobs", "2"]
        + (["--live"] if command == "fault-matrix" else []),
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    report = json.loads(output.read_text(encoding="utf-8"))
    assert done.returncode == (0 if report["ok"] else 1), done.stderr
    return report, done.stdout


# the two matrices each keep two runs going: on one xdist worker they never compete for the same cores
@pytest.mark.xdist_group("matrices")
def test_every_fault_is_detected_on_a_live_target(tmp_path: Path) -> None:
    report, stdout = _matrix("fault-matrix", tmp_path / "fault-matrix.json")
    assert report["live"] and report["undetected"] == [], stdout
    assert all(base["clean"] for base in report["fault_free"]), stdout
    assert report["ok"], stdout


@pytest.mark.xdist_group("matrices")
def test_no_conformant_variant_fails_a_check(tmp_path: Path) -> None:
    report, stdout = _matrix("variant-matrix", tmp_path / "variant-matrix.json")
    assert report["live"] and report["not_clean"] == [], stdout
    assert report["runs"][-1]["label"] == ALL_AT_ONCE, stdout
    assert report["ok"], stdout


def test_workers_run_each_matrix_run_under_xdist() -> None:
    from session_conformance.matrix import pytest_command

    run = Run("trn-busy-account", ("trinsic",), (), variants=("trn-busy-account",))
    assert "no:xdist" in pytest_command(run, profile="smoke", live=True)
    command = pytest_command(run, profile="smoke", live=True, workers=8)
    assert "no:xdist" not in command and command[command.index("-n") + 1] == "8"


@pytest.mark.xdist_group("matrices")
def test_busy_accounts_stay_clean_with_eight_workers(tmp_path: Path) -> None:
    """Issue 17: another client writes to both accounts, and the run's eight workers to each other's."""
    output = tmp_path / "variant-matrix.json"
    command = [sys.executable, "-m", "session_conformance.cli", "variant-matrix", "--output", str(output)]
    done = subprocess.run(
        [*command, "--jobs", "1", "-n", "8", "--variants", "trn-busy-account,ztd-busy-account"],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["workers"] == 8 and report["not_clean"] == [], done.stdout
    assert done.returncode == 0, done.stdout
