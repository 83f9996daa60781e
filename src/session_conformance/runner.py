"""``session-conformance run``: the packaged suites with the options and reports of ``tox -e conformance``.

The wheel ships the suites (``session_conformance/_suites``) as it ships the contracts; in a checkout
(editable install) the repository's ``suites/`` are used. Pytest runs in this process, so replay lines
can say ``session-conformance run ...`` (a command that exists wherever this one does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

# How replay lines start. `run` sets it for its process and, through the environment, for xdist workers.
LAUNCHER_ENV = "SESSION_CONFORMANCE_LAUNCHER"


def launcher() -> str:
    return os.environ.get(LAUNCHER_ENV, "pytest")


def suites_dir() -> Path:
    """The suites: packaged next to this module, else the checkout's ``suites/``."""
    packaged = Path(__file__).resolve().parent / "_suites"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "suites"


def _given(args: Sequence[str], *flags: str) -> bool:
    return any(arg == flag or arg.startswith(flag + "=") for arg in args for flag in flags)


def pytest_args(args: Sequence[str]) -> list[str]:
    """The suites, the plugin, xdist sized by the plugin unless told otherwise, then the user's arguments.

    ``-n auto``: two workers for the embedded server; against a live target as many as its measured
    round trip needs to keep the cores busy (``network.auto_workers``). ``--workers N`` is ``-n N``.
    """
    args = _workers_as_n(args)
    suites = suites_dir()
    selects = any(not arg.startswith("-") and "suites" in arg for arg in args)
    command = [] if selects else [str(suites)]
    command += ["-p", "session_conformance.pytest_plugin", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(suites.parent), "-o", "addopts="]
    if not _given(args, "-n", "--numprocesses") and "no:xdist" not in args:
        command += ["-n", "auto", "--dist", "load"]  # load: schedule.DearestFirst
    return [*command, *args]


def _workers_as_n(args: Sequence[str]) -> list[str]:
    out: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--workers":
            out += ["-n", next(items, "auto")]
        elif arg.startswith("--workers="):
            out += ["-n", arg.partition("=")[2]]
        else:
            out.append(arg)
    return out


def main(args: Sequence[str]) -> int:
    import pytest

    os.environ[LAUNCHER_ENV] = "session-conformance run"
    return int(pytest.main(pytest_args(args)))
