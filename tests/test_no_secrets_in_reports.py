"""Nothing under reports/ may contain a secret that the run's traffic carried.

Two runs against the embedded server, each with its own reports folder in a temp dir:

- ``suites``: the real Trinsic suites with server faults switched on, so that checks fail with launch
  URLs, results access keys and identity data in their evidence;
- ``leaky``: a few dedicated checks that put secrets straight into failure and error messages and
  send session tokens in query strings and bodies.

A recorder plugin writes the raw (unmasked) traffic of each test to a file outside the reports folder.
The secrets are taken from that traffic (bearer tokens, session tokens, results access keys, launch
URLs, identity values such as given and family names) and searched for, raw, JSON-escaped,
URL-encoded and inside the base64 data blobs of the single-file HTML report, in every file the run
and the report builder wrote.
"""

from __future__ import annotations

import base64
import binascii
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from session_conformance.contracts import contracts_dir
from session_conformance.reporting import html

REPO = Path(__file__).resolve().parents[1]
TRAFFIC_ENV = "CONFORMANCE_TEST_TRAFFIC"
SUITE_FAULTS = "trn-launch-url-on-get,trn-redact-keeps-data,trn-results-wrong-key-accepted"

RECORDER = '''
"""Test helper: writes every test's raw HTTP exchanges (unmasked) to $CONFORMANCE_TEST_TRAFFIC."""
import base64, json, os

import pytest

from session_conformance.evidence import EXCHANGES


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    exchanges = list(EXCHANGES.current or [])
    yield
    if call.when != "teardown":
        return
    with open(os.environ["CONFORMANCE_TEST_TRAFFIC"], "a", encoding="utf-8") as out:
        for e in exchanges:
            out.write(json.dumps({
                "url": e.url,
                "request_headers": dict(e.request_headers),
                "request_body": base64.b64encode(e.request_body or b"").decode(),
                "headers": dict(e.headers),
                "body": base64.b64encode(e.body or b"").decode(),
            }) + "\\n")
'''

LEAKY_CHECKS = """
import uuid

import pytest

from session_conformance.verdict import expect

PERSON = {"givenName": "Grace", "familyName": "Hopper", "dateOfBirth": "1906-12-09",
          "phoneNumber": "+12025550147"}


def widget(client):
    exchange = client.post("/api/v1/sessions/widget", json={"knownIdentityData": {"person": PERSON}})
    return exchange, exchange.json()


@pytest.mark.rules("TRN-R06")
@pytest.mark.needs("writes")
def test_message_names_the_launch_url_and_the_person(client):
    _, body = widget(client)
    expect("TRN-R06", False, f"launchUrl {body['launchUrl']} seen again for {PERSON['givenName']} "
                             f"{PERSON['familyName']} (session {body['sessionId']})")


@pytest.mark.rules("TRN-R24")
@pytest.mark.needs("writes", "provider_state")
def test_message_names_the_results_access_key_and_identity(client, provider_state):
    _, body = widget(client)
    key = provider_state("trinsic session finished",
                         {"session_id": body["sessionId"], "success": True})["results_access_key"]
    results = client.post(f"/api/v1/sessions/{body['sessionId']}/results", json={"resultsAccessKey": key})
    person = (results.json().get("identityData") or {}).get("person") or {}
    expect("TRN-R24", False, f"key {key} gave {person.get('givenName')} {person.get('familyName')}: "
                             f"{results.text}")


@pytest.mark.rules("ZTD-R39")
def test_error_message_names_tokens(client, target):
    token = "zt-" + uuid.uuid4().hex
    client.get("/v2/sessions/271828182845904523", params={"sessionToken": token})
    client.request("DELETE", "/v2/sessions/271828182845904523", json={"sessionToken": token})
    raise RuntimeError(f"unexpected: bearer {target.token} and session token {token} in {client!r}")
"""

SECRET_KEYS = {
    "sessiontoken",
    "resultsaccesskey",
    "launchurl",
    "idpintenttoken",
    "password",
    "token",
    "accesstoken",
    "primarytoken",
    "othertoken",
}
IDENTITY_KEYS = {
    "givenname",
    "familyname",
    "middlename",
    "fullname",
    "dateofbirth",
    "phonenumber",
    "email",
    "nationalidnumber",
    "loginname",
}
MIN_LEN = 3
SHORT = 8  # shorter values must stand alone to count as found (see ``leaks``)


def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)
    elif isinstance(value, str):
        kind = _norm(key)
        if kind in SECRET_KEYS or kind in IDENTITY_KEYS:
            yield kind, value


def _json(raw: str) -> Any:
    try:
        return json.loads(base64.b64decode(raw) or b"null")
    except (ValueError, RecursionError):  # the suites also send malformed and deeply nested bodies
        return None


def secrets_in_traffic(path: Path) -> dict[str, str]:
    """Secret value → what it is, from the recorded raw traffic.

    A short value only the suite sent (generated input) is left out unless the target also answered it:
    Hypothesis draws strings from the constants of local source files, so a generated "results access
    key" may be a word of the report's own prose ("why").
    """
    found: dict[str, str] = {}
    sent_only: dict[str, str] = {}
    answered: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        exchange = json.loads(line)
        for name, value in exchange["request_headers"].items():
            if name.lower() == "authorization" and " " in value:
                found[value.split(" ", 1)[1]] = "bearer token"
        for key, value in parse_qsl(urlsplit(exchange["url"]).query):
            if _norm(key) in SECRET_KEYS:
                sent_only[value] = _norm(key)
        for kind, value in _walk(_json(exchange["request_body"])):
            sent_only[value] = kind
        for kind, value in _walk(_json(exchange["body"])):
            found[value] = kind
            answered.add(value)
    for value, kind in sent_only.items():
        if len(value.strip()) >= SHORT or value in answered:
            found.setdefault(value, kind)
    return {value: kind for value, kind in found.items() if len(value.strip()) >= MIN_LEN}


def _blobs(text: str) -> Iterator[str]:
    """The text itself, minus inline script bundles, plus the decoded base64 data of the HTML report."""
    yield re.sub(r'src="data:text/javascript;base64,[^"]*"', 'src=""', text)
    for match in re.finditer(r'd\("((?:[^"\\]|\\.)*)","((?:[^"\\]|\\.)*)"\)', text):
        try:
            yield base64.b64decode(match.group(2)).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            continue


def _forms(value: str) -> set[str]:
    return {value, json.dumps(value)[1:-1], quote(value, safe=""), quote(value, safe="/:")}


def leaks(reports: Path, secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(file, kind, value) for every secret found in any file under ``reports``."""
    patterns = []
    for value, kind in secrets.items():
        for form in _forms(value):
            escaped = re.escape(form)
            # short values (a given name) must stand alone, not inside another word
            regex = rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])" if len(form) < SHORT else escaped
            patterns.append((re.compile(regex), kind, value))
    problems = set()
    copied_contracts = reports / "html" / "contracts"
    for path in sorted(p for p in reports.rglob("*") if p.is_file()):
        if copied_contracts in path.parents:
            continue  # verbatim copy of the repository's contracts, checked below
        text = path.read_text(encoding="utf-8", errors="replace")
        for blob in _blobs(text):
            for pattern, kind, value in patterns:
                if pattern.search(blob):
                    problems.add((path.relative_to(reports).as_posix(), kind, value))
    return sorted(problems)


def _same_tree(a: Path, b: Path) -> bool:
    compared = filecmp.dircmp(a, b)
    if compared.left_only or compared.right_only or compared.diff_files or compared.funny_files:
        return False
    return all(_same_tree(a / sub, b / sub) for sub in compared.common_dirs)


def run(kind: str, tmp: Path) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    (tmp / "conformance_traffic_recorder.py").write_text(textwrap.dedent(RECORDER))
    traffic = tmp / "traffic.jsonl"
    traffic.touch()
    reports = tmp / "reports"
    env = {
        **os.environ,
        TRAFFIC_ENV: str(traffic),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp), os.environ.get("PYTHONPATH")])),
    }
    for name in [n for n in env if n.startswith("CONFORMANCE_") and n != TRAFFIC_ENV]:
        del env[name]  # the embedded server, whatever the developer's shell says
    common = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "conformance_traffic_recorder",
        "-p",
        "session_conformance.reporting.plugin",
        "--reports-dir",
        str(reports),
        "-q",
    ]
    if kind == "suites":
        command = [
            *common,
            "suites/trinsic",
            "--api",
            "trinsic",
            "--profile",
            "smoke",
            "--faults",
            SUITE_FAULTS,
        ]
        cwd = REPO
    else:
        (tmp / "conftest.py").write_text('pytest_plugins = ["session_conformance.pytest_plugin"]\n')
        (tmp / "test_leaky.py").write_text(textwrap.dedent(LEAKY_CHECKS))
        command = [*common, "--api", "trinsic,zitadel-v2"]
        cwd = tmp
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return done, reports, traffic


@pytest.mark.parametrize("kind", ["suites", "leaky"])
def test_reports_hold_no_secret_from_the_traffic(kind: str, tmp_path: Path) -> None:
    done, reports, traffic = run(kind, tmp_path)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]  # checks failed, as arranged

    # the run really failed checks and attached their evidence
    summary = json.loads((reports / "conformance-summary.json").read_text())
    assert any(rule["verdict"] in ("failed", "error") for rule in summary["rules"])
    results = [json.loads(p.read_text()) for p in (reports / "allure-results").glob("*-result.json")]
    attached = [a for r in results if r["status"] in ("failed", "broken") for a in r.get("attachments", ())]
    assert any(a["name"] == "reproduce with cURL" for a in attached)
    assert (reports / "junit.xml").is_file()

    secrets = secrets_in_traffic(traffic)
    kinds = set(secrets.values())
    assert {"bearer token", "launchurl", "givenname", "familyname"} <= kinds, kinds
    assert "resultsaccesskey" in kinds
    if kind == "leaky":
        assert "sessiontoken" in kinds

    if shutil.which("node") is not None:  # CI has Node; the HTML report is scanned as well
        html.build(
            results=reports / "allure-results",
            output=reports / "html",
            history=reports / "history.jsonl",
            extra_files=[reports / "conformance-summary.json", reports / "conformance-summary.md"],
        )
        assert _same_tree(reports / "html" / "contracts", contracts_dir())

    assert leaks(reports, secrets) == []


def test_the_scanner_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text('{"x": "Bearer abcdefgh12345"}')
    blob = base64.b64encode(json.dumps({"n": "Lovelace"}).encode()).decode()
    (tmp_path / "index.html").write_text(f'<script>d("data/x.json","{blob}")</script>')
    (tmp_path / "c.txt").write_text("see https%3A%2F%2Flaunch.example%2Fw%2Fxyz")
    (tmp_path / "d.txt").write_text("Adaptive Ada")
    secrets = {
        "abcdefgh12345": "bearer token",
        "Lovelace": "familyname",
        "https://launch.example/w/xyz": "launchurl",
        "Ada": "givenname",
        "Zed": "givenname",
    }
    found = leaks(tmp_path, secrets)
    assert [(path, value) for path, _kind, value in found] == [
        ("a.txt", "abcdefgh12345"),
        ("c.txt", "https://launch.example/w/xyz"),
        ("d.txt", "Ada"),
        ("index.html", "Lovelace"),
    ]
