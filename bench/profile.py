"""Where a suite run spends its CPU: one profile under py-spy, against the counting server.

``python bench/profile.py standard [-- PYTEST ARGS]`` runs ``pytest suites --profile standard`` under
``py-spy record`` (on-CPU samples of the pytest process and its children) against a fresh
``bench/server.py``, then prints the functions with the most samples: by own time, and by
inclusive time restricted to the project's and its main libraries' frames. The raw samples stay in
``reports/bench-logs/profile-<profile>.raw`` (collapsed stacks; any flame-graph tool reads them).

py-spy comes from PyPI (``pip install py-spy``); it is not needed by ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, BenchServer, plugin_args  # bench/run.py

# Inclusive figures are shown for frames of these packages only (the rest is pytest/pluggy plumbing).
INTERESTING = (
    "session_conformance/",
    "schemathesis/",
    "hypothesis/",
    "httpx/",
    "httpcore/",
    "jsonschema/",
    "allure",
    "_pytest/assertion",
    "suites/",
    "redaction",
    "importlib",
)


def summarize(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples", "own time:"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    lines.append("inclusive time (project and main libraries):")
    chosen = [(f, n) for f, n in inclusive.most_common() if any(key in f for key in INTERESTING)]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in chosen[:top]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", nargs="?", default="standard", choices=["smoke", "standard", "deep"])
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=30)
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.pytest_args = extra
    pyspy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not pyspy:
        sys.exit("py-spy is not installed: pip install py-spy")
    logs = ROOT / "reports" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    raw = logs / f"profile-{args.profile}.raw"
    pytest_cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "--profile",
        args.profile,
        "-q",
        *plugin_args(),
        *args.pytest_args,
    ]
    cmd = [
        pyspy,
        "record",
        "--subprocesses",
        "-r",
        str(args.rate),
        "-f",
        "raw",
        "-o",
        str(raw),
        "--",
        *pytest_cmd,
    ]
    with BenchServer() as server, tempfile.TemporaryDirectory(prefix="bench-reports-") as reports:
        env = server.suite_env() | {"CONFORMANCE_REPORTS_DIR": reports}
        log = logs / f"profile-{args.profile}.log"
        with log.open("w") as out:
            code = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
        stats = server.stats()
    print(f"pytest (under py-spy) exit {code}; {stats['requests']} requests; log {log.relative_to(ROOT)}")
    print(summarize(raw, args.top))
    print(f"raw samples: {raw.relative_to(ROOT)}")
    return 0 if os.path.exists(raw) else 1


if __name__ == "__main__":
    sys.exit(main())
