"""The fault matrix: prove that every check can fail.

For every registered fault of the embedded server, run the suites in a subprocess with that fault
switched on (``--server-faults NAME``), limited to the fault's API and rule (``--rules RULE``), and read
the rule IDs of the failures from the JUnit report. A fault is *detected* when its rule is among them.
A fault-free run of the same rules must pass. ``reports/fault-matrix.json`` records everything.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from session_conformance.server.faults import Fault, all_faults

RULE_IN_MESSAGE = re.compile(r"\[((?:TRN|ZTD)-[A-Z]\d{2})\]")
NO_TESTS_COLLECTED = 5


@dataclass
class Run:
    """One pytest run: a fault (or none) and what failed."""

    fault: str | None
    rule: str | None
    apis: tuple[str, ...]
    rules: tuple[str, ...]
    exit_code: int = -1
    failed_rules: list[str] = field(default_factory=list)
    failed_tests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    tests: int = 0
    note: str = ""

    @property
    def detected(self) -> bool:
        return self.rule is not None and self.rule in self.failed_rules


def suites_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "suites"


def apis_of(fault: Fault) -> tuple[str, ...]:
    return ("trinsic",) if fault.name.startswith("trn-") else ("zitadel-v2", "zitadel-v2beta")


def read_junit(path: Path) -> tuple[int, list[str], list[str], list[str]]:
    """Tests run, rule IDs named by failures, failed test IDs, errored test IDs."""
    if not path.is_file():
        return 0, [], [], []
    root = ET.parse(path).getroot()
    rules: list[str] = []
    failed: list[str] = []
    errored: list[str] = []
    tests = 0
    for case in root.iter("testcase"):
        tests += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        for failure in case.findall("failure"):
            failed.append(name)
            text = (failure.get("message") or "") + "\n" + (failure.text or "")
            for rule in RULE_IN_MESSAGE.findall(text):
                if rule not in rules:
                    rules.append(rule)
        if case.findall("error"):
            errored.append(name)
    return tests, sorted(rules), failed, errored


def pytest_command(run: Run, *, profile: str, junit: Path) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(suites_dir()),
        "-p",
        "no:cacheprovider",
        "-q",
        "--tb=short",
        "--profile",
        profile,
        "--api",
        ",".join(run.apis),
        "--junitxml",
        str(junit),
    ]
    if run.rules:
        command += ["--rules", ",".join(run.rules)]
    if run.fault:
        command += ["--server-faults", run.fault]
    return command


def execute(run: Run, *, profile: str, workdir: Path, timeout: float) -> Run:
    label = run.fault or "no-fault"
    junit = workdir / f"{label}.xml"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFORMANCE_")}
    env["CONFORMANCE_REPORTS_DIR"] = str(workdir / label)  # keep the reporting plugin out of ./reports
    try:
        done = subprocess.run(
            pytest_command(run, profile=profile, junit=junit),
            cwd=suites_dir().parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        run.exit_code = done.returncode
        if done.returncode not in (0, 1):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            run.note = f"pytest exit {done.returncode}: {tail[0][:200]}"
    except subprocess.TimeoutExpired:
        run.exit_code = -1
        run.note = f"timed out after {timeout:.0f} s"
    run.tests, run.failed_rules, run.failed_tests, run.errors = read_junit(junit)
    if run.exit_code == NO_TESTS_COLLECTED:
        run.note = f"no test checks {', '.join(run.rules)}"
    return run


def plan(faults: Iterable[Fault]) -> tuple[list[Run], list[Run]]:
    """Fault-free runs (one per API family, over the rules its faults break) and one run per fault."""
    fault_runs = [Run(fault.name, fault.rule, apis_of(fault), (fault.rule,)) for fault in faults]
    baselines: list[Run] = []
    for prefix, apis in (("trn-", ("trinsic",)), ("ztd-", ("zitadel-v2", "zitadel-v2beta"))):
        rules = sorted(
            {run.rule for run in fault_runs if run.fault and run.fault.startswith(prefix) and run.rule}
        )
        if rules:
            baselines.append(Run(None, None, apis, tuple(rules)))
    return baselines, fault_runs


def render(baselines: list[Run], runs: list[Run]) -> str:
    width = max([len(run.fault or "") for run in runs] + [24])
    lines = [f"{'fault':{width}}  {'breaks':8}  {'detected':8}  failed rules"]
    lines.append("-" * (width + 40))
    for run in runs:
        failed = ", ".join(run.failed_rules) or "-"
        note = f"  ({run.note})" if run.note else ""
        lines.append(
            f"{run.fault:{width}}  {run.rule or '':8}  {'yes' if run.detected else 'NO':8}  {failed}{note}"
        )
    for base in baselines:
        status = "passed" if base.exit_code == 0 else f"FAILED ({', '.join(base.failed_rules) or base.note})"
        lines.append(f"fault-free run ({', '.join(base.apis)}): {status}")
    detected = sum(run.detected for run in runs)
    lines.append(f"{detected} of {len(runs)} faults detected")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    registry = all_faults()
    unknown = sorted(set(args.fault) - registry.keys())
    if unknown:
        from session_conformance.cli import UsageError

        raise UsageError(
            f"unknown fault(s): {', '.join(unknown)} (see `session-conformance serve --list-faults`)"
        )
    if not suites_dir().is_dir():
        from session_conformance.cli import UsageError

        raise UsageError(f"the suites are not here: {suites_dir()} (run from a checkout)")
    chosen = [registry[name] for name in args.fault] if args.fault else list(registry.values())
    baselines, runs = plan(chosen)
    timeout = float(getattr(args, "timeout", 600))
    with (
        tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp,
        ThreadPoolExecutor(max(1, args.jobs)) as pool,
    ):
        workdir = Path(tmp)
        finished = list(
            pool.map(
                lambda run: execute(run, profile=args.profile, workdir=workdir, timeout=timeout),
                [*baselines, *runs],
            )
        )
    baselines, runs = finished[: len(baselines)], finished[len(baselines) :]
    print(render(baselines, runs))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "profile": args.profile,
        "faults": [{**asdict(run), "detected": run.detected} for run in runs],
        "fault_free": [asdict(run) for run in baselines],
        "undetected": [run.fault for run in runs if not run.detected],
        "ok": all(run.detected for run in runs) and all(base.exit_code == 0 for base in baselines),
    }
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {output}")
    return 0 if report["ok"] else 1
