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
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load  # bench/load.py, next to this file

ROOT = Path(__file__).resolve().parents[1]
SERVER_SCRIPT = ROOT / "bench" / "server.py"
APIS = ("trinsic", "zitadel-v2", "zitadel-v2beta")
PROFILES = ("smoke", "standard", "deep")
EMBEDDED_TRINSIC_PROVIDER = "conformance-test"

# The targets (2-core machine). Each: (key, description, how the figure compares, threshold).
TARGETS: list[tuple[str, str, str, float]] = [
    ("smoke_wall_s", "smoke, all three APIs: wall time", "<", 30.0),
    ("standard_wall_s", "standard: wall time", "<", 120.0),
    ("schemathesis_rps_ratio", "suite req/s vs plain schemathesis, same budget", ">=", 0.80),
    ("server_get_rps", "embedded server: GET session req/s on loopback", ">=", 5000.0),
    ("xdist_speedup", "pytest -n 2 vs one process (wall)", ">=", 1.5),
    ("deep_peak_rss_mb", "deep: peak RSS of the pytest process tree", "<", 500.0),
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
    exit_code: int | None = None
    by_api: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    summary: str = ""  # pytest's or schemathesis's last summary line
    error: str | None = None  # set when the figures are not usable

    def figures(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "label"}


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


def run_measured(cmd: Sequence[str], *, env: dict[str, str], timeout: float,
                 log: Path) -> tuple[float, int | None, float, str]:
    """Run ``cmd``; return wall seconds, exit code (None on timeout), peak tree RSS in MB, output tail."""
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        with TreeRSS(proc.pid) as rss:
            try:
                code: int | None = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                code = None
    wall = time.perf_counter() - start
    return wall, code, rss.peak / 2**20, log.read_text(errors="replace")[-4000:]


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
        self.proc = subprocess.Popen([sys.executable, str(SERVER_SCRIPT), *self.args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
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


# --- the suites -------------------------------------------------------------------------------------

_PYTEST_SUMMARY = re.compile(r"^=+ (.*(?:passed|failed|error|skipped|no tests ran).*) =+$", re.M)


def suite_run(profile: str, *, workers: int = 0, timeout: float, logs: Path,
              extra: Sequence[str] = ()) -> Run:
    label = " ".join(["suite", profile, *([f"-n {workers}"] if workers else []), *extra])
    run = Run(label)
    cmd = [sys.executable, "-m", "pytest", "suites", "--profile", profile, "-q", "-p", "no:cacheprovider",
           *extra]
    if workers:
        cmd += ["-n", str(workers)]
    log = logs / (re.sub(r"[^\w.-]+", "_", label) + ".log")
    with BenchServer() as server:
        run.wall_s, run.exit_code, run.peak_rss_mb, tail = run_measured(
            cmd, env=server.suite_env(), timeout=timeout, log=log)
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
        examples = getattr(profile, "examples", None)
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


def schemathesis_run(examples: int, docs: dict[str, Path], *, timeout: float, logs: Path) -> Run:
    """``schemathesis run`` once per API document, one after the other, against one fresh server."""
    run = Run(f"schemathesis --max-examples {examples}")
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    codes: list[int | None] = []
    summaries: list[str] = []
    with BenchServer() as server:
        env = server.suite_env()
        for api, doc in docs.items():
            cmd = [exe, "run", str(doc), "--url", server.url,
                   "-H", f"Authorization: Bearer {server.info['token']}",
                   "--max-examples", str(examples), "--workers", "1", "--seed", "1",
                   "--generation-database", "none", "--no-color", "--warnings", "off"]
            wall, code, peak, tail = run_measured(cmd, env=env, timeout=timeout,
                                                  log=logs / f"schemathesis-{examples}-{api}.log")
            run.wall_s += wall
            run.peak_rss_mb = max(run.peak_rss_mb, peak)
            codes.append(code)
            lines = [ln for ln in tail.strip().splitlines() if ln.strip()]
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
    proc = subprocess.Popen([cli, "serve", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
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


def throughput(url: str, token: str, *, duration: float, connections: int) -> dict[str, Any]:
    """GET-session and create-session throughput for each API shape against one running server."""
    auth = {"Authorization": f"Bearer {token}"}
    results: dict[str, Any] = {}
    for api, create_path, _status, get_template in SHAPES:
        created = httpx.post(url + create_path, json={}, headers=auth, timeout=10)
        session_id = created.json().get("sessionId") if created.is_success else None
        if session_id:
            get = load.measure(url + get_template.format(id=session_id), headers=auth,
                               duration=duration, connections=connections)
            results[f"{api}_get"] = get.as_dict()
        else:
            results[f"{api}_get"] = {"error": f"create answered {created.status_code}; no session to get"}
        create = load.measure(url + create_path, method="POST", body="{}", headers=auth,
                              duration=duration, connections=connections)
        results[f"{api}_create"] = create.as_dict()
    return results


def _usable_rps(result: dict[str, Any]) -> float | None:
    if "rps" not in result or result["requests"] == 0:
        return None
    if result["non_2xx"] > 0.01 * result["requests"] or result["errors"]:
        return None
    return float(result["rps"])


def server_figures(*, duration: float, connections: int) -> dict[str, Any]:
    out: dict[str, Any] = {"duration_s": duration, "connections": connections,
                           "tool": "wrk" if shutil.which("wrk") else "python-asyncio"}
    with BenchServer("--bare") as bare:
        load.measure(bare.url + "/hello/warmup", duration=1, connections=connections)
        out["bare_starlette_get"] = load.measure(bare.url + "/hello/abc", duration=duration,
                                                 connections=connections).as_dict()
    with shipped_server() as (url, token):
        load.measure(url + "/", duration=1, connections=connections)  # warm-up
        out["shipped"] = throughput(url, token, duration=duration, connections=connections)
    # Diagnostic: the same app when uvicorn binds the socket itself (TCP_NODELAY set by asyncio).
    with BenchServer("--uvicorn-socket") as diag:
        out["uvicorn_socket"] = throughput(diag.url, diag.info["token"], duration=duration,
                                           connections=connections)
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
    return {"slope_s_per_example": slope, "intercept_s": intercept,
            "r2": 1 - ss_res / ss_tot if ss_tot else 1.0}


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


# --- the whole benchmark ------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="session-conformance benchmark (see bench/README.md)")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated (default: all three)")
    parser.add_argument("--compare-profile", default="standard",
                        help="profile used for the Schemathesis comparison and the -n 2 speed-up")
    parser.add_argument("--load-duration", type=float, default=5.0, help="seconds per load measurement")
    parser.add_argument("--connections", type=int, default=32, help="load-generator connections")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed for one run")
    parser.add_argument("--skip", default="", help="comma-separated: schemathesis, load, xdist")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "bench.json")
    args = parser.parse_args(argv)
    profiles = [p for p in args.profiles.split(",") if p]
    skip = {s for s in args.skip.split(",") if s}
    logs = ROOT / "reports" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)

    def say(text: str) -> None:
        print(text, flush=True)

    budgets = profile_examples()
    say(f"session-conformance benchmark on {platform.node()} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}); logs in {logs.relative_to(ROOT)}/")

    runs: dict[str, Run] = {}
    for profile in profiles:
        say(f"- suite, profile {profile} ...")
        runs[profile] = suite_run(profile, timeout=args.timeout, logs=logs)
        say(f"  {_run_line(runs[profile])}")

    compare = args.compare_profile
    schemathesis: Run | None = None
    if "schemathesis" not in skip and compare in runs and compare in budgets:
        say(f"- plain schemathesis, --max-examples {budgets[compare]} ({compare}'s budget) ...")
        with tempfile.TemporaryDirectory() as tmp:
            docs = openapi_documents(Path(tmp))
            schemathesis = schemathesis_run(budgets[compare], docs, timeout=args.timeout, logs=logs)
        say(f"  {_run_line(schemathesis)}")

    xdist: Run | None = None
    if "xdist" not in skip and compare in runs:
        say(f"- suite, profile {compare}, pytest -n 2 ...")
        xdist = suite_run(compare, workers=2, timeout=args.timeout, logs=logs)
        say(f"  {_run_line(xdist)}")

    server: dict[str, Any] = {}
    if "load" not in skip:
        say(f"- server throughput ({args.load_duration:.0f} s per shape, {args.connections} connections) ...")
        server = server_figures(duration=args.load_duration, connections=args.connections)

    report = _report(runs, schemathesis, xdist, server, budgets, compare)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    say("")
    say(_render(report, runs, schemathesis, xdist, server))
    say(f"\nwritten: {args.output}")
    return 0


def _run_line(run: Run) -> str:
    text = (f"{run.wall_s:7.1f} s  {run.requests:7d} requests  {run.rps:7.1f} req/s  "
            f"peak {run.peak_rss_mb:6.1f} MB  exit {run.exit_code}  [{run.summary}]")
    return text + (f"  ERROR: {run.error}" if run.error else "")


def _report(runs: dict[str, Run], schemathesis: Run | None, xdist: Run | None, server: dict[str, Any],
            budgets: dict[str, int], compare: str) -> dict[str, Any]:
    def ok(run: Run | None) -> bool:
        return run is not None and run.error is None

    profiles = {name: {"examples": budgets.get(name), **run.figures()} for name, run in runs.items()}
    base = runs.get(compare)
    ratio = (base.rps / schemathesis.rps if ok(base) and ok(schemathesis) and schemathesis and base
             and schemathesis.rps else None)
    speedup = base.wall_s / xdist.wall_s if ok(base) and ok(xdist) and base and xdist else None
    scaling = [[budgets[n], round(r.wall_s, 2)] for n, r in runs.items() if n in budgets and ok(r)]
    scaling.sort()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "node": platform.node()},
        "profiles": profiles,
        **{name: profiles[name] for name in profiles},  # each profile also at the top level
        "schemathesis": schemathesis.figures() if schemathesis else None,
        "schemathesis_rps_ratio": ratio,
        "xdist": xdist.figures() if xdist else None,
        "xdist_speedup": speedup,
        "server": server,
        "server_get_rps": server.get("server_get_rps"),
        "server_create_rps": server.get("server_create_rps"),
        "budget_scaling": scaling,
        "budget_scaling_fit": linear_fit([(float(x), float(y)) for x, y in scaling]),
    }
    figures = {
        "smoke_wall_s": profiles.get("smoke", {}).get("wall_s") if ok(runs.get("smoke")) else None,
        "standard_wall_s": profiles.get("standard", {}).get("wall_s") if ok(runs.get("standard")) else None,
        "schemathesis_rps_ratio": ratio,
        "server_get_rps": report["server_get_rps"],
        "xdist_speedup": speedup,
        "deep_peak_rss_mb": profiles.get("deep", {}).get("peak_rss_mb") if ok(runs.get("deep")) else None,
    }
    report["targets"] = [
        {"target": key, "description": text, "figure": figures[key], "threshold": f"{op} {limit:g}",
         "met": _compare(figures[key], op, limit)}
        for key, text, op, limit in TARGETS
    ]
    return report


def _compare(figure: float | None, op: str, limit: float) -> bool | None:
    if figure is None:
        return None
    return figure < limit if op == "<" else figure >= limit


def _render(report: dict[str, Any], runs: dict[str, Run], schemathesis: Run | None, xdist: Run | None,
            server: dict[str, Any]) -> str:
    lines = ["Suites (server-side request counts; rps = requests / wall; active = requests / time between "
             "first and last request)",
             f"  {'run':<34} {'examples':>8} {'wall s':>8} {'requests':>9} {'rps':>8} {'active':>8} "
             f"{'peak MB':>8}  result"]
    budgets = {n: p.get("examples") for n, p in report["profiles"].items()}
    rows = [(r, budgets.get(n)) for n, r in runs.items()]
    if xdist:
        rows.append((xdist, budgets.get(xdist.label.split()[1])))
    if schemathesis:
        rows.append((schemathesis, int(schemathesis.label.rsplit(" ", 1)[1])))
    for run, examples in rows:
        lines.append(f"  {run.label:<34} {_fmt(examples, 'd') if examples else 'n/a':>8} {run.wall_s:8.1f} "
                     f"{run.requests:9d} {run.rps:8.1f} {run.active_rps:8.1f} {run.peak_rss_mb:8.1f}  "
                     f"{run.summary[:70]}" + (f"  ERROR: {run.error}" if run.error else ""))
    lines.append(f"  suite/schemathesis rps ratio: {_fmt(report['schemathesis_rps_ratio'], '.2f')}   "
                 f"xdist speed-up: {_fmt(report['xdist_speedup'], '.2f')}x")
    fit = report["budget_scaling_fit"]
    lines.append(f"  budget scaling [examples, wall_s]: {report['budget_scaling']}" +
                 (f"  fit: {fit['intercept_s']:.1f} s + {fit['slope_s_per_example']:.3f} s/example, "
                  f"R²={fit['r2']:.3f}" if fit else ""))
    if server:
        lines.append(f"Server throughput ({server['tool']}, {server['connections']} connections, "
                     f"{server['duration_s']:.0f} s each; req/s, non-2xx in brackets)")
        bare = server["bare_starlette_get"]
        lines.append(f"  bare Starlette handler, uvicorn             GET    {bare['rps']:9.0f}")
        for title, key in (("session-conformance serve (shipped)", "shipped"),
                           ("same app, uvicorn-bound socket (diag.)", "uvicorn_socket")):
            for shape, result in server[key].items():
                api, kind = shape.rsplit("_", 1)
                figure = (f"{result['rps']:9.0f} [{result['non_2xx']}]" if "rps" in result
                          else f"      n/a ({result['error']})")
                lines.append(f"  {title:<42} {kind.upper():<6} {figure}  {api}")
    lines.append("Targets")
    for target in report["targets"]:
        mark = {True: "MET", False: "MISSED", None: "NOT MEASURED"}[target["met"]]
        figure = target["figure"]
        lines.append(f"  {mark:<13} {target['description']:<50} {_fmt(figure, '.2f'):>10} "
                     f"(target {target['threshold']})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
