"""Where a suite run spends its CPU: one profile under py-spy, against the counting server.

``python bench/profile.py standard [-- PYTEST ARGS]`` runs ``pytest suites --profile standard`` under
``py-spy record`` (on-CPU samples of the pytest process and its children) against a fresh
``bench/server.py``, then prints the functions with the most samples: by own time, and by
inclusive time restricted to the project's and its main libraries' frames. The raw samples stay in
``reports/bench-logs/profile-<profile>.raw`` (collapsed stacks; any flame-graph tool reads them).

``python bench/profile.py --summarize RAW`` prints the same summary of an earlier raw file; its first
table puts each sample in one bucket, by the innermost frame that names a known package.

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


# Where a sample's CPU went, by the innermost frame that names one of these (first match in this order
# for that frame): how docs/decisions/bench.md F15 reports shares before and after a change.
BUCKETS = (
    ("st.from_regex draws", ("hypothesis/strategies/_internal/regex.py",)),
    ("HTTP client (httpx, httpcore, h11)", ("httpx/", "httpcore/", "h11/")),
    ("masking (redaction.py)", ("session_conformance/redaction.py",)),
    ("evidence records", ("session_conformance/evidence.py",)),
    ("Allure", ("allure",)),
    ("Schemathesis configuration", ("schemathesis/config/",)),
    (
        "Schemathesis checks, jsonschema",
        (
            "schemathesis/checks.py",
            "schemathesis/specs/openapi/checks.py",
            "Case.validate_response",
            "jsonschema",
            "referencing/",
        ),
    ),
    ("our checks", ("session_conformance/checks.py", "session_conformance/generic.py")),
    ("coverage phase, case cache", ("schemathesis/specs/openapi/coverage", "casecache")),
    ("negative mutations", ("schemathesis/specs/openapi/negative",)),
    ("Schemathesis JSON Schema strategies", ("schemathesis/generation/jsonschema",)),
    ("Hypothesis engine and strategies", ("hypothesis/",)),
    ("Schemathesis, other", ("schemathesis/",)),
    ("ours, other", ("session_conformance/", "suites/")),
    ("pytest, pluggy", ("_pytest", "pluggy", "pytest")),
)


def bucket_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, keys in BUCKETS:
            if any(key in frame for key in keys):
                return name
    return "other"


def summarize(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    buckets: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        own[frames[-1]] += samples
        buckets[bucket_of(frames)] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples", "by innermost known frame:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in buckets.most_common()]
    lines.append("own time:")
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
    parser.add_argument("--summarize", metavar="RAW", type=Path, help="only summarize an earlier raw file")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.pytest_args = extra
    if args.summarize:
        print(summarize(args.summarize, args.top))
        return 0
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
