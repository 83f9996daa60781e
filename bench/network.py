"""The benchmark's network part: `session-conformance run` against the counting server through a proxy.

Each run is the real command with its default settings (``-n auto``: workers sized from the measured
round trip) unless ``extra`` says otherwise, against a fresh ``bench/server.py`` reached through
``session_conformance.faultproxy`` (``rtt/2`` each way; optionally cutting a share of requests). For
each it prints requests (counted by the server), wall time, requests in flight on average (measured
by the proxy: summed request latency over the active time) and the "limit":
``requests * RTT / in-flight + suite CPU / cores``, the wall time the run would take if it did
nothing but wait for its answers (as many at a time as it had in flight) and spend its own CPU.

Every run has the same seed (``SEED``), so the loopback and the 50 ms runs generate the same cases: a
run's own seed moved its wall time by up to 8 s (bench.md N7), more than what is compared.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from session_conformance.faultproxy import FaultProxy

SEED = 18  # --hypothesis-seed of every run: the same cases through every network


@dataclass
class NetRun:
    label: str
    rtt_ms: float
    cut: float = 0.0
    wall_s: float = 0.0
    requests: int = 0
    in_flight: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    workers: str = ""
    limit_s: float | None = None
    exit_code: int | None = None
    summary: str = ""
    checks: dict[str, int] = field(default_factory=dict)  # the run's summary: outcome -> checks
    failed_rules: int = 0
    left_behind: int | None = None  # sessions of the account still open after the run
    cuts: int = 0
    error: str | None = None

    def line(self) -> str:
        limit = f"{self.limit_s:7.1f}" if self.limit_s is not None else "    n/a"
        text = (
            f"{self.label:<34} {self.wall_s:7.1f} s {self.requests:7d} req  in flight {self.in_flight:5.1f}  "
            f"limit {limit} s  cpu {self.cpu_s:6.1f} s  peak {self.peak_rss_mb:6.0f} MB  "
            f"workers {self.workers or '?'}  [{self.summary[:70]}]"
        )
        if self.cut:
            verdicts = sum(v for k, v in self.checks.items() if k != "error")
            total = sum(self.checks.values()) or 1
            text += (
                f"\n{'':<34} cut {self.cut:.0%} ({self.cuts} cuts): "
                f"{self.checks.get('failed', 0)} failed checks, "
                f"{self.failed_rules} failed rules, {self.checks.get('error', 0)} errors, "
                f"{verdicts / total:.1%} reached a verdict, {self.left_behind} session(s) left behind"
            )
        return text + (f"  ERROR: {self.error}" if self.error else "")


_SUMMARY = re.compile(r"^=* ?(\d+ (?:passed|failed|error|skipped).*? in [\d.]+s.*?) ?=*$", re.M)


def network_run(
    bench: Any,
    profile: str,
    *,
    rtt_ms: float,
    label: str,
    extra: Sequence[str] = (),
    cut: float = 0.0,
    timeout: float,
    logs: Path,
) -> NetRun:
    """One ``session-conformance run --profile P`` through the proxy (``bench`` is ``bench/run.py``)."""
    run = NetRun(label, rtt_ms, cut)
    log = logs / (re.sub(r"[^\w.=-]+", "_", label) + ".log")
    # not -q: xdist then prints how many workers it started ("created: N/N workers")
    given = any(arg.startswith("--hypothesis-seed") for arg in extra)
    seeded = [] if given else [f"--hypothesis-seed={SEED}"]
    command = [sys.executable, "-m", "session_conformance.cli", "run", "--profile", profile, *seeded, *extra]
    with bench.BenchServer() as server, tempfile.TemporaryDirectory(prefix="bench-net-") as reports:
        proxied = rtt_ms > 0 or cut > 0
        proxy = FaultProxy(server.url, delay=rtt_ms / 2000, cut=cut, seed=18) if proxied else None
        if proxy is not None:
            proxy.start()
        try:
            env = server.suite_env()
            if proxy is not None:
                env["CONFORMANCE_BASE_URL"] = proxy.url
                env["CONFORMANCE_PROVIDER_STATE_URL"] = proxy.proxied(env["CONFORMANCE_PROVIDER_STATE_URL"])
            env["CONFORMANCE_REPORTS_DIR"] = reports
            measured = bench.run_measured(command, env=env, timeout=timeout, log=log)
        finally:
            if proxy is not None:
                proxy.stop()
        run.wall_s, run.exit_code, run.cpu_s = measured.wall_s, measured.exit_code, measured.cpu_s
        run.peak_rss_mb = measured.peak_rss_mb
        stats = server.stats()
        run.requests = int(stats["requests"])
        if proxy is not None:
            run.in_flight, run.cuts = proxy.stats.in_flight(), proxy.stats.cuts
        elif stats.get("active_s"):
            run.in_flight = 0.0  # loopback: no proxy to measure it (the round trip is ~0 anyway)
        cores = os.cpu_count() or 1
        if run.in_flight:
            run.limit_s = run.requests * rtt_ms / 1000 / run.in_flight + run.cpu_s / cores
        summary_file = Path(reports) / "conformance-summary.json"
        if summary_file.is_file():
            summary = json.loads(summary_file.read_text())
            run.checks = dict(summary.get("checks") or {})
            run.failed_rules = sum(1 for rule in summary.get("rules", []) if rule.get("verdict") == "failed")
        run.left_behind = left_behind(server.url, server.info["token"])
        kept = logs / (re.sub(r"[^\w.=-]+", "_", label) + "-reports")
        shutil.rmtree(kept, ignore_errors=True)
        shutil.copytree(reports, kept)
    text = log.read_text(errors="replace")
    summaries = _SUMMARY.findall(text)
    run.summary = summaries[-1] if summaries else ""
    found = re.search(r"(\d+) workers \[", text) or re.search(r"created: (\d+)/\d+ workers", text)
    run.workers = found.group(1) if found else str(len(set(re.findall(r"\[gw(\d+)\]", text))) or "?")
    if run.exit_code is None:
        run.error = f"timed out after {timeout:.0f} s (log: {log})"
    elif run.exit_code not in (0, 1):
        run.error = f"exit code {run.exit_code} (log: {log})"
    return run


def left_behind(url: str, token: str) -> int:
    """Open Trinsic sessions plus listed Zitadel sessions of the primary account."""
    count = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        page = 1
        while page < 1000:
            listed = http.get("/api/v1/sessions/list", params={"PageSize": 50, "Page": page}).json()
            count += sum(1 for s in listed.get("sessions", []) if not s.get("done"))
            if not listed.get("more"):
                break
            page += 1
        for prefix in ("/v2", "/v2beta"):
            found = http.post(f"{prefix}/sessions/search", json={"query": {"limit": 1000}}).json()
            count += len(found.get("sessions", []))
    return count


def render(runs: Sequence[NetRun]) -> str:
    """The network table: each run, then the slow runs against the loopback one."""
    lines = [
        "Across a network (session-conformance run through a latency proxy; in flight = requests awaiting "
        "their answer on average; limit = requests x RTT / in flight + suite CPU / cores)"
    ]
    lines += [f"  {run.line()}" for run in runs]
    loopback = next((r for r in runs if r.rtt_ms == 0 and not r.cut and not r.error), None)
    slow = [r for r in runs if r.rtt_ms > 0 and not r.error]
    if loopback is not None and slow:
        default, best = slow[0], min(slow, key=lambda r: r.wall_s)
        lines.append(
            f"  {default.rtt_ms:g} ms over loopback: defaults {default.wall_s / loopback.wall_s:.2f}x, "
            f"best ({best.label}) {best.wall_s / loopback.wall_s:.2f}x (target: defaults within 1.5x)"
        )
    return "\n".join(lines)
