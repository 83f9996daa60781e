"""Waivers: the file's checks, the waived verdict in every view, expired and stale waivers, `waivers --from`.

The runs are real and small: the embedded server with one fault (`trn-launch-url-on-get`, which breaks
TRN-R06) and only that rule's check, smoke profile.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from session_conformance.contracts import load_rules
from session_conformance.errors import UsageError
from session_conformance.reporting.compare import diff
from session_conformance.reporting.summary import CheckRecord, build_summary, judge
from session_conformance.waivers import Waiver, find, parse, starting_file

REPO = Path(__file__).resolve().parents[1]
FAULT, RULE = "trn-launch-url-on-get", "TRN-R06"
CHECK = "suites/trinsic/test_trinsic_create.py::test_launch_url_is_returned_only_once"
GOOD = {"rule": RULE, "reason": "known; fix next sprint", "link": "https://tickets.example/SC-1"}
CATALOGUE = {
    RULE: {"id": RULE, "api": "trinsic", "statement": "launchUrl once", "inferred": False},
    "TRN-R01": {"id": "TRN-R01", "api": "trinsic", "statement": "auth", "inferred": False},
}


def waiver_file(path: Path, expires: str, **extra: str) -> Path:
    fields = {**GOOD, **extra}
    body = "".join(f'{key} = "{value}"\n' for key, value in fields.items())
    path.write_text(f"[[waiver]]\n{body}expires = {expires}\n", encoding="utf-8")
    return path


# --- the file ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({**GOOD, "rule": "TRN-R99", "expires": "2030-01-01"}, "unknown rule 'TRN-R99'"),
        ({**GOOD, "expires": "2030-13-01"}, "expires '2030-13-01' is not a date (YYYY-MM-DD)"),
        ({**GOOD, "expires": ""}, "expires is empty: fill in the last day the waiver holds"),
        ({"rule": RULE, "link": "x", "expires": "2030-01-01"}, "reason is missing or empty"),
        ({**GOOD, "api": "trinsik", "expires": "2030-01-01"}, "unknown api 'trinsik'"),
        ({**GOOD, "expiry": "2030-01-01"}, "unknown key(s) expiry"),
    ],
)
def test_a_waiver_a_reviewer_would_have_to_guess_is_refused_with_one_line(
    entry: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        parse({"waiver": [entry]}, "w.toml", known_rules=load_rules())
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("w.toml: waiver 1")


def test_a_waiver_covers_its_rule_api_and_check_until_it_expires() -> None:
    waiver = parse(
        {"waiver": [{**GOOD, "api": "trinsic", "check": CHECK, "expires": date(2030, 1, 31)}]}, "w.toml"
    )[0]
    assert waiver.covers(RULE, "trinsic", CHECK) and waiver.covers(RULE, "trinsic", CHECK + "[x]")
    assert not waiver.covers(RULE, "trinsic", CHECK + "_other")
    assert not waiver.covers("TRN-R01", "trinsic", CHECK) and not waiver.covers(RULE, "zitadel-v2", CHECK)
    assert find([waiver], RULE, "trinsic", CHECK, on=date(2030, 1, 31)) is waiver  # the last day holds
    assert find([waiver], RULE, "trinsic", CHECK, on=date(2030, 2, 1)) is None


def test_the_starting_file_lists_every_failed_rule_and_is_refused_until_filled_in() -> None:
    import tomllib

    summary = {
        "target": "t",
        "finished": "f",
        "rules": [
            {"id": RULE, "api": "trinsic", "verdict": "failed", "statement": "s\nmore", "reason": "r"},
            {"id": "TRN-R01", "api": "trinsic", "verdict": "passed", "statement": "s"},
        ],
    }
    text = starting_file(summary)
    data = tomllib.loads(text)
    assert [w["rule"] for w in data["waiver"]] == [RULE] and data["waiver"][0]["expires"] == ""
    filled = {"waiver": [{**data["waiver"][0], "reason": "known", "link": "https://t/1"}]}
    with pytest.raises(UsageError, match="expires is empty"):
        parse(filled, "waivers.toml", known_rules=load_rules())
    filled["waiver"][0]["expires"] = "2030-01-01"
    assert parse(filled, "waivers.toml", known_rules=load_rules())[0].expires == date(2030, 1, 1)


# --- verdicts --------------------------------------------------------------------------------------


def _waived(nodeid: str = "t::a") -> CheckRecord:
    waiver = Waiver(1, RULE, "known", "https://t/1", date(2030, 1, 1)).to_dict()
    return CheckRecord(nodeid, ("trinsic",), (RULE,), "waived", RULE, f"[{RULE}] broken", waiver=waiver)


def test_a_waived_failure_is_neither_failed_nor_passed() -> None:
    passed = CheckRecord("t::b", ("trinsic",), ("TRN-R01",))
    rules, apis = judge(CATALOGUE, ["trinsic"], [_waived(), passed])
    verdicts = {r.id: r.verdict for r in rules}
    assert verdicts == {RULE: "waived", "TRN-R01": "passed"}
    assert apis["trinsic"].verdict == "waived" and "TRN-R06 (until 2030-01-01)" in apis["trinsic"].reason
    assert apis["trinsic"].rules["waived"] == 1 and apis["trinsic"].rules["failed"] == 0
    # another check of the same rule failing without a waiver: the rule fails
    failed = CheckRecord("t::c", ("trinsic",), (RULE,), "failed", RULE, f"[{RULE}] broken too")
    rules, apis = judge(CATALOGUE, ["trinsic"], [_waived(), failed])
    assert {r.id: r.verdict for r in rules}[RULE] == "failed" and apis["trinsic"].verdict == "non-conformant"


def _statuses(records: list[CheckRecord], expires: str, finished: str = "2029-06-01T00:00:00Z") -> str:
    summary = build_summary(
        rules=CATALOGUE,
        apis=["trinsic"],
        records=records,
        target="t",
        started="s",
        finished=finished,
        suite_version="v",
        contracts_digest="d",
        profile="smoke",
        waivers=[{"entry": 1, **GOOD, "api": "trinsic", "expires": expires}],
    )
    return str(summary["waivers"][0]["status"])


def test_each_waiver_is_applied_stale_expired_or_unused() -> None:
    passed = CheckRecord("t::a", ("trinsic",), (RULE,))
    assert _statuses([_waived()], "2030-01-01") == "applied"
    assert _statuses([passed], "2030-01-01") == "stale"
    assert _statuses([passed], "2029-05-31") == "expired"
    assert _statuses([CheckRecord("t::b", ("trinsic",), ("TRN-R01",))], "2030-01-01") == "unused"


def test_diff_calls_a_newly_waived_rule_a_regression_and_its_end_a_fix() -> None:
    def summary(verdict: str) -> dict[str, Any]:
        return {"rules": [{"api": "trinsic", "id": RULE, "verdict": verdict, "statement": "s"}]}

    assert [r["rule"] for r in diff(summary("passed"), summary("waived"))["regressions"]] == [RULE]
    assert [r["rule"] for r in diff(summary("waived"), summary("passed"))["fixes"]] == [RULE]


# --- real runs ------------------------------------------------------------------------------------


def run(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    reports = tmp / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    command = [sys.executable, "-m", "session_conformance.cli", "run", "--api", "trinsic"]
    command += ["--rules", RULE, "--profile", "smoke", "--reports-dir", str(reports), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp, env=env)
    return done, reports


def _verdict_block(stdout: str) -> str:
    return stdout.split("conformance verdicts", 1)[1].split("summary:", 1)[0]


def test_a_waived_fault_passes_the_gate_and_is_waived_in_every_view(tmp_path: Path) -> None:
    file = waiver_file(tmp_path / "waivers.toml", "2099-12-31", api="trinsic")
    done, reports = run(tmp_path, "-n", "2", "--faults", FAULT, "--waivers", str(file))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    # console: the tally and the verdict block
    assert "1 waived" in done.stdout.strip().splitlines()[-1] and "failed" not in done.stdout.splitlines()[-1]
    block = _verdict_block(done.stdout)
    assert "trinsic: waived" in block and "1 waived" in block and "0 failed" in block
    assert f"WAIVED   {RULE}" in block and "waived until 2099-12-31: known; fix next sprint" in block

    # JUnit: not a failure, not a pass; the verdict and the waiver as properties
    case = next(
        c for c in ET.parse(reports / "junit.xml").getroot().iter("testcase") if c.get("name") in CHECK
    )
    assert case.find("failure") is None and case.find("skipped") is not None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["conformance.verdict"] == "waived"
    assert properties["conformance.waiver"].startswith(f"{RULE} until 2099-12-31: known")

    # Allure: skipped, labelled and in the waived category (evidence attached)
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    mine = next(r for r in results if r["name"] == CHECK.rsplit("::", 1)[1])
    assert mine["status"] == "skipped" and mine["statusDetails"]["message"].startswith(f"WAIVED [{RULE}]")
    assert {"name": "verdict", "value": "waived"} in mine["labels"]
    assert any(a["name"] == "reproduce with cURL" for a in mine.get("attachments", ()))
    categories = json.loads((reports / "allure-results" / "categories.json").read_text())
    waived = next(c for c in categories if c["name"] == "Known defects: waived")
    assert re.match(waived["messageRegex"], mine["statusDetails"]["message"])

    if shutil.which("node") is not None:  # the generated Allure 3 report puts it in its own category
        from session_conformance.reporting import html

        index = html.build(
            results=reports / "allure-results", output=reports / "html", history=tmp_path / "h"
        )
        blobs = re.findall(r'd\("widgets/categories.json","([^"]*)"\)', index.read_text(encoding="utf-8"))
        tree = json.loads(base64.b64decode(blobs[0]))
        names = {node["name"]: node for node in tree["nodes"].values() if node.get("type") == "category"}
        assert names["Known defects: waived"]["statistic"] == {"total": 1, "skipped": 1}

    # summary: JSON and Markdown with reason, link and expiry
    summary = json.loads((reports / "conformance-summary.json").read_text())
    rule = next(r for r in summary["rules"] if r["id"] == RULE)
    assert rule["verdict"] == "waived" and rule["waiver"]["link"] == GOOD["link"]
    assert summary["verdicts"] == {"trinsic": "waived"} and summary["waivers"][0]["status"] == "applied"
    markdown = (reports / "conformance-summary.md").read_text()
    assert "waived until 2099-12-31: known; fix next sprint (https://tickets.example/SC-1)" in markdown
    assert "🏷️ applied" in markdown


def test_an_expired_waiver_covers_nothing_and_the_run_says_so(tmp_path: Path) -> None:
    file = waiver_file(tmp_path / "waivers.toml", "2020-01-01")
    done, reports = run(tmp_path, "-n", "0", "--faults", FAULT, "--waivers", str(file))
    assert done.returncode == 1, done.stdout[-3000:]
    assert "expired, covering nothing: TRN-R06 (expired 2020-01-01)" in done.stdout
    block = _verdict_block(done.stdout)
    assert f"FAILED   {RULE}" in block and "EXPIRED: expired on 2020-01-01: it covers nothing" in block
    summary = json.loads((reports / "conformance-summary.json").read_text())
    assert (
        summary["verdicts"] == {"trinsic": "non-conformant"} and summary["waivers"][0]["status"] == "expired"
    )


def test_a_waiver_of_a_passing_rule_is_stale_and_fails_only_with_fail_on_stale(tmp_path: Path) -> None:
    file = waiver_file(tmp_path / "waivers.toml", "2099-12-31")
    done, reports = run(tmp_path, "-n", "0", "--waivers", str(file))
    assert done.returncode == 0, done.stdout[-3000:]
    assert "STALE: its rule passed: the defect is gone, remove the waiver" in _verdict_block(done.stdout)
    assert json.loads((reports / "conformance-summary.json").read_text())["waivers"][0]["status"] == "stale"
    done, _ = run(tmp_path, "-n", "0", "--waivers", str(file), "--fail-on", "stale")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "--fail-on stale: the run fails" in done.stdout


def test_a_bad_waiver_file_stops_the_run_with_one_line_and_exit_4(tmp_path: Path) -> None:
    file = waiver_file(tmp_path / "waivers.toml", '"31.12.2099"')
    done, _ = run(tmp_path, "-n", "0", "--waivers", str(file))
    assert done.returncode == 4
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines == [
        f"ERROR: conformance: {file}: waiver 1 (TRN-R06): expires '31.12.2099' is not a date (YYYY-MM-DD)"
    ]


def test_waivers_from_a_summary_writes_the_starting_file(tmp_path: Path) -> None:
    summary = {"target": "t", "finished": "f", "rules": [{"id": RULE, "api": "trinsic", "verdict": "failed"}]}
    (tmp_path / "conformance-summary.json").write_text(json.dumps(summary))
    command = [sys.executable, "-m", "session_conformance.cli", "waivers", "--from", str(tmp_path)]
    command += ["--output", str(tmp_path / "w.toml")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert 'rule = "TRN-R06"' in (tmp_path / "w.toml").read_text() and "1 waiver(s) to fill in" in done.stdout
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists: give --force" in again.stderr


def test_the_ci_examples_waiver_file_loads_and_its_example_entry_too() -> None:
    import tomllib

    from session_conformance.waivers import load

    file = REPO / "ci-examples" / "conformance-waivers.toml"
    assert load(file, known_rules=load_rules()) == []
    example = "\n".join(line.removeprefix("# ") for line in file.read_text().splitlines() if "=" in line)
    waivers = parse(tomllib.loads("[[waiver]]\n" + example), "example", known_rules=load_rules())
    assert waivers[0].rule == RULE and waivers[0].check == CHECK


def test_merging_shards_keeps_the_waived_verdict_and_judges_the_waivers_again() -> None:
    from dataclasses import asdict

    from session_conformance.reporting.merge import merge_summaries

    waiver = {"entry": 1, **GOOD, "api": "trinsic", "expires": "2099-12-31"}

    def part(records: list[CheckRecord], shard: str) -> dict[str, Any]:
        summary = build_summary(
            rules=load_rules(),
            apis=["trinsic"],
            records=records,
            target="t",
            started="2029-01-01T00:00:00Z",
            finished="2029-01-01T00:01:00Z",
            suite_version="v",
            contracts_digest="d",
            profile="smoke",
            waivers=[waiver],
            run={"seed": 1, "options": {"shard": shard}},
        )
        return json.loads(json.dumps(summary))

    one = part([_waived("suites/a.py::t1")], "1/2")
    two = part([CheckRecord("suites/b.py::t2", ("trinsic",), ("TRN-R01",))], "2/2")
    assert one["waivers"][0]["status"] == "applied" and two["waivers"][0]["status"] == "unused"
    merged = merge_summaries([one, two])
    assert merged["verdicts"] == {"trinsic": "waived"}
    assert [w["status"] for w in merged["waivers"]] == ["applied"]
    assert merged["run"]["options"]["shard"] is None and merged["run"]["shards"] == ["1/2", "2/2"]
    assert asdict(_waived())["waiver"]["rule"] == RULE


def test_fail_on_takes_stale_beside_a_level() -> None:
    from session_conformance.config import resolve_options

    options = resolve_options({"fail_on": "warning,stale", "waivers": "w.toml"}, {})
    assert options.fail_on == "warning" and options.fail_on_stale and options.waivers == "w.toml"
    assert not resolve_options({}, {"CONFORMANCE_FAIL_ON": "failed"}).fail_on_stale
    assert resolve_options({}, {"CONFORMANCE_FAIL_ON": "stale"}).fail_on == "failed"
    with pytest.raises(UsageError, match="unknown level 'stael'"):
        resolve_options({"fail_on": "stael"}, {})


FIXTURE_FAILS = """
import pytest

from session_conformance.verdict import expect


@pytest.fixture
def launched(client):
    expect("TRN-R06", False, "a fixture met the defect")


@pytest.mark.rules("TRN-R06")
def test_uses_it(launched):
    pass
"""


def test_a_rule_failure_met_in_a_fixture_is_waived_too(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["session_conformance.pytest_plugin"]\n')
    (tmp_path / "test_fixture_fails.py").write_text(FIXTURE_FAILS)
    file = waiver_file(tmp_path / "waivers.toml", "2099-12-31")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "session_conformance.reporting.plugin",
    ]
    command += ["--reports-dir", str(tmp_path / "reports"), "--api", "trinsic", "--waivers", str(file), "-q"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 waived" in done.stdout.splitlines()[-1]
    summary = json.loads((tmp_path / "reports" / "conformance-summary.json").read_text())
    assert next(r for r in summary["rules"] if r["id"] == RULE)["verdict"] == "waived"
