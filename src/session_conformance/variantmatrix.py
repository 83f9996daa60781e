"""The variant matrix: prove that no check fails wrongly on a conformant server.

A variant makes another choice the fact sheets allow. For every registered variant, run the suites of
its API family (limited to the rules it meets, when it names them) against a server with that variant
on, then once more with every variant on at once, over every API. Each run must be clean: 0 failed,
0 errors, 0 blocked checks (warnings are the suite's own readings and allowed). By default the servers
are separate ``serve`` processes reached only as live targets. ``reports/variant-matrix.json`` keeps it.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import asdict
from pathlib import Path

from session_conformance.apis import APIS
from session_conformance.matrix import (
    Run,
    apis_of_family,
    check_names,
    family_of_switch,
    run_all,
    write_json,
)
from session_conformance.server.catalogue import all_variants
from session_conformance.server.variants import Variant

ALL_AT_ONCE = "all-variants"


def plan(variants: list[Variant], *, everything: bool) -> list[Run]:
    runs = [
        Run(v.name, apis_of_family(family_of_switch(v.name)), v.rules, variants=(v.name,)) for v in variants
    ]
    if everything:
        runs.append(Run(ALL_AT_ONCE, APIS, (), variants=("all",)))
    return runs


def render(runs: list[Run]) -> str:
    width = max([len(run.label) for run in runs] + [24])
    lines = [f"{'variant':{width}}  {'verdict':9}  checks (passed/warning/skipped)  problems"]
    lines.append("-" * (width + 60))
    for run in runs:
        counts = "/".join(str(run.checks.get(k, 0)) for k in ("passed", "warning", "skipped"))
        problems = "; ".join(run.problems[:3]) or run.note or "-"
        lines.append(
            f"{run.label:{width}}  {'clean' if run.clean else 'NOT CLEAN':9}  {counts:31}  {problems}"
        )
    lines.append(f"{sum(run.clean for run in runs)} of {len(runs)} runs clean")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    registry = all_variants()
    names = [name for chunk in args.variants for name in chunk.split(",") if name]
    check_names(names, registry, "variant", "--list-variants")
    chosen = [registry[name] for name in names] if names else list(registry.values())
    runs = plan(chosen, everything=not names)
    with tempfile.TemporaryDirectory(prefix="variant-matrix-") as tmp:
        runs = run_all(
            runs,
            profile=args.profile,
            jobs=args.jobs,
            timeout=args.timeout,
            live=not args.embedded,
            workdir=Path(tmp),
            workers=getattr(args, "workers", 0),
        )
    report = {
        "profile": args.profile,
        "live": not args.embedded,
        "workers": getattr(args, "workers", 0),
        "variants": {
            name: {"source": v.source, "description": v.description} for name, v in registry.items()
        },
        "runs": [{**asdict(run), "clean": run.clean} for run in runs],
        "not_clean": [run.label for run in runs if not run.clean],
        "ok": all(run.clean for run in runs),
    }
    write_json(Path(args.output), report, lambda: render(runs))
    return 0 if report["ok"] else 1
