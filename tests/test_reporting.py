"""Reporting: verdict aggregation, Allure metadata, the label scheme, the HTML builder's setup, and a
small conformance run (also under pytest-xdist) that writes the summary, JUnit XML and Allure results."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from session_conformance.apis.zitadel import ZITADEL
from session_conformance.contracts import load_contracts, load_rules
from session_conformance.reporting import environment, html
from session_conformance.reporting.allure_labels import plan_labels, rule_severity, severity_of
from session_conformance.reporting.masking import mask_url
from session_conformance.reporting.summary import (
    NOT_CHECKED,
    NOT_SELECTED,
    CheckRecord,
    build_summary,
    failure_rule_of,
    judge,
    render_markdown,
)

REPO = Path(__file__).resolve().parents[1]
CATALOGUE = {
    "TRN-R01": {"id": "TRN-R01", "api": "trinsic", "statement": "auth", "inferred": False},
    "TRN-R02": {"id": "TRN-R02", "api": "trinsic", "statement": "401/403", "inferred": True},
    "TRN-R03": {"id": "TRN-R03", "api": "trinsic", "statement": "problem details", "inferred": False},
    "ZTD-R01": {"id": "ZTD-R01", "api": "zitadel", "statement": "auth", "inferred": False},
    "ZTD-R02": {"id": "ZTD-R02", "api": "zitadel", "statement": "201", "inferred": False},
}


def rec(
    nodeid: str,
    apis: tuple[str, ...],
    rules: tuple[str, ...],
    outcome: Any = "passed",
    failure_rule: str | None = None,
    reason: str | None = None,
) -> CheckRecord:
    return CheckRecord(
        nodeid=nodeid, apis=apis, rules=rules, outcome=outcome, failure_rule=failure_rule, reason=reason
    )


def verdicts(rule_results: list[Any]) -> dict[tuple[str, str], str]:
    return {(r.api, r.id): r.verdict for r in rule_results}


# --- verdict aggregation -------------------------------------------------------------------------


def test_all_checked_rules_passed_is_conformant_and_unchecked_rules_are_skipped() -> None:
    rules, apis = judge(CATALOGUE, ["trinsic"], [rec("t::a", ("trinsic",), ("TRN-R01", "TRN-R02"))])
    assert verdicts(rules) == {
        ("trinsic", "TRN-R01"): "passed",
        ("trinsic", "TRN-R02"): "passed",
        ("trinsic", "TRN-R03"): "skipped",
    }
    skipped = next(r for r in rules if r.id == "TRN-R03")
    assert skipped.reason == NOT_CHECKED and skipped.checks == []
    assert apis["trinsic"].verdict == "conformant"
    assert apis["trinsic"].rules == {
        "passed": 2,
        "warning": 0,
        "failed": 0,
        "waived": 0,
        "blocked": 0,
        "error": 0,
        "skipped": 1,
    }


def test_a_failed_rule_makes_the_api_non_conformant_and_names_the_check() -> None:
    records = [
        rec("t::ok", ("trinsic",), ("TRN-R01",)),
        rec("t::bad", ("trinsic",), ("TRN-R03",), "failed", "TRN-R03", "[TRN-R03] no ProblemDetails"),
    ]
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    failed = next(r for r in rules if r.id == "TRN-R03")
    assert (failed.verdict, failed.checks, failed.reason) == (
        "failed",
        ["t::bad"],
        "[TRN-R03] no ProblemDetails",
    )
    assert apis["trinsic"].verdict == "non-conformant"
    assert "TRN-R03" in apis["trinsic"].reason


def test_failure_beats_error_beats_pass_for_one_rule() -> None:
    records = [
        rec("t::a", ("trinsic",), ("TRN-R01",)),
        rec("t::b", ("trinsic",), ("TRN-R01",), "error", reason="ConnectError: refused"),
    ]
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    assert verdicts(rules)[("trinsic", "TRN-R01")] == "error"
    assert apis["trinsic"].verdict == "incomplete"
    records.append(rec("t::c", ("trinsic",), ("TRN-R01",), "failed", "TRN-R01", "[TRN-R01] no auth"))
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    assert verdicts(rules)[("trinsic", "TRN-R01")] == "failed"
    assert apis["trinsic"].verdict == "non-conformant"
    assert next(r for r in rules if r.id == "TRN-R01").reason == "[TRN-R01] no auth"


def test_a_check_stopped_by_another_rule_leaves_its_other_rules_unjudged() -> None:
    records = [rec("t::x", ("trinsic",), ("TRN-R01", "TRN-R02"), "failed", "TRN-R02", "[TRN-R02] 500")]
    rules, _ = judge(CATALOGUE, ["trinsic"], records)
    r01 = next(r for r in rules if r.id == "TRN-R01")
    assert r01.verdict == "blocked" and "TRN-R02" in (r01.reason or "")
    assert verdicts(rules)[("trinsic", "TRN-R02")] == "failed"


def test_a_failure_on_an_undeclared_rule_still_fails_that_rule() -> None:
    records = [rec("t::x", ("trinsic",), ("TRN-R01",), "failed", "TRN-R03", "[TRN-R03] bad body")]
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    assert verdicts(rules)[("trinsic", "TRN-R03")] == "failed"
    assert next(r for r in rules if r.id == "TRN-R03").checks == ["t::x"]
    assert apis["trinsic"].verdict == "non-conformant"


def test_a_failure_without_a_rule_is_an_error_of_its_rules() -> None:
    records = [rec("t::x", ("trinsic",), ("TRN-R01",), "failed", None, "assert 1 == 2")]
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    assert verdicts(rules)[("trinsic", "TRN-R01")] == "error"
    assert apis["trinsic"].verdict == "incomplete"


def test_nothing_ran_is_incomplete_and_only_skips_is_incomplete() -> None:
    _, apis = judge(CATALOGUE, ["trinsic"], [])
    assert apis["trinsic"].verdict == "incomplete"
    _, apis = judge(
        CATALOGUE, ["trinsic"], [rec("t::s", ("trinsic",), ("TRN-R01",), "skipped", reason="needs x")]
    )
    assert apis["trinsic"].verdict == "incomplete"


def test_skipped_rule_keeps_the_skip_reason() -> None:
    records = [
        rec("t::s", ("trinsic",), ("TRN-R02",), "skipped", reason="needs --other-token"),
        rec("t::p", ("trinsic",), ("TRN-R01",)),
    ]
    rules, apis = judge(CATALOGUE, ["trinsic"], records)
    r02 = next(r for r in rules if r.id == "TRN-R02")
    assert (r02.verdict, r02.reason, r02.checks) == ("skipped", "needs --other-token", ["t::s"])
    assert apis["trinsic"].verdict == "conformant"


def test_an_error_without_rules_or_a_session_error_makes_the_api_incomplete() -> None:
    records = [rec("t::p", ("trinsic",), ("TRN-R01",)), rec("t::e", ("trinsic",), (), "error", reason="boom")]
    _, apis = judge(CATALOGUE, ["trinsic"], records)
    assert apis["trinsic"].verdict == "incomplete"
    _, apis = judge(CATALOGUE, ["trinsic"], records[:1], session_errors=["collection error in x"])
    assert apis["trinsic"].verdict == "incomplete" and "collection error" in apis["trinsic"].reason


def test_zitadel_rules_are_judged_per_api() -> None:
    records = [
        rec("z::a[v2]", ("zitadel-v2",), ("ZTD-R01", "ZTD-R02")),
        rec("z::a[v2beta]", ("zitadel-v2beta",), ("ZTD-R01",)),
        rec("z::b[v2beta]", ("zitadel-v2beta",), ("ZTD-R02",), "failed", "ZTD-R02", "[ZTD-R02] 200"),
    ]
    rules, apis = judge(CATALOGUE, ["zitadel-v2", "zitadel-v2beta"], records)
    assert verdicts(rules) == {
        ("zitadel-v2", "ZTD-R01"): "passed",
        ("zitadel-v2", "ZTD-R02"): "passed",
        ("zitadel-v2beta", "ZTD-R01"): "passed",
        ("zitadel-v2beta", "ZTD-R02"): "failed",
    }
    assert apis["zitadel-v2"].verdict == "conformant"
    assert apis["zitadel-v2beta"].verdict == "non-conformant"
    assert not any(r.api == "trinsic" for r in rules)


def test_summary_document_lists_every_rule_of_the_selected_apis() -> None:
    catalogue = load_rules()
    summary = build_summary(
        rules=catalogue,
        apis=["zitadel-v2beta", "trinsic"],
        records=[rec("t::a", ("trinsic",), ("TRN-R01",))],
        target="https://***@staging.example",
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:01:00Z",
        suite_version="1.0",
        contracts_digest="abc",
        profile="smoke",
        selected_rules={"TRN-R01"},
    )
    assert summary["apis"] == ["trinsic", "zitadel-v2beta"]
    trinsic = {r["id"] for r in catalogue.values() if r["api"] == "trinsic"}
    beta = "zitadel-v2beta"  # a REST API: the Connect transport's own rules are not its (ZTD-T.., X02)
    zitadel = {
        r["id"] for r in catalogue.values() if r["api"] == "zitadel" and ZITADEL.applies(r["id"], beta)
    }
    assert "ZTD-T01" not in zitadel and "ZTD-R02" in zitadel
    assert {r["id"] for r in summary["rules"] if r["api"] == "trinsic"} == trinsic
    assert {r["id"] for r in summary["rules"] if r["api"] == "zitadel-v2beta"} == zitadel
    for rule in summary["rules"]:
        assert set(rule) >= {"id", "api", "verdict", "checks", "inferred"}
        assert rule["inferred"] == catalogue[rule["id"]]["inferred"]
        assert ("reason" in rule) == (rule["verdict"] != "passed")
    r02 = next(r for r in summary["rules"] if r["id"] == "TRN-R02")
    assert r02["reason"] == NOT_SELECTED
    assert summary["verdicts"] == {"trinsic": "conformant", "zitadel-v2beta": "incomplete"}
    for key in ("target", "started", "finished", "suite_version", "contracts_digest", "profile"):
        assert summary[key]
    json.dumps(summary)  # serialisable
    markdown = render_markdown(summary)
    assert "| trinsic | ✅ conformant |" in markdown and "TRN-R42" in markdown


def test_markdown_escapes_table_cells() -> None:
    summary = build_summary(
        rules=CATALOGUE,
        apis=["trinsic"],
        records=[rec("t::x", ("trinsic",), ("TRN-R01",), "failed", "TRN-R01", "[TRN-R01] a | b\nc")],
        target="t",
        started="s",
        finished="f",
        suite_version="v",
        contracts_digest="d",
        profile="p",
    )
    line = next(x for x in render_markdown(summary).splitlines() if x.startswith("| TRN-R01 |"))
    assert "a \\| b c" in line


@pytest.mark.parametrize(
    ("message", "rule"),
    [
        ("[TRN-R07] launch URL twice", "TRN-R07"),
        ("session_conformance.verdict.RuleViolation: [ZTD-R38] old token works", "ZTD-R38"),
        ("  [TRN-X01] 500 on bad input", "TRN-X01"),
        ("AssertionError: assert 1 == 2", None),
        ("ConnectError: [Errno 111] Connection refused", None),
    ],
)
def test_failure_rule_of(message: str, rule: str | None) -> None:
    assert failure_rule_of(message) == rule


# --- Allure metadata -----------------------------------------------------------------------------


def _category(message: str, status: str) -> str | None:
    """Which category Allure would pick: the first whose status and (whole-message) regex match."""
    for category in environment.categories():
        if status not in category["matchedStatuses"]:
            continue
        regex = category.get("messageRegex")
        if regex is None or re.fullmatch(regex, message):
            return str(category["name"])
    return None


@pytest.mark.parametrize(
    ("message", "status", "expected"),
    [
        (
            "session_conformance.verdict.RuleViolation: [TRN-R07] launchUrl returned twice",
            "failed",
            "Target defects",
        ),
        ("[ZTD-R38] the old token\nstill works", "failed", "Target defects"),
        ("httpx.ConnectError: [Errno 111] Connection refused", "broken", "Environment: target unreachable"),
        ("httpx.ReadTimeout: timed out", "broken", "Environment: timeouts"),
        (
            "session_conformance.provider_state.ProviderStateError: hook answered 500",
            "broken",
            "Environment: provider-state hook errors",
        ),
        ("AssertionError: assert 1 == 2", "failed", "Suite defects"),
        ("KeyError: 'x'", "broken", "Suite or environment errors"),
    ],
)
def test_categories_tell_target_defects_from_suite_and_environment_errors(
    message: str, status: str, expected: str
) -> None:
    assert (_category(message, status) or "").startswith(expected)


def test_category_regexes_are_valid_for_javascript_too() -> None:
    for category in environment.categories():
        regex = category.get("messageRegex", "")
        assert "(?" not in regex  # no inline flags: Allure 3 compiles these with JavaScript's RegExp


def test_environment_properties_escape_keys_and_values() -> None:
    text = environment.render_properties(
        {"target": "http://h:1/x", "a key": "v=1", "multi": "a\nb", "none": None, "unicode": "é"}
    )
    assert text.splitlines() == ["target=http://h:1/x", "a\\ key=v=1", "multi=a\\nb", "unicode=\\u00e9"]


def test_executor_from_github_actions() -> None:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "99",
        "GITHUB_RUN_NUMBER": "7",
        "GITHUB_WORKFLOW": "nightly",
        "CONFORMANCE_REPORT_URL": "https://o.github.io/r/",
    }
    assert environment.executor_info(env) == {
        "name": "GitHub Actions",
        "type": "github",
        "url": "https://github.com/o/r",
        "buildOrder": 7,
        "buildName": "nightly #7",
        "buildUrl": "https://github.com/o/r/actions/runs/99",
        "reportUrl": "https://o.github.io/r/",
        "reportName": "Conformance report",
    }


def test_executor_from_gitlab_and_none_outside_ci() -> None:
    env = {
        "GITLAB_CI": "true",
        "CI": "true",
        "CI_PROJECT_URL": "https://gitlab.example/g/p",
        "CI_PIPELINE_IID": "12",
        "CI_JOB_NAME": "conformance",
        "CI_JOB_URL": "https://gitlab.example/g/p/-/jobs/5",
    }
    info = environment.executor_info(env)
    assert info is not None
    assert (info["type"], info["buildOrder"], info["buildName"], info["buildUrl"]) == (
        "gitlab",
        12,
        "conformance #12",
        "https://gitlab.example/g/p/-/jobs/5",
    )
    assert environment.executor_info({}) is None
    assert environment.executor_info({"CI": "true"}) == {"name": "CI", "type": "ci", "buildName": "CI run"}


def test_contract_link_base() -> None:
    assert environment.contract_link_base({}) == "contracts/"
    assert environment.contract_link_base({"CONFORMANCE_CONTRACTS_BASE_URL": "https://x/c"}) == "https://x/c/"
    gh = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_SHA": "abc"}
    assert environment.contract_link_base(gh) == "https://github.com/o/r/blob/abc/contracts/"
    gl = {"GITLAB_CI": "true", "CI_PROJECT_URL": "https://gl/g/p", "CI_COMMIT_SHA": "abc"}
    assert environment.contract_link_base(gl) == "https://gl/g/p/-/blob/abc/contracts/"


def test_write_metadata(tmp_path: Path) -> None:
    environment.write_metadata(tmp_path, {"target": "t"}, env={"CI": "1"})
    assert (tmp_path / "environment.properties").read_text() == "target=t\n"
    assert json.loads((tmp_path / "categories.json").read_text())[0]["name"].startswith("Target defects")
    assert json.loads((tmp_path / "executor.json").read_text())["type"] == "ci"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://staging.example.com", "https://staging.example.com"),
        ("https://user:pa55word@staging.example.com/base", "https://***@staging.example.com/base"),
        ("https://h.example/x?token=abcdef&page=2", "https://h.example/x?token=***&page=2"),
    ],
)
def test_target_url_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# --- labels --------------------------------------------------------------------------------------


def test_label_plan_groups_api_operation_rule_and_shows_choices() -> None:
    catalogue = load_rules()
    contracts = load_contracts()
    op = next(o for o in contracts.for_api("trinsic") if any(s.inferred for s in o.responses.values()))
    plan = plan_labels(
        apis=["trinsic"],
        operations=[op.operation_id],
        rules=["TRN-R01", "TRN-R50"],
        catalogue=catalogue,
        contracts=contracts,
        link_base="contracts/",
    )
    assert plan.values("epic") == ["trinsic"]
    assert plan.values("feature") == [op.operation_id]
    assert [s.split(":")[0] for s in plan.values("story")] == ["TRN-R01", "TRN-R50"]
    assert plan.values("rule") == ["TRN-R01", "TRN-R50"]
    assert "inferred-rule" in plan.values("tag")
    assert plan.severity == "blocker"
    assert [link.url for link in plan.links] == [
        f"contracts/trinsic/{op.operation_id}.json",
        "contracts/rules.json",
    ]
    assert "TRN-R50" in plan.description and "inferred" in plan.description
    assert "Choices made by the suite" in plan.description
    assert f"`trinsic/{op.operation_id}`" in plan.description


def test_severity_scheme() -> None:
    catalogue = load_rules()
    assert rule_severity("TRN-R01", catalogue["TRN-R01"]) == "blocker"
    assert rule_severity("ZTD-R38", catalogue["ZTD-R38"]) == "critical"
    assert rule_severity("TRN-R50", catalogue["TRN-R50"]) == "minor"  # inferred
    assert rule_severity("TRN-R32", catalogue["TRN-R32"]) == "normal"
    assert severity_of(["TRN-R50", "ZTD-R38"], catalogue) == "critical"
    assert severity_of([], catalogue) == "normal"


def test_label_plan_without_operations_or_rules() -> None:
    plan = plan_labels(apis=["zitadel-v2"], operations=[], rules=[], catalogue={})
    assert plan.values("feature") == ["(across operations)"]
    assert plan.links == [] and plan.description == ""


# --- HTML builder (no Node needed) ---------------------------------------------------------------


def test_allure_is_pinned_to_an_exact_version() -> None:
    version = html.pinned_version(REPO)
    assert version is not None and re.fullmatch(r"3\.\d+\.\d+", version)
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/allure"]["version"] == version


def test_allure_config_groups_by_api_operation_rule_and_keeps_history(tmp_path: Path) -> None:
    config = html.allure_config(
        name="n", output=tmp_path / "o", history=tmp_path / "h.jsonl", history_limit=5
    )
    assert config["historyPath"] == str(tmp_path / "h.jsonl") and config["historyLimit"] == 5
    assert config["plugins"]["awesome"]["options"]["groupBy"] == ["epic", "feature", "story"]
    assert config["categories"][0]["groupBy"] == [{"label": "epic"}, {"label": "rule"}]


def test_report_without_results_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert html.main(["--reports-dir", str(tmp_path), "--no-install"]) == 2
    assert "no Allure results" in capsys.readouterr().err


# --- a small conformance run, with and without xdist ---------------------------------------------

CHECKS = """
import pytest
from session_conformance.verdict import expect


@pytest.mark.rules("TRN-R01")
def test_passes():
    pass


@pytest.mark.rules("TRN-R03")
def test_breaks_a_rule():
    expect("TRN-R03", False, "400 without a ProblemDetails body")


@pytest.mark.rules("TRN-R04")
def test_meets_an_environment_problem():
    raise ConnectionRefusedError("[Errno 111] Connection refused")


@pytest.mark.rules("TRN-R05")
def test_is_skipped():
    pytest.skip("needs --other-token")


@pytest.mark.rules("ZTD-R02")
def test_zitadel(zitadel_api):
    expect("ZTD-R02", zitadel_api == "zitadel-v2", "CreateSession answered 200")
"""


def run_conformance(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["session_conformance.pytest_plugin"]\n')
    (tmp_path / "test_checks.py").write_text(textwrap.dedent(CHECKS))
    reports = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "session_conformance.reporting.plugin",
            "--reports-dir",
            str(reports),
            "--api",
            "trinsic,zitadel-v2,zitadel-v2beta",
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    return done, reports


@pytest.mark.parametrize("xdist", [False, True], ids=["single", "xdist"])
def test_run_writes_summary_junit_and_allure_results(tmp_path: Path, xdist: bool) -> None:
    done, reports = run_conformance(tmp_path, *(["-n", "2"] if xdist else ["-p", "no:xdist"]))
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads((reports / "conformance-summary.json").read_text())
    by_rule = {(r["api"], r["id"]): r for r in summary["rules"]}
    assert by_rule[("trinsic", "TRN-R01")]["verdict"] == "passed"
    assert by_rule[("trinsic", "TRN-R03")]["verdict"] == "failed"
    assert by_rule[("trinsic", "TRN-R03")]["reason"].startswith("[TRN-R03] 400 without")
    assert by_rule[("trinsic", "TRN-R03")]["checks"] == ["test_checks.py::test_breaks_a_rule"]
    assert by_rule[("trinsic", "TRN-R04")]["verdict"] == "error"
    assert by_rule[("trinsic", "TRN-R05")]["verdict"] == "skipped"
    assert "other-token" in by_rule[("trinsic", "TRN-R05")]["reason"]
    assert by_rule[("trinsic", "TRN-R06")]["reason"] == NOT_CHECKED
    assert by_rule[("zitadel-v2", "ZTD-R02")]["verdict"] == "passed"
    assert by_rule[("zitadel-v2beta", "ZTD-R02")]["verdict"] == "failed"
    assert summary["verdicts"] == {
        "trinsic": "non-conformant",
        "zitadel-v2": "conformant",
        "zitadel-v2beta": "non-conformant",
    }
    assert summary["target"] == "embedded reference server"
    assert summary["contracts_digest"] == load_contracts().digest()
    assert (reports / "conformance-summary.md").read_text().startswith("# Conformance summary")

    junit = (reports / "junit.xml").read_text()
    assert 'tests="6"' in junit and "test_breaks_a_rule" in junit
    assert '<property name="conformance.rules" value="TRN-R03" />' in junit
    assert '<property name="conformance.api" value="zitadel-v2beta" />' in junit

    results = reports / "allure-results"
    assert {"environment.properties", "categories.json"} <= {p.name for p in results.iterdir()}
    props = (results / "environment.properties").read_text()
    assert (
        "target=embedded reference server" in props
        and f"contracts.digest={load_contracts().digest()}" in props
    )
    tests = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    assert len(tests) == 6
    broken = next(t for t in tests if t["name"] == "test_breaks_a_rule")
    labels = {(label["name"], label["value"]) for label in broken["labels"]}
    assert {("epic", "trinsic"), ("rule", "TRN-R03"), ("tag", "TRN-R03"), ("severity", "normal")} <= labels
    assert any(name == "story" and value.startswith("TRN-R03: ") for name, value in labels)
    assert broken["status"] == "failed"
    assert any(link["url"] == "contracts/rules.json" for link in broken["links"])
    assert "**Rules checked**" in broken["description"]
    assert any(a["name"] == "replay this check" for a in broken["attachments"])
    zitadel = [t for t in tests if t["name"].startswith("test_zitadel")]
    assert sorted(
        v for t in zitadel for n, v in ((lab["name"], lab["value"]) for lab in t["labels"]) if n == "epic"
    ) == ["zitadel-v2", "zitadel-v2beta"]
    assert "conformance verdicts" in done.stdout


def test_reporting_stays_off_for_ordinary_test_runs(tmp_path: Path) -> None:
    (tmp_path / "test_plain.py").write_text("def test_x():\n    pass\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "session_conformance.reporting.plugin",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()


def test_runs_from_one_checkout_each_get_their_own_folder(tmp_path: Path) -> None:
    """Two runs at once: both complete in their own folders; `latest` and the copies show one of them."""
    command = [sys.executable, "-m", "session_conformance.cli", "run", "-p", "no:xdist", "--api", "trinsic"]
    command += ["--profile", "smoke", "--rules", "TRN-R37"]
    runs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    folders = sorted((tmp_path / "reports" / "runs").iterdir())
    assert len(folders) == 2
    for folder in folders:
        assert (folder / "conformance-summary.json").is_file() and (folder / "junit.xml").is_file()
        assert any((folder / "allure-results").glob("*-result.json"))
    latest = (tmp_path / "reports" / "latest").resolve()
    assert latest in [f.resolve() for f in folders]
    assert (tmp_path / "reports" / "allure-results").resolve() == latest / "allure-results"
    assert (tmp_path / "reports" / "conformance-summary.json").is_file()
