"""Certification packages: `package` then `verify` round-trips, any change is named, nothing secret goes in.

The runs are real and small (embedded server, one rule's check); the planted-secrets run is the
`leaky` run of test_no_secrets_in_reports (checks that put tokens, session tokens, results access
keys, launch URLs and identity data into their failures), here with a waiver whose reason quotes a
bearer token and with `--har`, packaged and searched file by file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from session_conformance.config import Options
from session_conformance.reporting import html
from session_conformance.reporting.package import MANIFEST, headline, verify
from session_conformance.reporting.runinfo import masked_options
from test_no_secrets_in_reports import LEAKY_CHECKS, RECORDER, TRAFFIC_ENV, leaks, secrets_in_traffic

RULE, FAULT = "TRN-R06", "trn-launch-url-on-get"
PLANTED_TOKEN = "plantedBearer9f8e7d6c5b4a"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    command = [sys.executable, "-m", "session_conformance.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A package of a small run with one failed rule (TRN-R06, fault on)."""
    tmp = tmp_path_factory.mktemp("package")
    reports = tmp / "reports"
    done = cli(
        "run", "-n", "0", "--api", "trinsic", "--rules", RULE, "--profile", "smoke",
        "--faults", FAULT, "--reports-dir", str(reports), cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-3000:]
    made = cli("package", str(reports), "--output", str(tmp / "run.zip"))
    assert made.returncode == 0, made.stderr
    return tmp / "run.zip"


def rewrite(source: Path, target: Path, *, change: str = "", drop: str = "", add: str = "") -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = zin.read(info.filename)
            if info.filename == change:
                data = data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]  # one byte
            zout.writestr(info, data)
        if add:
            zout.writestr(add, "{}\n")
    return target


def test_a_package_verifies_and_names_what_was_run(packaged: Path) -> None:
    done = cli("verify", str(packaged))
    assert done.returncode == 0, done.stdout
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"FAILED rule(s): {RULE} (trinsic)")  # failures say so first
    assert "PARTIAL run" in lines[0]
    assert lines[1].startswith("VERIFIED: ")
    assert any(line.startswith("trinsic: non-conformant") for line in lines)
    assert "contracts: the same as this installation's" in lines
    assert any(
        line.startswith("not covered (trinsic, not selected in this run (--rules)): TRN-R01")
        for line in lines
    )
    assert any("APIs not run: zitadel-v2, zitadel-v2beta" in line for line in lines)
    with zipfile.ZipFile(packaged) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
    assert {"conformance-summary.json", "conformance-summary.md", "junit.xml", "manifest.sha256"} <= names
    assert any(name.startswith("allure-results/") for name in names)
    assert set(manifest["files"]) == names - {MANIFEST, "manifest.sha256"}
    for key in ("suite_version", "contracts_digest", "rules_sha256", "seed", "started", "finished", "python"):
        assert manifest[key], key
    assert (
        manifest["contracts"]["rules.json"] == manifest["rules_sha256"]
        and manifest["contracts_recorded_by_run"]
    )
    assert manifest["apis"] == ["trinsic"] and manifest["profile"] == "smoke"
    assert manifest["options"]["rules"] == [RULE] and manifest["options"]["server_faults"] == [FAULT]
    assert {"schemathesis", "hypothesis", "pytest"} <= set(manifest["packages"])


@pytest.mark.parametrize(
    "name", ["conformance-summary.json", "junit.xml", "conformance-summary.md", MANIFEST, "manifest.sha256"]
)
def test_one_changed_byte_fails_verify_naming_the_file(packaged: Path, tmp_path: Path, name: str) -> None:
    good, lines = verify(rewrite(packaged, tmp_path / "x.zip", change=name))
    assert not good and any(line.startswith("NOT VERIFIED") for line in lines[:2])
    assert any(line.strip().startswith("changed: ") and name.split(".")[0] in line for line in lines), lines


def test_a_changed_allure_result_fails_verify_naming_it(packaged: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(packaged) as zf:
        result = next(n for n in zf.namelist() if n.endswith("-result.json"))
    good, lines = verify(rewrite(packaged, tmp_path / "x.zip", change=result))
    assert not good and f"  changed: {result} (SHA-256 differs from the manifest)" in lines


def test_an_added_or_removed_file_fails_verify_naming_it(packaged: Path, tmp_path: Path) -> None:
    good, lines = verify(rewrite(packaged, tmp_path / "a.zip", add="allure-results/extra-result.json"))
    assert not good and "  extra: allure-results/extra-result.json (not in the manifest)" in lines
    good, lines = verify(rewrite(packaged, tmp_path / "r.zip", drop="junit.xml"))
    assert not good and "  missing: junit.xml (named in the manifest)" in lines
    done = cli("verify", str(tmp_path / "r.zip"))
    assert done.returncode == 1 and "missing: junit.xml" in done.stdout


def test_a_clean_complete_run_says_so_first() -> None:
    summary = {
        "apis": ["trinsic", "zitadel-v2", "zitadel-v2beta", "zitadel-v2-connect", "zitadel-v2beta-connect"],
        "rules": [{"id": "TRN-R01", "api": "trinsic", "verdict": "passed"}],
        "run": {"options": {"read_only": False, "rules": None}},
    }
    assert headline(summary) == "no rule failed or errored"
    summary["rules"].append({"id": "ZTD-R01", "api": "zitadel-v2", "verdict": "error"})
    summary["run"]["options"]["read_only"] = True
    assert headline(summary).startswith("ERRORED rule(s): ZTD-R01 (zitadel-v2); PARTIAL run")


def test_options_in_the_manifest_are_masked() -> None:
    options = Options(
        base_url="https://alice:pw1234@staging.example/?token=q1w2e3r4t5",
        token="tok-9a8b7c6d5e4f",
        other_token="tok-1a2b3c4d5e6f",
        zitadel_login_name="grace.hopper@example.com",
        zitadel_password="Secr3t!pass",
    )
    text = json.dumps(masked_options(options))
    for secret in (
        "pw1234",
        "alice",
        "q1w2e3r4t5",
        "tok-9a8b7c6d5e4f",
        "tok-1a2b3c4d5e6f",
        "grace.hopper",
        "Secr3t",
    ):
        assert secret not in text
    assert "staging.example" in text


def test_a_package_of_a_planted_secrets_run_holds_none_of_them(tmp_path: Path) -> None:
    (tmp_path / "conformance_traffic_recorder.py").write_text(textwrap.dedent(RECORDER))
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["session_conformance.pytest_plugin"]\n')
    (tmp_path / "test_leaky.py").write_text(textwrap.dedent(LEAKY_CHECKS))
    (tmp_path / "waivers.toml").write_text(
        f'[[waiver]]\nrule = "TRN-R06"\nreason = "seen with Bearer {PLANTED_TOKEN}"\n'
        'link = "https://tickets.example/SC-9"\nexpires = 2099-12-31\n'
    )
    traffic, reports = tmp_path / "traffic.jsonl", tmp_path / "reports"
    traffic.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
    env[TRAFFIC_ENV] = str(traffic)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    command = [
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "conformance_traffic_recorder",
        "-p", "session_conformance.reporting.plugin", "--reports-dir", str(reports), "-q",
        "--api", "trinsic,zitadel-v2", "--waivers", "waivers.toml", "--har", str(reports / "run.har"),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 waived" in done.stdout.splitlines()[-1]

    built = shutil.which("node") is not None  # CI has Node: the HTML report goes in and is searched too
    if built:
        html.build(results=reports / "allure-results", output=reports / "html", history=tmp_path / "h.jsonl")
    made = cli("package", str(reports), "--output", str(tmp_path / "leaky.zip"))
    assert made.returncode == 0, made.stderr
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "leaky.zip") as zf:
        zf.extractall(unpacked)
        assert {"waivers.toml", "run.har"} <= set(zf.namelist())
        assert not built or "html/index.html" in zf.namelist()
    secrets = secrets_in_traffic(traffic)
    assert {"bearer token", "sessiontoken", "resultsaccesskey", "launchurl", "givenname"} <= set(
        secrets.values()
    )
    secrets[PLANTED_TOKEN] = "bearer token"
    assert leaks(unpacked, secrets) == []
    assert PLANTED_TOKEN in (tmp_path / "waivers.toml").read_text()  # planted for real


def test_a_reports_folder_is_packaged_from_its_latest_run(tmp_path: Path) -> None:
    (tmp_path / "w.toml").write_text(
        f'[[waiver]]\nrule = "{RULE}"\nreason = "known"\nlink = "https://t/1"\nexpires = 2099-12-31\n'
    )
    base = ["run", "-n", "0", "--api", "trinsic", "--rules", RULE, "--profile", "smoke"]
    done = cli(*base, "--faults", FAULT, "--waivers", "w.toml", cwd=tmp_path)  # reports/runs/<run>/
    assert done.returncode == 0, done.stdout[-3000:]
    made = cli("package", str(tmp_path / "reports"), "--output", str(tmp_path / "p.zip"))
    assert made.returncode == 0, made.stderr
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert "waivers.toml" in zf.namelist()  # it lives in the run's own folder
        summary = json.loads(zf.read("conformance-summary.json"))
    latest = json.loads((tmp_path / "reports" / "latest" / "conformance-summary.json").read_text())
    assert summary["run"]["seed"] == latest["run"]["seed"] and summary["verdicts"] == {"trinsic": "waived"}
