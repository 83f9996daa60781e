"""The coverage-case cache changes nothing: the same cases and the same verdicts, cold and warm."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from schemathesis.generation.case import Case

from session_conformance import casecache
from session_conformance.config import PROFILES, Options
from session_conformance.generic import load_schema

# Cheap operations (the advanced create alone builds for ~20 s): a body, path parameters, no parameters.
OPERATIONS = ("POST /api/v1/sessions/widget", "POST /api/v1/sessions/{sessionId}/cancel")
_TIME = re.compile(r"\btime=[0-9.e+-]+")
ROOT = Path(__file__).resolve().parents[1]


def _coverage_cases(mode: str, seed: int) -> dict[str, list[list[str]]]:
    """Each operation's coverage cases, as Schemathesis' builder asks for them: every field but the log ID."""
    schema = load_schema("trinsic", Options(profile=PROFILES["standard"]), seed, mode=mode)
    out = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label not in OPERATIONS:
            continue
        config = schema.config.generation_for(operation=operation, phase="coverage")
        modes = config.modes
        cases = list(schema.iter_coverage_cases(operation, generation_modes=modes, generation_config=config))
        assert cases, operation.label
        out[operation.label] = [_fields(case) for case in cases]
    assert set(out) == set(OPERATIONS)
    return out


def _fields(case: Any) -> list[str]:
    assert case.operation is not None
    # repr of each field: NOT_SET (no body) shows its address, so it must be this process's object. The
    # generation time (a measurement, in case.meta) differs from one build to the next.
    fields = [repr(getattr(case, name, None)) for name in Case.__slots__ if name not in ("operation", "id")]
    return [_TIME.sub("time=_", field) for field in fields]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_same_cases_without_cold_and_warm_cache(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(casecache.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(casecache.CACHE_ENV, "off")
    without = _coverage_cases(mode, seed=7)
    assert not (tmp_path / "cache").exists()

    monkeypatch.setenv(casecache.CACHE_ENV, "on")
    cold = _coverage_cases(mode, seed=7)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == len(OPERATIONS)

    # Warm: nothing is generated (the library's own generator would raise), everything is read.
    schema_class = type(load_schema("trinsic", Options(profile=PROFILES["standard"]), 7, mode=mode))
    base = schema_class.__mro__[1]

    def not_generated(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a warm cache generated coverage cases")

    monkeypatch.setattr(base, "iter_coverage_cases", not_generated)
    warm = _coverage_cases(mode, seed=7)
    assert without == cold == warm


def test_unreadable_entry_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(casecache.CACHE_DIR_ENV, str(tmp_path))
    first = _coverage_cases("positive", seed=1)
    for entry in tmp_path.glob("*.pickle"):
        entry.write_bytes(b"truncated")
    assert _coverage_cases("positive", seed=1) == first


def _verdicts(tmp_path: Path, name: str, cache: str) -> dict[str, str]:
    reports = tmp_path / name
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    env.update({casecache.CACHE_DIR_ENV: str(tmp_path / "cache"), casecache.CACHE_ENV: cache})
    command = [
        sys.executable, "-m", "pytest", str(ROOT / "suites" / "test_contract_conformance.py"),
        "-p", "session_conformance.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:xdist",
        "-p", "no:randomly", "-o", "addopts=", "--rootdir", str(ROOT), "-q",
        "--api", "trinsic", "--profile", "standard", "--faults", "trn-redact-json-body",
        "-k", "redact", "--hypothesis-seed", "11", "--reports-dir", str(reports),
    ]  # fmt: skip
    subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    tree = ET.parse(reports / "junit.xml")
    verdicts = {}
    for testcase in tree.iter("testcase"):
        failure = testcase.find("failure")
        outcome = "skipped" if testcase.find("skipped") is not None else "passed"
        if failure is not None:
            outcome = "failed " + json.dumps((failure.get("message") or "").split(":")[0])
        verdicts[testcase.get("name", "")] = outcome
    return verdicts


def test_same_verdicts_with_cold_and_warm_cache(tmp_path: Path) -> None:
    """A fault the generic checks find (TRN-R04 on redact): the same verdicts without, cold, warm."""
    without = _verdicts(tmp_path, "off", "off")
    cold = _verdicts(tmp_path, "cold", "on")
    warm = _verdicts(tmp_path, "warm", "on")
    assert any(v.startswith("failed") for v in without.values()), without
    assert without == cold == warm
