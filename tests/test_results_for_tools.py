"""Results other tools read: Schemathesis failure codes in every view, `st_codes` in rules.json, `--har`.

One real run (embedded server, fault `trn-create-201`: creates answered 201, which Schemathesis'
`status_code_conformance` reports as ST103, medium, under TRN-R04, a rule that fails), with `--har`.
Schemathesis writes HAR but has no command that reads it (`st replay` reads its own crash files), so the
HAR file is validated against the HAR 1.2 structure (a JSON Schema of the spec's required fields).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from session_conformance.contracts import contracts_dir, load_rules
from session_conformance.rules_lint import st_code_problems
from session_conformance.stcodes import as_json, check_codes, found, known_codes, tag

FAULT, RULE = "trn-create-201", "TRN-R04"

REQUEST_FIELDS = [
    "method",
    "url",
    "httpVersion",
    "cookies",
    "headers",
    "queryString",
    "headersSize",
    "bodySize",
]
RESPONSE_FIELDS = ["status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL"]
RESPONSE_FIELDS += ["headersSize", "bodySize"]
_RECORD = {"type": "object", "required": ["name", "value"], "properties": {"name": {"type": "string"}}}
_RECORDS = {"type": "array", "items": _RECORD}
HAR_1_2 = {  # http://www.softwareishard.com/blog/har-12-spec/ : the required members
    "type": "object",
    "required": ["log"],
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"const": "1.2"},
                "creator": {"type": "object", "required": ["name", "version"]},
                "entries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["startedDateTime", "time", "request", "response", "cache", "timings"],
                        "properties": {
                            "startedDateTime": {"type": "string"},
                            "time": {"type": "number", "minimum": 0},
                            "request": {
                                "type": "object",
                                "required": REQUEST_FIELDS,
                                "properties": {
                                    "headers": _RECORDS,
                                    "queryString": _RECORDS,
                                    "postData": {"type": "object", "required": ["mimeType"]},
                                },
                            },
                            "response": {
                                "type": "object",
                                "required": RESPONSE_FIELDS,
                                "properties": {
                                    "status": {"type": "integer"},
                                    "headers": _RECORDS,
                                    "content": {"type": "object", "required": ["size", "mimeType"]},
                                },
                            },
                            "cache": {"type": "object"},
                            "timings": {"type": "object", "required": ["send", "wait", "receive"]},
                        },
                    },
                },
            },
        }
    },
}


def test_a_tag_round_trips_and_names_a_code_schemathesis_has() -> None:
    text = f"[{RULE}] POST /x -> 500: not_a_server_error {tag('ST101', 'critical')}: Server error"
    assert found(text + "; " + text) == ["ST101:critical"]
    assert as_json(found(text)) == [{"code": "ST101", "severity": "critical"}]
    assert check_codes()["not_a_server_error"] == ("ST101", "ST102") and "ST402" in known_codes()


def test_rules_json_names_st_codes_and_the_lint_checks_them() -> None:
    rules = load_rules()
    assert all(isinstance(rule.get("st_codes"), list) for rule in rules.values())
    assert "ST101" in rules["TRN-R04"]["st_codes"] and rules["TRN-R01"]["st_codes"] == ["ST401"]
    assert st_code_problems(rules) == []
    planted = json.loads((contracts_dir() / "rules.json").read_text(encoding="utf-8"))["rules"]
    by_id = {rule["id"]: rule for rule in planted}
    by_id["TRN-R04"]["st_codes"].remove("ST101")
    by_id["TRN-R01"]["st_codes"] = ["ST999"]
    del by_id["ZTD-R02"]["st_codes"]
    problems = st_code_problems(by_id)
    assert any("TRN-R04: generic checks report ST101" in p for p in problems), problems
    assert any("TRN-R01: st_codes names unknown ST999" in p for p in problems), problems
    assert any("ZTD-R02: `st_codes` missing" in p for p in problems), problems


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("tools")
    reports = tmp / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    command = [sys.executable, "-m", "session_conformance.cli", "run", "-n", "2", "--api", "trinsic"]
    command += ["--rules", RULE, "--profile", "smoke", "--faults", FAULT, "--reports-dir", str(reports)]
    command += ["--har", str(tmp / "har" / "run.har")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp, env=env)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    return done, reports


def test_a_schemathesis_failure_keeps_its_code_and_severity_in_every_view(
    run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, reports = run
    block = done.stdout.split("conformance verdicts", 1)[1]
    assert re.search(rf"FAILED   {RULE} .*\[ST103 medium\]", block), block[:2000]
    assert "(Schemathesis ST103, medium)" in done.stdout  # the failure's own lines

    summary = json.loads((reports / "conformance-summary.json").read_text())
    rule = next(r for r in summary["rules"] if r["id"] == RULE)
    assert rule["verdict"] == "failed" and {"code": "ST103", "severity": "medium"} in rule["schemathesis"]
    generated = [r for r in summary["records"] if r["outcome"] == "failed" and r["schemathesis"]]
    assert generated and all("ST103:medium" in r["schemathesis"] for r in generated)
    assert "Schemathesis: ST103 (medium)" in (reports / "conformance-summary.md").read_text()

    cases = list(ET.parse(reports / "junit.xml").getroot().iter("testcase"))
    tagged = [
        c for c in cases if any(p.get("name") == "conformance.schemathesis" for p in c.iter("property"))
    ]
    assert len(tagged) == len(generated)
    for case in tagged:
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert properties["conformance.schemathesis"] == "ST103:medium"
        assert properties["conformance.verdict"] == "failed"
        failure = case.find("failure")
        assert failure is not None and "(Schemathesis ST103, medium)" in failure.get("message", "")

    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    labelled = [r for r in results if {"name": "schemathesis", "value": "ST103"} in r["labels"]]
    assert len(labelled) == len(generated) and all(r["status"] == "failed" for r in labelled)


def test_har_is_a_valid_masked_har_1_2_file(run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, reports = run
    har_path = reports.parent / "har" / "run.har"
    assert f"HAR: {har_path}" in done.stdout
    har: dict[str, Any] = json.loads(har_path.read_text(encoding="utf-8"))
    errors = sorted(Draft202012Validator(HAR_1_2).iter_errors(har), key=str)
    assert not errors, errors[:3]
    entries = har["log"]["entries"]
    assert len(entries) > 20 and har["log"]["creator"]["name"] == "session-conformance"
    for item in entries:
        datetime.fromisoformat(item["startedDateTime"].replace("Z", "+00:00"))
    statuses = {item["response"]["status"] for item in entries}
    assert 201 in statuses and 200 in statuses  # the fault's answers and ordinary ones
    auth = [
        h["value"] for e in entries for h in e["request"]["headers"] if h["name"].lower() == "authorization"
    ]
    assert auth and set(auth) <= {"Bearer ***"}
    launch = [e for e in entries if '"launchUrl"' in (e["response"]["content"].get("text") or "")]
    assert launch and all('"launchUrl": "***"' in e["response"]["content"]["text"] for e in launch)
    assert (reports / "exchanges.har").read_bytes() == har_path.read_bytes()  # beside the run, for `package`
    assert not list(har_path.parent.glob("*.part-*"))


def test_a_har_entry_takes_what_generated_inputs_send() -> None:
    from datetime import UTC

    from session_conformance.reporting.har import entry

    data = {
        "method": "POST",
        "url": "http://127.0.0.1:1/v2/sessions?sessionToken=***&x=%F0",
        "request_headers": {"content-type": "application/json", "authorization": "Bearer ***"},
        "request_body": '{"metadata": {"k": "\udc00"}}',
        "status": 0,
        "response_headers": {},
        "response_body": "",
        "elapsed": 0.01,
        "error": "ReadTimeout \ud800",
    }
    item = entry(data, datetime.now(UTC), "suites/x.py::t[\udc01]")
    text = json.dumps(
        {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [item]}}
    )
    har = json.loads(text.encode("utf-8"))
    assert not list(Draft202012Validator(HAR_1_2).iter_errors(har))
    assert (
        har["log"]["entries"][0]["response"]["status"] == 0
        and "\\udc00" in item["request"]["postData"]["text"]
    )
    assert {"name": "sessionToken", "value": "***"} in item["request"]["queryString"]
