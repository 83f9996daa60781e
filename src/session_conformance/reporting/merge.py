"""``session-conformance merge DIR...``: the parts of a sharded run joined into one run's reports.

Each part (``--shard I/N``) writes its own reports folder. The merge recomputes the verdicts from every
part's check records (``records`` in ``conformance-summary.json``), so they equal those of one unsharded
run; JUnit test suites are joined into one file and the Allure results copied into one folder.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from session_conformance import __version__
from session_conformance.contracts import load_contracts, load_rules
from session_conformance.errors import UsageError
from session_conformance.reporting.compare import load
from session_conformance.reporting.summary import build_summary, record_from_json, write_summary


def merge_summaries(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if any("records" not in s for s in summaries):
        raise UsageError("a summary has no check records (written by an older version): re-run that part")
    apis: list[str] = []
    for summary in summaries:
        apis += [api for api in summary["apis"] if api not in apis]
    records = {r["nodeid"]: record_from_json(r) for s in summaries for r in s["records"]}
    targets = sorted({str(s.get("target")) for s in summaries})
    return build_summary(
        rules=load_rules(),
        apis=apis,
        records=records.values(),
        target=", ".join(targets),
        started=min(str(s.get("started", "")) for s in summaries),
        finished=max(str(s.get("finished", "")) for s in summaries),
        suite_version=__version__,
        contracts_digest=str(summaries[0].get("contracts_digest", load_contracts().digest())),
        profile=str(summaries[0].get("profile", "")),
        session_errors=[e for s in summaries for e in s.get("session_errors", [])],
        waivers=_waivers_of(summaries),
        run=_run_of(summaries),
    )


def _run_of(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The first part's run facts; the joined run is no longer one shard (the parts are named)."""
    run = dict(summaries[0].get("run") or {})
    options = dict(run.get("options") or {})
    run["shards"] = [(s.get("run") or {}).get("options", {}).get("shard") for s in summaries]
    options["shard"] = None
    run["options"] = options
    return run


def _waivers_of(summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts' waivers (one file, so the same entries), without their per-part status."""
    found: dict[int, dict[str, Any]] = {}
    for summary in summaries:
        for waiver in summary.get("waivers", []):
            entry = {k: v for k, v in waiver.items() if k not in ("status", "why", "checks")}
            found.setdefault(int(entry.get("entry", len(found) + 1)), entry)
    return [found[key] for key in sorted(found)]


def merge_junit(files: Sequence[Path], output: Path) -> None:
    root = ET.Element("testsuites")
    for file in files:
        tree = ET.parse(file).getroot()
        root.extend(tree.iter("testsuite") if tree.tag == "testsuites" else [tree])
    ET.ElementTree(root).write(output, encoding="utf-8", xml_declaration=True)


def merge_har(files: Sequence[Path], output: Path) -> None:
    """The parts' HAR files as one (entries in time order)."""
    logs = [json.loads(file.read_text(encoding="utf-8"))["log"] for file in files]
    entries = sorted((e for log in logs for e in log.get("entries", [])), key=lambda e: e["startedDateTime"])
    merged = {**logs[0], "entries": entries}
    output.write_text(json.dumps({"log": merged}, indent=1) + "\n", encoding="utf-8")


def main(folders: Sequence[str], output: str) -> int:
    parts = [Path(folder) for folder in folders]
    for part in parts:
        if not (part / "conformance-summary.json").is_file():
            raise UsageError(f"{part}: no conformance-summary.json (give each part's reports folder)")
    target = Path(output)
    target.mkdir(parents=True, exist_ok=True)
    summary = merge_summaries([load(part) for part in parts])
    json_path, md_path = write_summary(summary, target)
    junits = [part / "junit.xml" for part in parts if (part / "junit.xml").is_file()]
    if junits:
        merge_junit(junits, target / "junit.xml")
    results = target / "allure-results"
    for part in parts:
        if (part / "allure-results").is_dir():
            shutil.copytree(part / "allure-results", results, dirs_exist_ok=True)
    waivers = [part / "waivers.toml" for part in parts if (part / "waivers.toml").is_file()]
    if waivers:  # one file for every part: the package takes it along
        shutil.copyfile(waivers[0], target / "waivers.toml")
    hars = [part / "exchanges.har" for part in parts if (part / "exchanges.har").is_file()]
    if hars:
        merge_har(hars, target / "exchanges.har")
    print(
        f"merged {len(parts)} part(s): " + ", ".join(f"{api}: {v}" for api, v in summary["verdicts"].items())
    )
    print(f"written: {json_path}, {md_path}" + (f", {target / 'junit.xml'}" if junits else ""))
    return 0
