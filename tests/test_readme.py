"""The README is the front door: its options table lists exactly the options the code has."""

from __future__ import annotations

import re
from pathlib import Path

from session_conformance.cli import build_parser
from session_conformance.config import OPTIONS

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| (`--[^|]+) \| (`CONFORMANCE_[^|]+) \|", re.M)


def _table() -> dict[str, str]:
    """flag -> environment variable, from the README's options table."""
    rows: dict[str, str] = {}
    for flags, envs in ROW.findall(README.read_text(encoding="utf-8")):
        names = re.findall(r"`(--[a-z-]+)`", flags)
        variables = re.findall(r"`(CONFORMANCE_[A-Z_]+)", envs)
        rows.update(zip(names, variables, strict=True))
    return rows


def test_the_options_table_lists_every_suite_option_with_its_variable() -> None:
    table = _table()
    code = {spec.flag: spec.env for spec in OPTIONS} | {"--reports-dir": "CONFORMANCE_REPORTS_DIR"}
    assert table == code


def test_every_flag_of_every_subcommand_says_what_it_does_and_its_default() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings} has no help"
                takes_value = action.nargs != 0 and not isinstance(action.default, bool)
                if takes_value and action.default not in (None, [], argparse_suppress()):
                    assert "default" in action.help, f"{name} {action.option_strings}: no default named"


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS
