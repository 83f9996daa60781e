"""The rules lint passes on the project, and fails on a planted unknown rule ID, level or missing field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from session_conformance.contracts import contracts_dir, load_rules
from session_conformance.rules_lint import lint, suite_files
from session_conformance.runner import suites_dir


def test_the_suites_rules_faults_and_variants_agree_with_rules_json() -> None:
    assert lint(suites_dir()) == []


def test_a_planted_unknown_rule_id_fails_the_lint(tmp_path: Path) -> None:
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "import pytest\nfrom session_conformance.verdict import expect\n\n"
        '@pytest.mark.rules("TRN-R99")\ndef test_x(client):\n    expect("ZTD-R77", False, "typo")\n',
        encoding="utf-8",
    )
    problems = lint(suites_dir(), [*suite_files(suites_dir()), planted])
    assert any("unknown rule ID TRN-R99" in p and "test_planted.py:4" in p for p in problems), problems
    assert any("unknown rule ID ZTD-R77" in p for p in problems), problems


def test_failing_a_rule_that_rules_json_says_only_warns_fails_the_lint(tmp_path: Path) -> None:
    """TRN-R19 fails at `warning` (the suite's own reading): an `expect` on it would fail a vendor."""
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "from session_conformance.harness import expect_status\n\n"
        "def test_x(client):\n    expect_status('TRN-R19', client.get('/'), 200, 'x')\n",
        encoding="utf-8",
    )
    problems = lint(suites_dir(), [*suite_files(suites_dir()), planted])
    assert any("test_planted.py:4: fails TRN-R19" in p and "warning" in p for p in problems), problems


def test_a_rule_without_its_metadata_fails_the_lint(tmp_path: Path) -> None:
    rules = json.loads((contracts_dir() / "rules.json").read_text(encoding="utf-8"))
    del rules["rules"][0]["severity"]
    rules["rules"][1]["fails_at"] = "maybe"
    root = tmp_path / "contracts"
    shutil.copytree(contracts_dir(), root)
    (root / "rules.json").write_text(json.dumps(rules), encoding="utf-8")
    problems = lint(suites_dir(), rules=load_rules(root))
    assert any("`severity` missing" in p for p in problems), problems
    assert any("needs fails_at" in p for p in problems), problems


def test_an_inferred_rule_that_fails_hard_fails_the_lint() -> None:
    """Issue 9/17: the suite's reading of an inferred fact is at most a warning."""
    rules = dict(load_rules())  # a copy: the catalogue itself stays as it is
    rules["TRN-R36"] = {**rules["TRN-R36"], "fails_at": "failed"}  # inferred: true
    problems = lint(suites_dir(), rules=rules)
    assert any("TRN-R36: an inferred rule fails at warning at most" in p for p in problems), problems
    assert not [r for r in load_rules().values() if r["inferred"] and r.get("fails_at") == "failed"]


def test_suite_helpers_that_fail_their_rule_argument_count_as_failing(tmp_path: Path) -> None:
    """``expect_rejected(RULE, ...)`` and ``rule=RULE`` fail RULE as ``expect`` does."""
    planted = tmp_path / "test_planted.py"
    planted.write_text(
        "def test_x(trn, exchange):\n    expect_rejected('TRN-R18', exchange, 'x')\n"
        "    trn.session('id', rule='TRN-R36')\n",
        encoding="utf-8",
    )
    problems = lint(suites_dir(), [*suite_files(suites_dir()), planted])
    assert any("test_planted.py:2: fails TRN-R18" in p for p in problems), problems
    assert any("test_planted.py:3: fails TRN-R36" in p for p in problems), problems
