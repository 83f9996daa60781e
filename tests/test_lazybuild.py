"""Schemathesis' tests built where they run (``lazybuild.py``): the same tests, whatever the build order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECT = (sys.executable, "-m", "pytest", "suites/test_contract_conformance.py", "--collect-only", "-q")

# Builds every collected Schemathesis test (the lazy ones last-collected first) and writes, per item,
# what its coverage phase will send: method, path and Schemathesis' description of each case.
DUMP_PLUGIN = """
import json, os

def pytest_collection_finish(session):
    items = [item for item in session.items if hasattr(item, "operation_label")]
    dump = {"stand_ins": 0, "items": {}}
    for item in reversed(items):
        build = getattr(item.obj, "_conformance_build", None)
        dump["stand_ins"] += build is not None
        test = build() if build is not None else item.obj
        cases = [e.kwargs["case"] for e in getattr(test, "hypothesis_explicit_examples", [])]
        described = [
            [c.method, c.path, getattr(c.meta.phase.data, "description", None) or ""] for c in cases
        ]
        dump["items"][item.nodeid] = sorted(described)
    with open(os.environ["DUMP"], "w") as out:
        json.dump(dump, out)
"""


def _collect(tmp_path: Path, name: str, *extra: str) -> dict[str, object]:
    (tmp_path / "dumpcases.py").write_text(textwrap.dedent(DUMP_PLUGIN), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    env |= {"PYTHONPATH": str(tmp_path), "DUMP": str(tmp_path / f"{name}.json")}
    env["CONFORMANCE_REPORTS_DIR"] = str(tmp_path / "reports")
    done = subprocess.run(
        [*COLLECT, "-p", "dumpcases", "-p", "no:cacheprovider", "--profile", "standard", *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_tests_built_late_and_in_any_order_are_the_tests_schemathesis_builds(tmp_path: Path) -> None:
    lazy = _collect(tmp_path, "lazy")
    eager = _collect(tmp_path, "eager", "-p", "no:conformance-lazybuild")
    assert lazy["stand_ins"] == len(lazy["items"]) > 50  # nothing built while collecting
    assert eager["stand_ins"] == 0
    assert lazy["items"] == eager["items"]  # the same cases, each probe of an undeclared method once
    probes: dict[tuple[str, str, str, str], int] = {}
    for nodeid, cases in lazy["items"].items():  # type: ignore[attr-defined]
        function, api = nodeid.split("::")[1].split("[")[0], nodeid.split("[")[1].rstrip("]")
        for method, path, description in cases:
            if description.startswith("Unspecified HTTP method"):
                key = (function, api, path, method)
                probes[key] = probes.get(key, 0) + 1
    assert probes and set(probes.values()) == {1}  # each path's undeclared methods probed by one item
