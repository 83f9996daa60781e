"""How a run meets a network: workers sized from the round trip, a shared rate limit, faults as errors.

- ``auto_workers``: ``-n auto`` (the default of ``session-conformance run``) against a live target is
  sized from the pre-flight probe's measured round trip and the cores: a worker waits ``rtt`` for each
  request and works ``REQUEST_CPU_S`` on it, so ``cores * (rtt + cpu) / cpu`` workers keep the cores
  busy (at most ``MAX_WORKERS``, for memory). ``-n N`` / ``--workers N`` wins.
- ``requests_ahead``: how many of a check's requests known in advance (its coverage cases) a worker keeps
  in flight at once against a live target (``ahead.py``), from the same round trip: ``1 + 2 * rtt / cpu``
  (at most ``MAX_AHEAD``; the workers' ``1 + rtt / cpu`` with the wait counted twice, as the coverage
  phase stayed wait-bound at ``(rtt + cpu) / cpu``: bench.md N7); 1 (none ahead) on loopback and for
  the embedded server. The stateful checks run their scenarios in as many groups at once
  (``scenarios.py``).
- ``configure`` / ``configure_node``: one ``--rate-limit`` schedule file and the requests ahead, for the
  controller and every xdist worker (``ratelimit.py``).
- ``FaultViews``: a check that ended on a transport fault (``retry.TransportFault``) is an **error** in
  pytest's tally and in JUnit, as it already is in the summary and in Allure (broken): pytest itself
  calls any exception in a test's call phase a failure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from session_conformance import ratelimit
from session_conformance.apis import family_of_api
from session_conformance.config import Options
from session_conformance.transport import make_httpx_client

RATE_FILE_KEY = "conformance_rate_file"  # xdist workerinput key
AHEAD_KEY = "conformance_requests_ahead"  # xdist workerinput key
TRANSPORT_FAULT = "conformance.transport_fault"  # user property of a report that ended on one
RERUNS = 1  # a check that ended on a transport fault runs once more, from the start
EMBEDDED_WORKERS = 2  # loopback: the run is CPU-bound, one worker per core of a 2-core machine
REQUEST_CPU_S = 0.010  # the suite's own CPU per request (bench: ~10 ms, generation and checks included)
MAX_WORKERS = 12  # each worker is a process of ~140 MB: standard at 12 peaks at ~1.7 GB (bench.md N6)
CLEANUP_CONNECTIONS = 4  # on loopback (cleanup.py)
MAX_AHEAD = 12  # requests of one worker in flight at once: threads of one process, a connection each
PROBES = 3


def measured_rtt(options: Options, probes: int = PROBES) -> float | None:
    """The median round trip of a few pre-flight reads of the live target, in seconds (None: unreachable).

    Measured once per process and target (``-n auto`` and the requests ahead both ask).
    """
    if options.base_url is None or options.token is None:
        return None
    return _measured_rtt(options.base_url, options.token, options.apis[0], options.request_timeout, probes)


@functools.cache
def _measured_rtt(base_url: str, token: str, api: str, request_timeout: float, probes: int) -> float | None:
    probe = family_of_api(api).probe(api)
    times: list[float] = []
    try:
        with make_httpx_client(base_url, timeout=min(request_timeout, 15.0)) as http:
            for _ in range(probes + 1):  # the first pays for the connection
                started = time.perf_counter()
                http.request(
                    probe.method,
                    probe.path,
                    params=probe.params,
                    json=probe.json,
                    headers={"Authorization": f"Bearer {token}"},
                )
                times.append(time.perf_counter() - started)
    except httpx.HTTPError:
        return None  # the pre-flight reports it, readably
    return statistics.median(times[1:])


def workers_for(rtt: float | None, cores: int) -> int:
    """Workers that keep ``cores`` busy when each request waits ``rtt`` seconds (see the module)."""
    if rtt is None:
        return EMBEDDED_WORKERS
    wanted = round(cores * (rtt + REQUEST_CPU_S) / REQUEST_CPU_S)
    return max(min(cores, MAX_WORKERS), min(wanted, MAX_WORKERS))


def auto_workers(options: Options | None) -> int:
    """``-n auto``: see the module; 2 for the embedded server (each worker then starts its own)."""
    cores = os.cpu_count() or 2
    if options is None or options.embedded:
        return EMBEDDED_WORKERS
    return workers_for(measured_rtt(options), cores)


def ahead_for(rtt: float | None) -> int:
    """Requests of one worker in flight at once when each waits ``rtt`` seconds (see the module)."""
    if rtt is None:
        return 1
    return max(1, min(MAX_AHEAD, 1 + round(2 * rtt / REQUEST_CPU_S)))


_AHEAD = [1]


def requests_ahead() -> int:
    """This process's requests ahead (``configure``); 1: each request is sent when the check asks."""
    return _AHEAD[0]


def cleanup_connections() -> int:
    """Sessions this process's cleanup ends at once: 4, or twice the requests ahead across a network,
    at most ``MAX_AHEAD`` (a worker may end hundreds; at 50 ms, four at a time took 7 s of the run's end)."""
    return max(CLEANUP_CONNECTIONS, min(2 * requests_ahead(), MAX_AHEAD))


# --- the rate limit's shared schedule -----------------------------------------------------------------


def configure(config: pytest.Config, options: Options) -> None:
    """The controller (or the only process) makes the schedule file and sizes the requests ahead;
    workers take both from it."""
    workerinput = getattr(config, "workerinput", None)
    path = workerinput.get(RATE_FILE_KEY) if workerinput is not None else None
    if options.rate_limit and path is None:
        path = ratelimit.new_schedule_file()
        config.add_cleanup(lambda: _remove(path))
    config.stash[_RATE_FILE] = path
    ratelimit.configure(options.rate_limit, path)
    if workerinput is not None and AHEAD_KEY in workerinput:
        _AHEAD[0] = int(workerinput[AHEAD_KEY])
    else:
        _AHEAD[0] = 1 if options.embedded else ahead_for(measured_rtt(options))


def configure_node(node: Any) -> None:
    path = node.config.stash.get(_RATE_FILE, None)
    if path:
        node.workerinput[RATE_FILE_KEY] = path
    node.workerinput[AHEAD_KEY] = requests_ahead()


_RATE_FILE: pytest.StashKey[str | None] = pytest.StashKey()


def _remove(path: str | None) -> None:
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)


# --- transport faults are errors in every view ---------------------------------------------------------


def _transport_fault(report: pytest.TestReport) -> bool:
    return report.failed and any(name == TRANSPORT_FAULT for name, _ in report.user_properties)


def _fault_report(report: pytest.TestReport) -> bool:
    """A call phase that ended on a transport fault (pytest would call it failed)."""
    return report.when == "call" and _transport_fault(report)


class FaultViews:
    """pytest's tally and JUnit: a check that ended on a transport fault is an error, not a failure.

    Such a check first runs once more (``RERUNS``), from its setup on: a create whose answer the network
    lost cannot be re-sent, but the check can start again. Only the last run is reported; its reports
    say why in a ``conformance rerun`` section and the ``conformance.reruns`` property.
    """

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> bool:
        from _pytest.runner import runtestprotocol

        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        notes: list[str] = []
        for run in range(RERUNS + 1):
            reports = runtestprotocol(item, log=False, nextitem=nextitem)
            faults = [report for report in reports if _transport_fault(report)]
            if not faults or run == RERUNS:
                break
            data = getattr(faults[0], "conformance", None) or {}
            first = str(data.get("message") or "transport fault").strip().splitlines()[0][:300]
            notes.append(f"run {run + 1} ended on a transport fault ({faults[0].when}): {first}; run again")
        for report in reports:
            if notes:
                report.sections.append(("conformance rerun", "\n".join(notes)))
                report.user_properties.append(("conformance.reruns", str(len(notes))))
            item.ihook.pytest_runtest_logreport(report=report)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if _fault_report(report):
            return "error", "E", ("ERROR", {"red": True})
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """JUnit writes ``<failure>`` for a failed call phase and ``<error>`` for the others (it reads
        ``report.when``): its report hook alone sees a transport fault's call report as another phase."""
        from _pytest.junitxml import xml_key

        xml = session.config.stash.get(xml_key, None)
        if xml is None:
            return
        for impl in session.config.pluginmanager.hook.pytest_runtest_logreport.get_hookimpls():
            if impl.plugin is xml and not getattr(impl.function, "_conformance_faults", False):
                impl.function = _as_error(impl.function)  # type: ignore[misc]


def _as_error(write: Callable[..., object]) -> Callable[..., None]:
    def logreport(report: pytest.TestReport) -> None:
        if not _fault_report(report):
            write(report)
            return
        report.when = "setup"  # "failed on setup with ...": JUnit has no other name for an error
        try:
            write(report)
        finally:
            report.when = "call"

    logreport._conformance_faults = True  # type: ignore[attr-defined]
    return logreport
