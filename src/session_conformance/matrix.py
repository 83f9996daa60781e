"""What the fault and variant matrices share: one pytest run per server switch, judged from its summary.

Each run is a pytest subprocess over the suites, limited to some APIs and rules, against a reference
server with one or more switches on: embedded (``--faults``/``--variants``) or, with
``live``, a ``session-conformance serve`` process reached only through what it printed (``served``).
The verdicts come from the run's own ``conformance-summary.json`` (structured, never parsed from text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from session_conformance import apis
from session_conformance.apis import FAMILIES
from session_conformance.errors import UsageError
from session_conformance.runner import pytest_args, suites_dir
from session_conformance.served import ServedServer, live_env

NO_TESTS_COLLECTED = 5
FAMILY_APIS = {fam.name: tuple(api.name for api in fam.apis) for fam in FAMILIES}


@dataclass
class Run:
    """One pytest run: the switches it ran with, and what its summary says."""

    label: str
    apis: tuple[str, ...]
    rules: tuple[str, ...]  # empty: every rule of the APIs
    faults: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    exit_code: int = -1
    checks: dict[str, int] = field(default_factory=dict)  # per verdict
    rule_verdicts: dict[str, str] = field(default_factory=dict)  # "API RULE" -> worst verdict
    failed_rules: list[str] = field(default_factory=list)
    warned_rules: list[str] = field(default_factory=list)
    blocked_rules: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per failed/errored/blocked rule
    note: str = ""

    @property
    def clean(self) -> bool:
        """0 failed, 0 errors, 0 blocked checks: what a conformant server must get."""
        return (
            self.exit_code == 0
            and not any(self.checks.get(k, 0) for k in ("failed", "error", "blocked"))
            and not self.note
        )


def apis_of_family(family: str) -> tuple[str, ...]:
    return FAMILY_APIS[family]


def apis_of_fault(name: str) -> tuple[str, ...]:
    """The APIs a run of fault ``name`` covers (its family's descriptor says which show it)."""
    fam = apis.family_of_switch(name)
    if fam is None:
        raise UsageError(f"{name!r} is not a switch of a known API family")
    return fam.fault_apis(name)


def family_of_switch(name: str) -> str:
    """The family of a fault or variant name (``trn-...``, ``ztd-...``: each family's switch prefix)."""
    fam = apis.family_of_switch(name)
    if fam is None:
        raise UsageError(f"{name!r} is not a switch of a known API family")
    return fam.name


def read_summary(run: Run, path: Path) -> Run:
    if not path.is_file():
        run.note = run.note or "no conformance-summary.json written"
        return run
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    run.checks = dict(summary.get("checks", {}))
    by_verdict: dict[str, list[str]] = {"failed": [], "warning": [], "blocked": []}
    for rule in summary.get("rules", []):
        verdict = str(rule.get("verdict"))
        run.rule_verdicts[f"{rule['api']} {rule['id']}"] = verdict
        if verdict in by_verdict and rule["id"] not in by_verdict[verdict]:
            by_verdict[verdict].append(rule["id"])
        if verdict in ("failed", "error", "blocked"):
            run.problems.append(f"{rule['id']} ({rule['api']}) {verdict}: {rule.get('reason', '')}"[:300])
    run.failed_rules = sorted(by_verdict["failed"])
    run.warned_rules = sorted(by_verdict["warning"])
    run.blocked_rules = sorted(by_verdict["blocked"])
    return run


def pytest_command(run: Run, *, profile: str, live: bool, workers: int = 0) -> list[str]:
    # one process per run (no xdist) unless `workers` asks for xdist workers (the workers of one run are
    # each other's other clients); --assert=plain: verdicts come from expect()/warn(), and rewriting
    # ~300 modules per run costs ~5 s
    parallel = ["-n", str(workers)] if workers > 1 else ["-p", "no:xdist"]
    args = [*parallel, "-q", "--assert=plain", "--tb=line", "--profile", profile]
    args += ["--api", ",".join(run.apis)]
    if run.rules:
        args += ["--rules", ",".join(run.rules)]
    if not live and run.faults:
        args += ["--faults", ",".join(run.faults)]
    if not live and run.variants:
        args += ["--variants", ",".join(run.variants)]
    return [sys.executable, "-m", "pytest", *pytest_args(args)]


def execute(run: Run, *, profile: str, workdir: Path, timeout: float, live: bool, workers: int = 0) -> Run:
    reports = workdir / run.label
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONFORMANCE_")}
    env["CONFORMANCE_REPORTS_DIR"] = str(reports)  # the run's own summary, out of ./reports
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # ~100 runs import the same modules: let them share bytecode
    server = ServedServer(faults=run.faults, variants=run.variants) if live else None
    try:
        with server if server is not None else nullcontext():
            if server is not None:
                env = live_env(server, env)
            done = subprocess.run(
                pytest_command(run, profile=profile, live=live, workers=workers),
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        run.exit_code = done.returncode
        if done.returncode == NO_TESTS_COLLECTED:
            run.note = f"no test checks {', '.join(run.rules) or 'these APIs'}"
        elif done.returncode not in (0, 1):
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            run.note = f"pytest exit {done.returncode}: {tail[0][:200]}"
    except subprocess.TimeoutExpired:
        run.note = f"timed out after {timeout:.0f} s"
    except RuntimeError as exc:  # the served server did not start
        run.note = str(exc)[:300]
    return read_summary(run, reports / "conformance-summary.json")


def run_all(
    runs: list[Run],
    *,
    profile: str,
    jobs: int,
    timeout: float,
    live: bool,
    workdir: Path,
    workers: int = 0,
) -> list[Run]:
    def one(run: Run) -> Run:
        return execute(run, profile=profile, workdir=workdir, timeout=timeout, live=live, workers=workers)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(one, runs))


def check_names(names: Iterable[str], known: Iterable[str], what: str, lister: str) -> None:
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise UsageError(
            f"unknown {what}(s): {', '.join(unknown)} (see `session-conformance serve {lister}`)"
        )
    if not suites_dir().is_dir():
        raise UsageError(f"the suites are not here: {suites_dir()}")


def write_json(path: Path, report: dict[str, Any], render: Callable[[], str]) -> None:
    print(render())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {path}")
