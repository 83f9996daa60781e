"""Allure metadata files of a run: ``environment.properties``, ``executor.json``, ``categories.json``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from session_conformance.apis import RULE_PREFIXES

# --- categories ----------------------------------------------------------------------------------
# Allure 2 category format; Allure 3 reads the same entries from the results folder and from the
# report configuration written by ``reporting.html``. A test goes to the first category that matches.
# Regexes are written to work both as Java "whole message" matches and as JavaScript searches.

_RULE_MESSAGE = rf"^([\w.]+: )?\[({RULE_PREFIXES})[RX]\d+\][\s\S]*"  # "RuleViolation: [TRN-R07] ..."
_ANY = r"[\s\S]*"

CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "Target defects: rule violations",
        "description": "The target broke a documented rule. The message starts with the rule ID, "
        "e.g. [TRN-R07] or [ZTD-R38]; the request and response are attached.",
        "matchedStatuses": ["failed"],
        "messageRegex": _RULE_MESSAGE,
    },
    {
        "name": "Known defects: waived",
        "description": "A rule violation that an unexpired waiver (--waivers) covers: not failed for the "
        "gate, not passed either. The message names the waiver's expiry, reason and ticket.",
        "matchedStatuses": ["skipped"],
        "messageRegex": r"^WAIVED [\s\S]*",
    },
    {
        "name": "Environment: target unreachable",
        "description": "The suite could not reach the target (connection refused, DNS, TLS).",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": _ANY + r"(ConnectError|ConnectionRefused|Connection refused"
        r"|Name or service not known|nodename nor servname|SSLError"
        r"|certificate verify failed|RemoteProtocolError)" + _ANY,
    },
    {
        "name": "Environment: timeouts",
        "description": "A request or the run took longer than the configured timeout.",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": _ANY + r"(Timeout|timed out|TimeoutException)" + _ANY,
    },
    {
        "name": "Environment: provider-state hook errors",
        "description": "The provider-state hook refused to set up a state; the check could not run.",
        "matchedStatuses": ["broken", "failed"],
        "messageRegex": _ANY + r"(ProviderStateError|provider[- ]state)" + _ANY,
    },
    {
        "name": "Suite defects: assertion without a rule ID",
        "description": "A check failed without naming a rule: a defect of the suite, not of the target.",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Suite or environment errors",
        "description": "Any other exception: a problem of the suite or its environment, not a verdict "
        "about the target.",
        "matchedStatuses": ["broken"],
    },
]


def categories() -> list[dict[str, Any]]:
    return [dict(category) for category in CATEGORIES]


# --- environment.properties ----------------------------------------------------------------------


def _escape_properties(text: str, *, key: bool = False) -> str:
    out = []
    for index, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char in "=:#!" and (key or index == 0):
            out.append("\\" + char)
        elif char == " " and (key or index == 0):
            out.append("\\ ")
        elif ord(char) > 0x7E or ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def render_properties(values: Mapping[str, object]) -> str:
    """Java ``.properties`` text (what Allure reads as the run's environment)."""
    lines = [
        f"{_escape_properties(str(k), key=True)}={_escape_properties(str(v))}"
        for k, v in values.items()
        if v is not None and v != ""
    ]
    return "\n".join(lines) + "\n"


# --- executor.json -------------------------------------------------------------------------------


def executor_info(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Who ran the suite, from the CI's variables; ``None`` outside CI.

    ``CONFORMANCE_REPORT_URL`` (optional) is where the published HTML report lives.
    """
    env = os.environ if env is None else env
    report_url = env.get("CONFORMANCE_REPORT_URL") or None
    info: dict[str, Any]
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo = env.get("GITHUB_REPOSITORY", "")
        run_number = env.get("GITHUB_RUN_NUMBER", "")
        info = {
            "name": "GitHub Actions",
            "type": "github",
            "url": f"{server}/{repo}" if repo else server,
            "buildOrder": int(run_number) if run_number.isdigit() else None,
            "buildName": f"{env.get('GITHUB_WORKFLOW', 'workflow')} #{run_number}".strip(),
            "buildUrl": f"{server}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
            if repo and env.get("GITHUB_RUN_ID")
            else None,
        }
    elif env.get("GITLAB_CI") == "true":
        iid = env.get("CI_PIPELINE_IID", "")
        info = {
            "name": "GitLab CI",
            "type": "gitlab",
            "url": env.get("CI_PROJECT_URL"),
            "buildOrder": int(iid) if iid.isdigit() else None,
            "buildName": f"{env.get('CI_JOB_NAME', 'job')} #{iid}".strip(),
            "buildUrl": env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
        }
    elif env.get("CI"):
        info = {"name": "CI", "type": "ci", "buildName": env.get("CI_JOB_NAME") or "CI run"}
    else:
        return None
    if report_url:
        info["reportUrl"] = report_url
        info["reportName"] = "Conformance report"
    return {key: value for key, value in info.items() if value not in (None, "")}


def contract_link_base(env: Mapping[str, str] | None = None) -> str:
    """Where links to ``contracts/...`` point: ``CONFORMANCE_CONTRACTS_BASE_URL``, else the CI's
    view of the commit under test, else a path relative to the repository root."""
    env = os.environ if env is None else env
    explicit = env.get("CONFORMANCE_CONTRACTS_BASE_URL", "").strip()
    if explicit:
        return explicit.rstrip("/") + "/"
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY") and env.get("GITHUB_SHA"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        return f"{server}/{env['GITHUB_REPOSITORY']}/blob/{env['GITHUB_SHA']}/contracts/"
    if env.get("GITLAB_CI") == "true" and env.get("CI_PROJECT_URL") and env.get("CI_COMMIT_SHA"):
        return f"{env['CI_PROJECT_URL']}/-/blob/{env['CI_COMMIT_SHA']}/contracts/"
    return "contracts/"


# --- writing -------------------------------------------------------------------------------------


def write_metadata(
    results_dir: Path, environment: Mapping[str, object], env: Mapping[str, str] | None = None
) -> None:
    """Write the three metadata files into an Allure results folder."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "environment.properties").write_text(render_properties(environment), encoding="utf-8")
    (results_dir / "categories.json").write_text(json.dumps(categories(), indent=2) + "\n", encoding="utf-8")
    executor = executor_info(env)
    if executor is not None:
        (results_dir / "executor.json").write_text(json.dumps(executor, indent=2) + "\n", encoding="utf-8")
