"""Sharded runs: `--shard I/N` splits the checks by cost; `merge` gives the unsharded verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from session_conformance.sharding import split


def test_split_is_deterministic_balanced_and_complete() -> None:
    nodeids = [f"t.py::test_{i}" for i in range(10)]
    costs = {f"t.py::test_{i}": float(i) for i in range(10)}
    parts = split(nodeids, 3, costs)
    assert parts == split(list(reversed(nodeids)), 3, costs)
    assert sorted(n for part in parts for n in part) == sorted(nodeids)
    loads = [sum(costs[n] for n in part) for part in parts]
    assert max(loads) - min(loads) <= 9


def _run(tmp_path: Path, name: str, *args: str) -> dict:
    reports = tmp_path / name
    command = [sys.executable, "-m", "session_conformance.cli", "run", "-p", "no:xdist", "--profile", "smoke"]
    command += ["--api", "trinsic", "--rules", "TRN-R01,TRN-R02,TRN-R04,TRN-R30,TRN-R31,TRN-R37", *args]
    done = subprocess.run(
        [*command, "--reports-dir", str(reports)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:]
    return json.loads((reports / "conformance-summary.json").read_text(encoding="utf-8"))


def test_three_shards_merged_give_the_verdicts_of_one_run(tmp_path: Path) -> None:
    whole = _run(tmp_path, "whole")
    for index in (1, 2, 3):
        _run(tmp_path, f"part{index}", "--shard", f"{index}/3")
    parts = [str(tmp_path / f"part{i}") for i in (1, 2, 3)]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "session_conformance.cli",
            "merge",
            *parts,
            "--output",
            str(tmp_path / "merged"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    merged = json.loads((tmp_path / "merged" / "conformance-summary.json").read_text(encoding="utf-8"))
    verdicts = {(r["api"], r["id"]): r["verdict"] for r in whole["rules"]}
    assert {(r["api"], r["id"]): r["verdict"] for r in merged["rules"]} == verdicts
    assert sorted(r["nodeid"] for r in merged["records"]) == sorted(r["nodeid"] for r in whole["records"])
    assert merged["checks"] == whole["checks"]
    junit = (tmp_path / "merged" / "junit.xml").read_text(encoding="utf-8")
    assert junit.count("<testcase") == sum(whole["checks"].values())
