"""The benchmark: ``tox -e bench`` (or ``python bench/run.py``). See bench/README.md.

Measures, on this machine:

* each profile (smoke, standard, deep) of the suites: wall time, requests sent (counted by the
  server), requests/s and peak RSS of the pytest process tree;
* plain ``schemathesis run`` over the same OpenAPI documents with the same example budget, against
  the same server, and the suite's requests/s as a fraction of it;
* the embedded server's throughput under wrk (or a Python load generator) in another process, for a
  get and a create per API, and a bare Starlette handler under uvicorn as the baseline;
* ``pytest -n 2`` against one process;
* wall time against the example budget (three budgets).

Prints a table of the targets, met or missed, and writes ``reports/bench.json``. Timing is only
shown here, never asserted by tests: a benchmark that fails CI on a busy machine helps nobody.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

try:
    import psutil
except ImportError:  # tox -e bench installs it; a bare venv may not have it
    sys.exit("bench/run.py needs psutil: pip install psutil (tox -e bench installs it)")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # bench/load.py, next to this file
import network  # bench/network.py: the runs through a latency proxy

ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = ROOT / "bench" / "server.py"
APIS = ("trinsic", "zitadel-v2", "zitadel-v2beta")
PROFILES = ("smoke", "standard", "deep")
EMBEDDED_TRINSIC_PROVIDER = "conformance-test"

# The targets (2-core machine). Each: (key, description, how the figure compares, threshold).
TARGETS: list[tuple[str, str, str, float]] = [
    ("smoke_wall_s", "smoke, all three APIs: wall time", "<", 15.0),
    ("standard_wall_s", "standard: wall time", "<", 45.0),
    ("deep_wall_s", "deep: wall time", "<", 240.0),
    ("schemathesis_rps_ratio", "suite req/s vs plain schemathesis, same budget", ">=", 2.0),
    ("server_get_rps", "embedded server: GET session req/s on loopback", ">=", 5000.0),
    ("xdist_speedup", "pytest -n 2 (--dist load: DearestFirst, session-conformance run) vs one", ">=", 1.6),
    ("xdist_worksteal_speedup", "pytest -n 2 --dist worksteal (what-if) vs one process", ">=", 1.6),
    ("deep_peak_rss_mb", "deep: peak RSS of the pytest process tree", "<", 300.0),
    ("shards_equal", "2 shards merged: same verdicts as one run (1 = yes)", ">=", 1.0),
    # issue 20: the suite's own CPU per request, and session-conformance run's default (-n 2 --dist load)
    ("standard_cpu_ms_per_request", "standard: suite CPU ms per request (issue 20)", "<=", 2.0),
    ("smoke_cpu_ms_per_request", "smoke: suite CPU ms per request (issue 20)", "<=", 2.0),
    ("standard_run_wall_s", "standard, -n 2 --dist load (run's default): wall (issue 20)", "<", 30.0),
    ("schemathesis_rps_ratio_3", "suite req/s vs plain schemathesis, same budget (issue 20)", ">=", 3.0),
]


# --- measuring one command ------------------------------------------------------------------------


@dataclass
class Run:
    """One measured command: a suite run or a plain Schemathesis run."""

    label: str
    wall_s: float = 0.0
    requests: int = 0
    rps: float = 0.0
    active_rps: float = 0.0  # requests / (last response - first request), as the server saw them
    peak_rss_mb: float = 0.0
    cpu_s: float = 0.0  # CPU time of the measured command's process tree
    server_cpu_s: float = 0.0  # CPU time of the server process during the run
    exit_code: int | None = None
    by_api: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    summary: str = ""  # pytest's or schemathesis's last summary line
    error: str | None = None  # set when the figures are not usable
    reports: Path | None = None  # a copy of the run's reports folder (summary, JUnit)

    @property
    def cpu_ms_per_request(self) -> float | None:
        """CPU of the measured command (the suite, not the server) per request the server counted."""
        return 1000 * self.cpu_s / self.requests if self.requests else None

    def figures(self) -> dict[str, Any]:
        figures = {k: v for k, v in asdict(self).items() if k not in ("label", "reports")}
        return figures | {"cpu_ms_per_request": self.cpu_ms_per_request}


class TreeRSS:
    """Samples the summed RSS of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._stop.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for proc in procs:
                with suppress(psutil.NoSuchProcess):
                    total += proc.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    wall_s: float
    exit_code: int | None  # None: timed out (and killed)
    peak_rss_mb: float
    cpu_s: float  # user + system CPU of the process and every descendant it waited for
    tail: str  # the end of its output


def run_measured(cmd: Sequence[str], *, env: dict[str, str], timeout: float, log: Path) -> Measured:
    """Run ``cmd`` with its output in ``log``; wall time, exit code, peak tree RSS and CPU time."""
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        with TreeRSS(proc.pid) as rss:
            try:
                code: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                code = None
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return Measured(wall, code, rss.peak / 2**20, cpu, log.read_text(errors="replace")[-4000:])


def _kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        for proc in [*root.children(recursive=True), root]:
            proc.kill()
    except psutil.NoSuchProcess:
        pass


# --- the server under test ------------------------------------------------------------------------


class BenchServer:
    """``bench/server.py`` in its own process: the embedded app behind a request counter."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.info: dict[str, str] = {}
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> BenchServer:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), *self.args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"bench server {' '.join(self.args)} exited before it printed its address")
        self.info = json.loads(line)
        _wait_for_port(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self) -> str:
        return self.info["url"]

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def stats(self) -> dict[str, Any]:
        return httpx.get(self.url + "/_bench/stats", timeout=10).json()

    def reset(self) -> None:
        httpx.post(self.url + "/_bench/reset", timeout=10).raise_for_status()

    def suite_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_")}
        env |= {
            "CONFORMANCE_BASE_URL": self.url,
            "CONFORMANCE_TOKEN": self.info["token"],
            "CONFORMANCE_OTHER_TOKEN": self.info["other_token"],
            "CONFORMANCE_PROVIDER_STATE_URL": self.info["hook_url"],
            "CONFORMANCE_TRINSIC_PROVIDER": EMBEDDED_TRINSIC_PROVIDER,
        }
        return env


def _wait_for_port(url: str, timeout: float = 15.0) -> None:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {url}") from None
            time.sleep(0.05)


def _fill_from_server(run: Run, server: BenchServer) -> None:
    stats = server.stats()
    run.requests = int(stats["requests"])
    run.by_api, run.by_status = stats["by_api"], stats["by_status"]
    run.rps = run.requests / run.wall_s if run.wall_s else 0.0
    run.active_rps = run.requests / stats["active_s"] if stats["active_s"] else 0.0
    run.server_cpu_s = server.cpu_seconds()


# --- the suites -------------------------------------------------------------------------------------

_PYTEST_SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error|skipped|no tests ran).*) =+$", re.M)


def suite_run(
    profile: str,
    *,
    workers: int = 0,
    extra: Sequence[str] = (),
    max_examples: int | None = None,
    timeout: float,
    logs: Path,
    server_args: Sequence[str] = (),
) -> Run:
    """One pytest run of ``suites/`` against a fresh counting server.

    ``max_examples`` overrides the profile's example budget (through ``bench/budget_plugin.py``).
    """
    parts = ["suite", profile]
    if workers:
        parts.append(f"-n {workers}")
    parts += extra
    if max_examples is not None:
        parts.append(f"max_examples={max_examples}")
    run = Run(" ".join(parts))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "suites",
        "--profile",
        profile,
        "-q",
        "-p",
        "no:cacheprovider",
        *plugin_args(),
        "-p",
        "budget_plugin",
    ]
    if workers:
        cmd += ["-n", str(workers)]
    cmd += extra
    log = logs / (re.sub(r"[^\w.=-]+", "_", run.label) + ".log")
    # The run writes its reports (Allure results, JUnit, summary) as usual, but into a folder of its
    # own: reports/ may be in use by another run, and the benchmark must not replace its contents.
    with BenchServer(*server_args) as server, tempfile.TemporaryDirectory(prefix="bench-reports-") as reports:
        env = server.suite_env()
        env["CONFORMANCE_REPORTS_DIR"] = reports
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "bench"), env.get("PYTHONPATH")]))
        if max_examples is not None:
            env["BENCH_MAX_EXAMPLES"] = str(max_examples)
        measured = run_measured(cmd, env=env, timeout=timeout, log=log)
        kept = logs / (re.sub(r"[^\w.=-]+", "_", run.label) + "-reports")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(reports, kept)  # the summary, for the shard comparison (and a look afterwards)
        run.reports = kept
        run.wall_s, run.exit_code = measured.wall_s, measured.exit_code
        run.peak_rss_mb, run.cpu_s, tail = measured.peak_rss_mb, measured.cpu_s, measured.tail
        _fill_from_server(run, server)
    summaries = _PYTEST_SUMMARY.findall(tail)
    run.summary = summaries[-1] if summaries else tail.strip().splitlines()[-1] if tail.strip() else ""
    if run.exit_code is None:
        run.error = f"timed out after {timeout:.0f} s (log: {log})"
    elif run.exit_code not in (0, 1):  # 1 = some checks failed: the run itself is still a measurement
        run.error = f"pytest exit code {run.exit_code}: {run.summary} (log: {log})"
    elif run.requests == 0:
        run.error = f"no request reached the server (log: {log})"
    return run


def plugin_args() -> list[str]:
    """``-p session_conformance.pytest_plugin`` unless the root conftest.py already loads it."""
    conftest = ROOT / "conftest.py"
    if conftest.is_file() and "session_conformance.pytest_plugin" in conftest.read_text():
        return []
    return ["-p", "session_conformance.pytest_plugin"]


def profile_examples() -> dict[str, int]:
    """Each profile's example budget, as the plugin defines it (empty when that is not known yet)."""
    try:
        from session_conformance import config
    except ImportError:
        return {}
    profiles = getattr(config, "PROFILES", None)
    if not isinstance(profiles, dict):
        return {}
    budgets: dict[str, int] = {}
    for name, profile in profiles.items():
        examples = getattr(profile, "max_examples", None)
        if isinstance(examples, int):
            budgets[str(name)] = examples
    return budgets


# --- plain Schemathesis -----------------------------------------------------------------------------


def openapi_documents(folder: Path) -> dict[str, Path]:
    """The documents ``session-conformance openapi`` prints, one file per API."""
    docs: dict[str, Path] = {}
    cli = shutil.which("session-conformance", path=str(Path(sys.executable).parent)) or "session-conformance"
    for api in APIS:
        path = folder / f"{api}.json"
        with path.open("w") as out:
            subprocess.run([cli, "openapi", "--api", api], stdout=out, check=True, cwd=ROOT)
        docs[api] = path
    return docs


def schemathesis_run(
    examples: int, docs: dict[str, Path], *, timeout: float, logs: Path, server_args: Sequence[str] = ()
) -> Run:
    """``schemathesis run`` once per API document, one after the other, against one fresh server."""
    run = Run(f"schemathesis --max-examples {examples}")
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    codes: list[int | None] = []
    summaries: list[str] = []
    with BenchServer(*server_args) as server:
        env = server.suite_env()
        for api, doc in docs.items():
            if not json.loads(doc.read_text()).get("paths"):
                summaries.append(f"{api}: no operations yet, not run")
                continue
            cmd = [
                exe,
                "run",
                str(doc),
                "--url",
                server.url,
                "-H",
                f"Authorization: Bearer {server.info['token']}",
                "--max-examples",
                str(examples),
                "--workers",
                "1",
                "--seed",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--warnings",
                "off",
            ]
            measured = run_measured(
                cmd, env=env, timeout=timeout, log=logs / f"schemathesis-{examples}-{api}.log"
            )
            run.wall_s += measured.wall_s
            run.cpu_s += measured.cpu_s
            run.peak_rss_mb = max(run.peak_rss_mb, measured.peak_rss_mb)
            codes.append(measured.exit_code)
            lines = [ln for ln in measured.tail.strip().splitlines() if ln.strip()]
            summaries.append(f"{api}: {lines[-1].strip('= ') if lines else '?'}")
        _fill_from_server(run, server)
    run.exit_code = max((c for c in codes if c is not None), default=None)
    run.summary = "; ".join(summaries)
    if None in codes:
        run.error = f"a schemathesis run timed out after {timeout:.0f} s"
    elif any(c not in (0, 1) for c in codes):
        run.error = f"schemathesis exit codes {codes}"
    elif run.requests == 0:
        run.error = "no request reached the server"
    return run


# --- server throughput ------------------------------------------------------------------------------


@contextmanager
def shipped_server() -> Iterator[tuple[str, str]]:
    """``session-conformance serve`` exactly as shipped: yields (url, primary token)."""
    port = _free_port()
    cli = shutil.which("session-conformance", path=str(Path(sys.executable).parent)) or "session-conformance"
    proc = subprocess.Popen(
        [cli, "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = token = ""
        for line in proc.stdout:
            if "URL:" in line:
                url = line.split("URL:", 1)[1].strip()
            elif "primary token:" in line:
                token = line.split("primary token:", 1)[1].strip()
            if url and token:
                break
        if not (url and token):
            raise RuntimeError("`session-conformance serve` did not print its URL and token")
        _wait_for_port(url)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# (api, create path, expected create status, get path template)
SHAPES = [
    ("trinsic", "/api/v1/sessions/widget", 200, "/api/v1/sessions/{id}"),
    ("zitadel-v2", "/v2/sessions", 201, "/v2/sessions/{id}"),
]


def measure_median(url: str, *, repeats: int, **kwargs: Any) -> dict[str, Any]:
    """``load.measure`` ``repeats`` times; the run with the median req/s, and every figure seen."""
    runs = sorted((load.measure(url, **kwargs) for _ in range(repeats)), key=lambda r: r.rps)
    return runs[len(runs) // 2].as_dict() | {"all_rps": [round(r.rps) for r in runs]}


def throughput(url: str, token: str, *, duration: float, connections: int, repeats: int) -> dict[str, Any]:
    """GET-session and create-session throughput for each API shape against one running server."""
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    for api, create_path, _status, get_template in SHAPES:
        created = httpx.post(url + create_path, json={}, headers=auth, timeout=10)
        session_id = created.json().get("sessionId") if created.is_success else None
        if session_id:
            results[f"{api}_get"] = measure_median(
                url + get_template.format(id=session_id),
                headers=auth,
                duration=duration,
                connections=connections,
                repeats=repeats,
            )
        else:
            results[f"{api}_get"] = {"error": f"create answered {created.status_code}; no session to get"}
        results[f"{api}_create"] = measure_median(
            url + create_path,
            method="POST",
            body="{}",
            headers=auth,
            duration=duration,
            connections=connections,
            repeats=repeats,
        )
    return results


def _usable_rps(result: dict[str, Any]) -> float | None:
    if "rps" not in result or result["requests"] == 0:
        return None
    if result["non_2xx"] > 0.01 * result["requests"] or result["errors"]:
        return None
    return float(result["rps"])


def server_figures(*, duration: float, connections: int, repeats: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "duration_s": duration,
        "connections": connections,
        "repeats": repeats,
        "tool": "wrk" if shutil.which("wrk") else "python-asyncio",
    }
    with BenchServer("--bare") as bare:
        load.measure(bare.url + "/hello/warmup", duration=1, connections=connections)
        out["bare_starlette_get"] = measure_median(
            bare.url + "/hello/abc", duration=duration, connections=connections, repeats=repeats
        )
    with shipped_server() as (url, token):
        load.measure(url + "/", duration=1, connections=connections)  # warm-up
        out["shipped"] = throughput(url, token, duration=duration, connections=connections, repeats=repeats)
    # What-if: the same app when uvicorn binds the socket itself (asyncio then sets TCP_NODELAY).
    with BenchServer("--uvicorn-socket") as what_if:
        out["uvicorn_socket"] = throughput(
            what_if.url, what_if.info["token"], duration=duration, connections=connections, repeats=repeats
        )
    gets = [_usable_rps(v) for k, v in out["shipped"].items() if k.endswith("_get")]
    creates = [_usable_rps(v) for k, v in out["shipped"].items() if k.endswith("_create")]
    out["server_get_rps"] = min(gets) if gets and None not in gets else None
    out["server_create_rps"] = min(creates) if creates and None not in creates else None
    return out


# --- arithmetic -------------------------------------------------------------------------------------


def linear_fit(points: Sequence[tuple[float, float]]) -> dict[str, float] | None:
    """Least squares wall = intercept + slope * examples, with R²."""
    if len(points) < 2 or len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for _, y in points)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in points)
    return {
        "slope_s_per_example": slope,
        "intercept_s": intercept,
        "r2": 1 - ss_res / ss_tot if ss_tot else 1.0,
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


# --- the whole benchmark ------------------------------------------------------------------------------


@dataclass
class Results:
    budgets: dict[str, int]  # profile -> max_examples
    compare: str  # the profile of the comparisons
    profiles: dict[str, Run] = field(default_factory=dict)
    shards: list[Run] = field(default_factory=list)  # the compare profile in 2 shards
    shards_equal: bool | None = None  # merged shard verdicts == the single run's
    schemathesis: Run | None = None
    xdist: Run | None = None
    xdist_worksteal: Run | None = None
    scan: dict[int, Run] = field(default_factory=dict)  # max_examples -> run at the compare profile
    server: dict[str, Any] = field(default_factory=dict)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="session-conformance benchmark (see bench/README.md)")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated (default: all three)")
    parser.add_argument(
        "--compare-profile",
        default="standard",
        help="profile of the Schemathesis comparison, the -n 2 speed-up and the budget scan",
    )
    parser.add_argument(
        "--budgets",
        default="10,25,100",
        help="max_examples values of the budget scan (the compare profile's own is reused)",
    )
    parser.add_argument("--load-duration", type=float, default=5.0, help="seconds per load measurement")
    parser.add_argument("--connections", type=int, default=32, help="load-generator connections")
    parser.add_argument("--load-repeats", type=int, default=3, help="load measurements per shape (median)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed for one run")
    parser.add_argument(
        "--skip", default="", help="comma-separated: schemathesis, xdist, shard, scan, load, network"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts to run, everything else skipped (e.g. `--only network`; "
        "`profiles` for the per-profile runs; `network-cut` for the network's fault run alone)",
    )
    parser.add_argument("--network-profile", default="standard", help="profile of the runs through the proxy")
    parser.add_argument("--rtt-ms", type=float, default=50.0, help="round trip the proxy adds (ms)")
    parser.add_argument(
        "--network-workers",
        default="4,8",
        help="-n values tried for the best setting at that round trip (comma-separated; empty: none)",
    )
    parser.add_argument(
        "--network-cut", type=float, default=0.02, help="share of requests cut in the fault run (0: none)"
    )
    parser.add_argument(
        "--uvicorn-socket",
        action="store_true",
        help="suites and Schemathesis meet the app with uvicorn binding the socket, not "
        "EmbeddedServer (what-if for the TCP_NODELAY fix; see docs/decisions/bench.md)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "bench.json")
    args = parser.parse_args(argv)
    skip = {s for s in args.skip.split(",") if s}
    if args.only:
        only = {s for s in args.only.split(",") if s}
        if "network-cut" in only:  # the fault run alone (issue 18's cut figure), no latency runs
            only.add("network")
        skip |= {"schemathesis", "xdist", "shard", "scan", "load", "network"} - only
        if "profiles" not in only:
            args.profiles = ""
    server_args = ["--uvicorn-socket"] if args.uvicorn_socket else []
    logs = ROOT / "reports" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    results = Results(budgets=profile_examples(), compare=args.compare_profile)
    compare = results.compare

    run_suite = partial(suite_run, timeout=args.timeout, logs=logs, server_args=server_args)

    def say(text: str) -> None:
        print(text, flush=True)

    busy = psutil.cpu_percent(interval=1.0)
    if busy > 20:
        say(f"WARNING: the machine is {busy:.0f}% busy before the benchmark starts; figures will be low")
    say(
        f"session-conformance benchmark: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"profiles {results.budgets or '(unknown)'}; logs in {logs.relative_to(ROOT)}/"
        + ("; server socket bound by uvicorn (what-if)" if args.uvicorn_socket else "")
    )

    for profile in [p for p in args.profiles.split(",") if p]:
        say(f"- suite, profile {profile} ...")
        results.profiles[profile] = run_suite(profile)
        say(f"  {_run_line(results.profiles[profile])}")

    if "schemathesis" not in skip and compare in results.budgets:
        examples = results.budgets[compare]
        say(f"- plain schemathesis run, --max-examples {examples} ({compare}'s budget) ...")
        with tempfile.TemporaryDirectory() as tmp:
            docs = openapi_documents(Path(tmp))
            results.schemathesis = schemathesis_run(
                examples, docs, timeout=args.timeout, logs=logs, server_args=server_args
            )
        say(f"  {_run_line(results.schemathesis)}")

    if "xdist" not in skip:
        say(f"- suite, profile {compare}, pytest -n 2 (--dist load: DearestFirst, as run) ...")
        results.xdist = run_suite(compare, workers=2)
        say(f"  {_run_line(results.xdist)}")
        # xdist's work-stealing scheduler, what `session-conformance run` used before DearestFirst (N4).
        say(f"- suite, profile {compare}, pytest -n 2 --dist worksteal (what-if) ...")
        results.xdist_worksteal = run_suite(compare, workers=2, extra=["--dist", "worksteal"])
        say(f"  {_run_line(results.xdist_worksteal)}")

    if "shard" not in skip and compare in results.profiles:
        from session_conformance.reporting.compare import load
        from session_conformance.reporting.merge import merge_summaries

        for index in (1, 2):
            say(f"- suite, profile {compare}, --shard {index}/2 ...")
            results.shards.append(run_suite(compare, extra=["--shard", f"{index}/2"]))
            say(f"  {_run_line(results.shards[-1])}")
        single = results.profiles[compare]
        if single.reports and all(run.reports for run in results.shards):
            merged = merge_summaries([load(run.reports) for run in results.shards if run.reports])
            whole = load(single.reports)
            verdicts = {(r["api"], r["id"]): r["verdict"] for r in whole["rules"]}
            results.shards_equal = verdicts == {(r["api"], r["id"]): r["verdict"] for r in merged["rules"]}
            same = "equal" if results.shards_equal else "DIFFER from"
            say(f"  merged 2 shards: verdicts {same} the single run")

    if "scan" not in skip:
        for examples in sorted({int(b) for b in args.budgets.split(",") if b}):
            if examples == results.budgets.get(compare) and compare in results.profiles:
                results.scan[examples] = results.profiles[compare]
                continue
            say(f"- suite, profile {compare}, max_examples={examples} ...")
            results.scan[examples] = run_suite(compare, max_examples=examples)
            say(f"  {_run_line(results.scan[examples])}")

    if "load" not in skip:
        say(f"- server throughput ({args.load_duration:.0f} s per shape, {args.connections} connections) ...")
        results.server = server_figures(
            duration=args.load_duration, connections=args.connections, repeats=args.load_repeats
        )

    net_runs: list[network.NetRun] = []
    if "network" not in skip:
        net = partial(
            network.network_run,
            sys.modules[__name__],
            args.network_profile,
            timeout=args.timeout,
            logs=logs,
        )
        name = args.network_profile
        plan: list[tuple[str, float, list[str], float]] = [
            (f"{name} loopback (defaults)", 0.0, [], 0.0),
            (f"{name} {args.rtt_ms:g} ms (defaults)", args.rtt_ms, [], 0.0),
        ]
        tried = [n for n in args.network_workers.split(",") if n]
        plan += [  # a setting named again is run again (issue 17: `-n 8` three runs in a row)
            (
                f"{name} {args.rtt_ms:g} ms -n {n}"
                + (f" #{tried[:i].count(n) + 1}" if tried.count(n) > 1 else ""),
                args.rtt_ms,
                ["-n", n],
                0.0,
            )
            for i, n in enumerate(tried)
        ]
        if "network-cut" in args.only.split(","):
            plan = []
        if args.network_cut:
            plan.append((f"{name} loopback, {args.network_cut:.0%} cut", 0.0, [], args.network_cut))
        for label, rtt, extra, cut in plan:
            say(f"- {label} ...")
            net_runs.append(net(rtt_ms=rtt, label=label, extra=extra, cut=cut))
            say(f"  {net_runs[-1].line()}")

    report = _report(results)
    report["network"] = [asdict(run) for run in net_runs]
    report["uvicorn_socket_what_if"] = args.uvicorn_socket
    report["machine"]["busy_percent_before"] = busy
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    say("")
    say(_render(report, results))
    if net_runs:
        say(network.render(net_runs))
    say(f"\nwritten: {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


def _run_line(run: Run) -> str:
    text = (
        f"{run.wall_s:7.1f} s  {run.requests:7d} requests  {run.rps:7.1f} req/s  "
        f"peak {run.peak_rss_mb:6.1f} MB  cpu {run.cpu_s:6.1f} s "
        f"= {_fmt(run.cpu_ms_per_request, '.2f')} ms/req  "
        f"exit {run.exit_code}  [{run.summary}]"
    )
    return text + (f"  ERROR: {run.error}" if run.error else "")


def _ok(run: Run | None) -> bool:
    return run is not None and run.error is None


def _report(results: Results) -> dict[str, Any]:
    budgets, compare = results.budgets, results.compare
    profiles = {
        name: {"examples": budgets.get(name), **run.figures()} for name, run in results.profiles.items()
    }
    base, plain, xdist = results.profiles.get(compare), results.schemathesis, results.xdist
    ratio = base.rps / plain.rps if base and plain and _ok(base) and _ok(plain) and plain.rps else None
    speedup = base.wall_s / xdist.wall_s if base and xdist and _ok(base) and _ok(xdist) else None
    steal_run = results.xdist_worksteal
    steal = base.wall_s / steal_run.wall_s if base and steal_run and _ok(base) and _ok(steal_run) else None
    if base and xdist and _ok(base) and xdist.exit_code is None and base.wall_s < 1.5 * xdist.wall_s:
        speedup = base.wall_s / xdist.wall_s  # -n 2 timed out: an upper bound, already below the target
    scaling = [[examples, round(run.wall_s, 2)] for examples, run in sorted(results.scan.items()) if _ok(run)]
    by_profile = sorted(
        [budgets[n], round(r.wall_s, 2)] for n, r in results.profiles.items() if n in budgets and _ok(r)
    )
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        **profiles,  # smoke / standard / deep: wall_s, requests, rps, peak_rss_mb, ...
        "schemathesis": plain.figures() | {"examples": budgets.get(compare)} if plain else None,
        "schemathesis_rps_ratio": ratio,
        "xdist": xdist.figures() if xdist else None,
        "xdist_speedup": speedup,
        "xdist_worksteal": results.xdist_worksteal.figures() if results.xdist_worksteal else None,
        "xdist_worksteal_speedup": steal,
        "server": results.server,
        "server_get_rps": results.server.get("server_get_rps"),
        "server_create_rps": results.server.get("server_create_rps"),
        "budget_scaling": scaling,
        "budget_scaling_profile": compare,
        "budget_scaling_requests": [[n, run.requests] for n, run in sorted(results.scan.items()) if _ok(run)],
        "budget_scaling_fit": linear_fit([(float(x), float(y)) for x, y in scaling]),
        "profile_scaling": by_profile,
        "shards": [run.figures() for run in results.shards],
        "shards_equal": results.shards_equal,
    }
    figures: dict[str, float | None] = {
        "smoke_wall_s": _bound(results.profiles.get("smoke"), "wall_s", 15.0),
        "standard_wall_s": _bound(results.profiles.get("standard"), "wall_s", 45.0),
        "deep_wall_s": _bound(results.profiles.get("deep"), "wall_s", 240.0),
        "shards_equal": None if results.shards_equal is None else float(results.shards_equal),
        "schemathesis_rps_ratio": ratio,
        "server_get_rps": report["server_get_rps"],
        "xdist_speedup": speedup,
        "xdist_worksteal_speedup": steal,
        "deep_peak_rss_mb": _bound(results.profiles.get("deep"), "peak_rss_mb", 300.0),
        "standard_cpu_ms_per_request": _per_request(results.profiles.get("standard")),
        "smoke_cpu_ms_per_request": _per_request(results.profiles.get("smoke")),
        "standard_run_wall_s": _bound(xdist, "wall_s", 30.0) if compare == "standard" else None,
        "schemathesis_rps_ratio_3": ratio,
    }
    report["targets"] = [
        {
            "target": key,
            "description": text,
            "figure": figures[key],
            "threshold": f"{op} {limit:g}",
            "met": _compare(figures[key], op, limit),
        }
        for key, text, op, limit in TARGETS
    ]
    return report


def _bound(run: Run | None, attr: str, limit: float) -> float | None:
    """A run's figure (wall time, peak memory); for a run that timed out, the figure reached so far
    when that already breaks the ``<`` target's ``limit`` (it can only have grown), else unknown."""
    if run is None:
        return None
    value = float(getattr(run, attr))
    if run.error is None:
        return value
    timed_out = run.exit_code is None
    return value if timed_out and value >= limit else None


def _per_request(run: Run | None) -> float | None:
    return run.cpu_ms_per_request if run is not None and run.error is None else None


def _compare(figure: float | None, op: str, limit: float) -> bool | None:
    if figure is None:
        return None
    return {"<": figure < limit, "<=": figure <= limit}.get(op, figure >= limit)


def _render(report: dict[str, Any], results: Results) -> str:
    lines = [
        "Runs (requests counted by the server; rps = requests / wall; active = requests / time from "
        "first to last request; cpu = CPU seconds of the command's process tree, ms/req = per request; "
        "srv = of the server)",
        f"  {'run':<34} {'examples':>8} {'wall s':>8} {'requests':>9} {'rps':>8} {'active':>8} "
        f"{'peak MB':>8} {'cpu s':>7} {'ms/req':>6} {'srv s':>6}  result",
    ]
    rows: list[tuple[Run, int | None]] = [(r, results.budgets.get(n)) for n, r in results.profiles.items()]
    if results.schemathesis:
        rows.append((results.schemathesis, results.budgets.get(results.compare)))
    for run in (results.xdist, results.xdist_worksteal):
        if run:
            rows.append((run, results.budgets.get(results.compare)))
    rows += [(r, n) for n, r in sorted(results.scan.items()) if r not in results.profiles.values()]
    for run, examples in rows:
        lines.append(
            f"  {run.label:<34} {examples if examples is not None else 'n/a':>8} {run.wall_s:8.1f} "
            f"{run.requests:9d} {run.rps:8.1f} {run.active_rps:8.1f} {run.peak_rss_mb:8.1f} "
            f"{run.cpu_s:7.1f} {_fmt(run.cpu_ms_per_request, '.2f'):>6} {run.server_cpu_s:6.1f}  "
            f"{run.summary[:80]}" + (f"  ERROR: {run.error}" if run.error else "")
        )
    lines.append(
        f"  suite/schemathesis rps ratio ({results.compare}): "
        f"{_fmt(report['schemathesis_rps_ratio'], '.2f')}   "
        f"pytest -n 2 speed-up: {_fmt(report['xdist_speedup'], '.2f')}x "
        f"(--dist worksteal: {_fmt(report['xdist_worksteal_speedup'], '.2f')}x)"
    )
    fit = report["budget_scaling_fit"]
    lines.append(
        f"  budget scaling ({results.compare}) [examples, wall_s]: {report['budget_scaling']}"
        + (
            f"  fit: {fit['intercept_s']:.1f} s + {fit['slope_s_per_example']:.3f} s/example, "
            f"R²={fit['r2']:.3f}"
            if fit
            else ""
        )
    )
    lines.append(f"  by profile [examples, wall_s]: {report['profile_scaling']}")
    server = results.server
    if server:
        lines.append(
            f"Server throughput ({server['tool']}, {server['connections']} connections, "
            f"{server['duration_s']:.0f} s each; req/s, non-2xx responses in brackets)"
        )
        bare = server["bare_starlette_get"]
        title = "bare Starlette handler, uvicorn (baseline)"
        lines.append(f"  {title:<44} GET    {bare['rps']:8.0f} [{bare['non_2xx']}] {bare['all_rps']}")
        for title, key in (
            ("session-conformance serve (shipped)", "shipped"),
            ("same app, socket bound by uvicorn (what-if)", "uvicorn_socket"),
        ):
            for shape, result in server[key].items():
                api, kind = shape.rsplit("_", 1)
                figure = (
                    f"{result['rps']:8.0f} [{result['non_2xx']}] {result['all_rps']}"
                    if "rps" in result
                    else f"     n/a ({result['error']})"
                )
                lines.append(f"  {title:<44} {kind.upper():<6} {figure}  {api}")
    busy = report["machine"].get("busy_percent_before", 0)
    if busy > 20:
        lines.append(f"NOTE: the machine was {busy:.0f}% busy before the run (other work on the cores)")
    lines.append("Targets")
    for target in report["targets"]:
        mark = {True: "MET", False: "MISSED", None: "NOT MEASURED"}[target["met"]]
        lines.append(
            f"  {mark:<13} {target['description']:<50} {_fmt(target['figure'], '.2f'):>10} "
            f"(target {target['threshold']})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
