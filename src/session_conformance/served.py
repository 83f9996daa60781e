"""A reference server in a process of its own, reached only as a live target (``--base-url`` + tokens).

The fault and variant matrices use it to prove that the checks work when the suite does not know the
target is ours: they start ``session-conformance serve --port 0`` and read what it prints, exactly as a
user would. ``python -m session_conformance.served [--faults F] [--variants V] -- PYTEST_ARGS`` runs
the suites against one such server.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import IO

_PRINTED = {
    "CONFORMANCE_BASE_URL": re.compile(r"^\s*URL:\s+(\S+)"),
    "CONFORMANCE_TOKEN": re.compile(r"^\s*primary token:\s+(\S+)"),
    "CONFORMANCE_OTHER_TOKEN": re.compile(r"^\s*other token:\s+(\S+)"),
    "CONFORMANCE_ZITADEL_RESTRICTED_TOKEN": re.compile(r"^\s*restricted token:\s+(\S+)"),
    "CONFORMANCE_PROVIDER_STATE_URL": re.compile(r"^\s*provider-state URL:\s+(\S+)"),
    "CONFORMANCE_TRINSIC_PROVIDER": re.compile(r"^\s*Trinsic providers:\s+(\S+)"),
}


# what names a target (dropped from the caller's environment); run settings (profile, rules...) stay
_TARGET_VARIABLES = frozenset(
    {
        *_PRINTED,
        "CONFORMANCE_ZITADEL_LOGIN_NAME",
        "CONFORMANCE_ZITADEL_PASSWORD",
        "CONFORMANCE_FAULTS",
        "CONFORMANCE_VARIANTS",
    }
)


class ServedServer:
    """``session-conformance serve`` in a subprocess; ``env`` holds the CONFORMANCE_* a run needs."""

    def __init__(self, *, faults: Iterable[str] = (), variants: Iterable[str] = ()) -> None:
        self.faults = [f for f in faults if f]
        self.variants = [v for v in variants if v]
        self.env: dict[str, str] = {}
        self.output: collections.deque[str] = collections.deque(maxlen=200)  # the last lines it printed
        self._process: subprocess.Popen[str] | None = None

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "session_conformance.cli", "serve", "--port", "0"]
        if self.faults:
            command += ["--faults", ",".join(self.faults)]
        if self.variants:
            command += ["--variants", ",".join(self.variants)]
        return command

    def start(self, timeout: float = 30.0) -> ServedServer:
        self._process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        assert self._process.stdout is not None
        while len(self.env) < len(_PRINTED):
            line = self._process.stdout.readline()
            if not line:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("`serve` did not start: " + " | ".join(seen[-5:]))
                continue
            seen.append(line.rstrip())
            for key, pattern in _PRINTED.items():
                match = pattern.match(line)
                if match and key not in self.env:
                    self.env[key] = match.group(1)
        # keep reading what it prints: a full pipe would block the server at its next log line (a run
        # through cut connections makes uvicorn log every one)
        self.output = collections.deque(seen, maxlen=200)
        threading.Thread(target=self._drain, args=(self._process.stdout,), daemon=True).start()
        return self

    def _drain(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                self.output.append(line.rstrip())

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def __enter__(self) -> ServedServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def live_env(server: ServedServer, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that points a run at ``server``: only what `serve` printed, nothing of ours."""
    source = base if base is not None else os.environ
    env = {k: v for k, v in source.items() if k not in _TARGET_VARIABLES}
    env.update(server.env)
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m session_conformance.served", description=__doc__)
    parser.add_argument("--faults", default="", help="comma list of fault switches (default: none)")
    parser.add_argument("--variants", default="", help="comma list of variants, or all (default: none)")
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --)")
    args = parser.parse_args(argv)
    from session_conformance.runner import pytest_args

    with ServedServer(faults=args.faults.split(","), variants=args.variants.split(",")) as server:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args(["-p", "no:xdist", *args.pytest_args])],
            env=live_env(server),
            check=False,
        )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
