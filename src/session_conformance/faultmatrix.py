"""The fault matrix: prove that every check can fail, under the rule it exists for.

For every registered fault of the reference server, run the suites limited to the fault's API family
and rule (``--rules RULE``) against a server with that fault on, and read the run's own
``conformance-summary.json``. A fault is *detected* when its rule is failed there (or warned, for a
rule the suite judges as the sheets' inferred reading). A fault-free run of the same rules must be
clean. With ``--live`` each server is a separate ``serve`` process reached only through ``--base-url``
and the tokens it printed: the suite cannot know it is ours. ``reports/fault-matrix.json`` keeps it all.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path

from session_conformance.matrix import (
    FAMILY_APIS,
    Run,
    apis_of_family,
    apis_of_fault,
    check_names,
    family_of_switch,
    run_all,
    write_json,
)
from session_conformance.server.catalogue import all_faults
from session_conformance.server.faults import Fault


def detected(run: Run) -> bool:
    rule = run.rules[0] if run.rules else None
    return rule is not None and (rule in run.failed_rules or rule in run.warned_rules)


def plan(faults: list[Fault]) -> tuple[list[Run], list[Run]]:
    """Fault-free runs (one per API family, over the rules its faults break) and one run per fault."""
    runs = [
        Run(fault.name, apis_of_fault(fault.name), (fault.rule,), faults=(fault.name,)) for fault in faults
    ]
    baselines = []
    for family in FAMILY_APIS:
        rules = sorted({run.rules[0] for run in runs if family_of_switch(run.label) == family})
        if rules:
            baselines.append(Run(f"no-fault-{family}", apis_of_family(family), tuple(rules)))
    return baselines, runs


def render(baselines: list[Run], runs: list[Run]) -> str:
    width = max([len(run.label) for run in runs] + [24])
    lines = [f"{'fault':{width}}  {'breaks':8}  {'detected':8}  failed rules (warned)"]
    lines.append("-" * (width + 44))
    for run in runs:
        failed = ", ".join(run.failed_rules) or "-"
        warned = f" ({', '.join(run.warned_rules)})" if run.warned_rules else ""
        note = f"  [{run.note}]" if run.note else ""
        mark = "yes" if detected(run) else "NO"
        lines.append(f"{run.label:{width}}  {run.rules[0]:8}  {mark:8}  {failed}{warned}{note}")
    for base in baselines:
        status = "clean" if base.clean else "NOT CLEAN: " + ("; ".join(base.problems) or base.note)
        lines.append(f"fault-free run ({', '.join(base.apis)}): {status}")
    lines.append(f"{sum(detected(run) for run in runs)} of {len(runs)} faults detected")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    registry = all_faults()
    names = [name for chunk in args.faults for name in chunk.split(",") if name]
    check_names(names, registry, "fault", "--list-faults")
    chosen = [registry[name] for name in names] if names else list(registry.values())
    baselines, runs = plan(chosen)
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as tmp:
        finished = run_all(
            [*baselines, *runs],
            profile=args.profile,
            jobs=args.jobs,
            timeout=args.timeout,
            live=args.live,
            workdir=Path(tmp),
        )
    baselines, runs = finished[: len(baselines)], finished[len(baselines) :]
    report = {
        "profile": args.profile,
        "live": args.live,
        "faults": [{**asdict(run), "detected": detected(run)} for run in runs],
        "fault_free": [{**asdict(run), "clean": run.clean} for run in baselines],
        "undetected": [run.label for run in runs if not detected(run)],
        "ok": all(detected(run) for run in runs) and all(base.clean for base in baselines),
    }
    write_json(Path(args.output), report, lambda: render(baselines, runs))
    return 0 if report["ok"] else 1
