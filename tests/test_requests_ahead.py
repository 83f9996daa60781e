"""Requests sent ahead (``ahead.py``): a check's known requests in flight at once, judged in its order.

Real sockets: a tiny Starlette app on loopback that answers slowly and counts how many requests it holds
at once, the embedded server behind a proxy that cuts connections, and the contract suite through a
proxy with a round trip.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from accounts import left_behind
from session_conformance.cleanup import Cleanup
from session_conformance.evidence import ExchangeLog
from session_conformance.faultproxy import FaultProxy
from session_conformance.http import ConformanceClient
from session_conformance.network import MAX_AHEAD, ahead_for
from session_conformance.retry import TransportFault
from session_conformance.served import ServedServer, live_env
from session_conformance.server.runner import EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]
LIST = "/api/v1/sessions/list"
SUITE = (sys.executable, "-m", "pytest", "suites/test_contract_conformance.py", "-p", "no:cacheprovider")


class _SlowApp:
    """Answers every request after ``delay`` seconds with its own query; notes the most held at once."""

    def __init__(self, delay: float = 0.05) -> None:
        self.delay, self.calls, self.holding, self.most = delay, 0, 0, 0
        self.queries: list[str] = []
        app = Starlette(routes=[Route("/{path:path}", self.route, methods=["GET", "POST"])])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def route(self, request: Request) -> Response:
        self.calls += 1
        self.queries.append(request.url.query)
        self.holding += 1
        self.most = max(self.most, self.holding)
        await asyncio.sleep(self.delay)
        self.holding -= 1
        return JSONResponse({"query": request.url.query})

    def __enter__(self) -> _SlowApp:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


def _prepared(url: str, n: int) -> list[dict[str, object]]:
    return [{"method": "GET", "url": f"{url}{LIST}", "params": {"Page": str(i)}} for i in range(n)]


@pytest.fixture
def slow() -> Iterator[_SlowApp]:
    with _SlowApp() as app:
        yield app


def test_requests_sent_ahead_are_in_flight_together_and_judged_in_order(slow: _SlowApp) -> None:
    log = ExchangeLog()
    client = ConformanceClient(slow.url, "t-ahead", cleanup=Cleanup(), log=log, ahead=4)
    log.start()
    with client.sending_ahead(_prepared(slow.url, 12)):
        answers = [client.send_prepared(kwargs) for kwargs in _prepared(slow.url, 12)]
        other = client.get(LIST, params={"Page": "not sent ahead"})
    client.close()
    assert [a.json()["query"] for a in answers] == [f"Page={i}" for i in range(12)]
    assert other.json()["query"] == "Page=not+sent+ahead"
    assert slow.calls == 13  # each request sent once: taken, not sent again
    assert 2 <= slow.most <= 4  # in flight together, never more than the width
    recorded = [e.url.rsplit("=", 1)[1] for e in log.stop()]
    assert recorded == [*map(str, range(12)), "not+sent+ahead"]  # in the order the check asked


def test_a_check_that_ends_early_sends_no_more_and_records_what_came_back(slow: _SlowApp) -> None:
    log = ExchangeLog()
    client = ConformanceClient(slow.url, "t-ahead", cleanup=Cleanup(), log=log, ahead=2)
    log.start()
    with client.sending_ahead(_prepared(slow.url, 40)):
        client.send_prepared(_prepared(slow.url, 40)[0])  # the check stops after its first example
    client.close()
    assert slow.calls < 10  # the other requests were never sent
    assert len(log.stop()) == slow.calls  # every answer that came back is in the evidence


def test_one_width_sends_nothing_ahead(slow: _SlowApp) -> None:
    client = ConformanceClient(slow.url, "t-ahead", cleanup=Cleanup(), log=ExchangeLog(), ahead=1)
    with client.sending_ahead(_prepared(slow.url, 5)):
        assert slow.calls == 0
        client.send_prepared(_prepared(slow.url, 5)[0])
    client.close()
    assert slow.calls == 1


def test_a_fault_of_a_request_sent_ahead_is_raised_when_the_check_takes_it() -> None:
    """A cut create sent ahead: its fault reaches the check (an error, its example dropped), not a thread."""
    with EmbeddedServer() as server, FaultProxy(server.url, cut=1.0, seed=3) as proxy:
        client = ConformanceClient(proxy.url, server.primary_token, log=ExchangeLog(), ahead=3)
        creates = [{"method": "POST", "url": f"{proxy.url}/api/v1/sessions/widget", "json": {}}] * 3
        with client.sending_ahead(creates):
            for kwargs in creates:
                with pytest.raises(TransportFault, match="createWidgetSession"):
                    client.send_prepared(kwargs)
        client.close()
    assert proxy.stats.cuts == 3  # each sent once: a create is never re-sent


def test_requests_ahead_follow_the_round_trip() -> None:
    assert ahead_for(None) == 1  # embedded server, unreachable target
    assert ahead_for(0.0004) == 1  # loopback: each request when the check asks
    assert ahead_for(0.010) == 3
    assert ahead_for(0.050) == 11
    assert ahead_for(1.0) == MAX_AHEAD


@pytest.fixture(scope="module")
def served() -> Iterator[ServedServer]:
    with ServedServer() as server:
        yield server


def test_coverage_phase_across_a_cutting_network_fails_nothing_and_leaves_nothing(
    tmp_path: Path, served: ServedServer
) -> None:
    """The contract suite's coverage phase sent ahead through a 20 ms round trip that cuts 3 % of requests."""
    env = live_env(served)
    with FaultProxy(env["CONFORMANCE_BASE_URL"], delay=0.010, cut=0.03, seed=18) as proxy:
        env = {
            **{k: v for k, v in env.items() if not k.startswith("PYTEST_")},
            "CONFORMANCE_BASE_URL": proxy.url,
            "CONFORMANCE_PROVIDER_STATE_URL": proxy.proxied(env["CONFORMANCE_PROVIDER_STATE_URL"]),
            "CONFORMANCE_REPORTS_DIR": str(tmp_path / "reports"),
            "CONFORMANCE_PROFILE": "standard",
            "CONFORMANCE_API": "trinsic",
        }
        done = subprocess.run(
            [*SUITE, "-q", "-k", "widget"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        stats = proxy.stats
    out = done.stdout[-6000:] + done.stderr[-3000:]
    assert stats.cuts > 0 and stats.in_flight() > 1.2, (stats, out)
    summary = json.loads((tmp_path / "reports" / "conformance-summary.json").read_text())
    assert summary["checks"].get("failed", 0) == 0, out
    assert not [r for r in summary["rules"] if r["verdict"] == "failed"], out
    junit = ET.parse(tmp_path / "reports" / "junit.xml").getroot()
    assert not list(junit.iter("failure")), out
    assert left_behind(served.env["CONFORMANCE_BASE_URL"], served.env["CONFORMANCE_TOKEN"]) == [], out
