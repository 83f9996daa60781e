"""The rules lint passes on the project, and fails on a planted unknown rule ID."""

from __future__ import annotations

from pathlib import Path

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
