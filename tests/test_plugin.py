"""The suite plugin seen from outside: usage errors, skips, failure messages, cleanup, 429 handling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from session_conformance.apis.zitadel import ZITADEL
from session_conformance.cleanup import Cleanup
from session_conformance.http import ConformanceClient
from session_conformance.retry import TransportFault, retry_after_seconds
from session_conformance.server.runner import EmbeddedServer

PLUGIN = "session_conformance.pytest_plugin"


def run_pytest(
    tmp_path: Path, source: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run pytest with the plugin on one test file in ``tmp_path`` (its own rootdir)."""
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(source), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "PYTEST_"))}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        PLUGIN,
        "-p",
        "no:cacheprovider",
        "-rs",
        "-o",
        "addopts=",
        str(tmp_path / "test_probe.py"),
        *args,
    ]
    return subprocess.run(
        command,
        cwd=tmp_path,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- usage errors: one line, no traceback, exit 4 ------------------------------------------------


def _assert_one_line_usage_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 4, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith("ERROR: conformance:") and fragment in lines[0], output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--profile", "huge"), "unknown profile 'huge'"),
        (("--base-url", "https://staging.example.test"), "--token"),
        (("--api", "soap"), "unknown API"),
        (("--rules", "TRN-R999"), "unknown rule ID"),
        (("--faults", "no-such-fault"), "unknown fault"),
    ],
)
def test_wrong_options_are_one_line(tmp_path: Path, args: tuple[str, ...], fragment: str) -> None:
    _assert_one_line_usage_error(run_pytest(tmp_path, "def test_x(): pass\n", *args), fragment)


def test_wrong_environment_value_is_one_line(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "def test_x(): pass\n", env={"CONFORMANCE_PROFILE": "huge"})
    _assert_one_line_usage_error(done, "CONFORMANCE_PROFILE")


def test_unreachable_target_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    done = run_pytest(tmp_path, "def test_x(): pass\n", "--base-url", url, "--token", "t-123456")
    _assert_one_line_usage_error(done, "cannot reach")


def test_rejected_token_is_one_line(tmp_path: Path, server: EmbeddedServer) -> None:
    done = run_pytest(
        tmp_path,
        "def test_x(): pass\n",
        "--base-url",
        server.url,
        "--token",
        "not-a-real-token",
        "--api",
        "trinsic",
    )
    _assert_one_line_usage_error(done, "rejected the token")
    assert "not-a-real-token" not in done.stdout + done.stderr


# --- precedence, skips, failure messages ----------------------------------------------------------


def test_flag_wins_over_environment_in_a_run(tmp_path: Path) -> None:
    done = run_pytest(
        tmp_path,
        "def test_x(): pass\n",
        "--profile",
        "smoke",
        env={"CONFORMANCE_PROFILE": "deep", "CONFORMANCE_API": "trinsic"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "APIs trinsic; profile smoke" in done.stdout


SKIPS = """
import pytest

@pytest.mark.rules("TRN-R30")
@pytest.mark.needs("other_token")
def test_other(client): pass

@pytest.mark.rules("TRN-R24")
@pytest.mark.needs("provider_state")
def test_hook(client): pass

@pytest.mark.rules("TRN-R11")
@pytest.mark.needs("trinsic_provider")
def test_provider(client): pass

@pytest.mark.rules("ZTD-R19")
@pytest.mark.needs("zitadel_user")
def test_user(client): pass

@pytest.mark.rules("TRN-R29")
@pytest.mark.needs("writes")
def test_writes(client): pass

@pytest.mark.rules("TRN-R30")
def test_other_client_fixture(other_client): pass
"""


def test_skips_name_the_missing_option(tmp_path: Path, server: EmbeddedServer) -> None:
    done = run_pytest(
        tmp_path, SKIPS, "--base-url", server.url, "--token", server.primary_token, "--read-only"
    )
    output = done.stdout
    assert done.returncode == 0, output + done.stderr
    for fragment in (
        "--other-token",
        "--provider-state-url",
        "--trinsic-provider",
        "--zitadel-login-name",
        "--read-only",
    ):
        assert fragment in output, fragment
    assert "6 skipped" in output


def test_an_embedded_only_need_does_not_exist(tmp_path: Path) -> None:
    source = "import pytest\n@pytest.mark.needs('embedded')\ndef test_x(client): pass\n"
    done = run_pytest(tmp_path, source, "--api", "trinsic")
    assert done.returncode != 0 and "unknown need 'embedded'" in done.stdout + done.stderr


LEVELS = """
import pytest
from session_conformance.verdict import expect, warn

@pytest.mark.rules("TRN-R09")
def test_blocked(client):
    expect("TRN-R04", False, "create answered 201")
    expect("TRN-R09", False, "never reached")

@pytest.mark.rules("TRN-R28")
def test_warns(client):
    warn("TRN-R28", False, "updated < created (inferred)")
    warn("TRN-R28", True, "fine")

@pytest.mark.rules("TRN-R01")
def test_passes(client):
    pass
"""


def test_verdict_levels_warning_and_blocked(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    done = run_pytest(tmp_path, LEVELS, "--api", "trinsic", "--reports-dir", str(reports))
    output = done.stdout
    assert done.returncode == 0, output + done.stderr  # warnings and blocked checks do not fail a run
    assert "blocked by TRN-R04" in output and "[TRN-R28] updated < created" in output
    assert "2 passed, 1 skipped" in output
    import json

    summary = json.loads((reports / "conformance-summary.json").read_text(encoding="utf-8"))
    verdicts = {rule["id"]: rule["verdict"] for rule in summary["rules"]}
    assert verdicts["TRN-R09"] == "blocked" and verdicts["TRN-R28"] == "warning"
    assert verdicts["TRN-R04"] == "skipped" and verdicts["TRN-R01"] == "passed"  # one defect, its own check
    strict = run_pytest(
        tmp_path, LEVELS, "--api", "trinsic", "--fail-on", "warning", "--reports-dir", str(reports)
    )
    assert strict.returncode == 1, strict.stdout


FAILING = """
import pytest
from session_conformance.verdict import expect

@pytest.mark.rules("TRN-R04")
def test_fails(client):
    exchange = client.post("/api/v1/sessions/widget", json={})
    expect("TRN-R04", exchange.status == 299, "wanted 299", evidence=exchange)
"""


def test_failure_names_rule_curl_response_and_replay(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, FAILING, "--api", "trinsic", "--profile", "smoke")
    output = done.stdout
    assert done.returncode == 1, output + done.stderr
    assert "[TRN-R04] wanted 299" in output
    assert "curl -sS -X POST" in output and "Bearer ***" in output
    assert "HTTP 200" in output and "launchUrl" in output
    assert "replay: pytest" in output and "--hypothesis-seed=" in output
    assert "pri_" not in output  # the embedded primary token never appears


# --- cleanup ---------------------------------------------------------------------------------------

CREATES = """
import os, signal, time
import pytest

@pytest.mark.rules("TRN-R04", "ZTD-R02")
def test_create(client):
    assert client.post("/api/v1/sessions/widget", json={}).status == 200
    for prefix in ("/v2", "/v2beta"):
        assert client.post(prefix + "/sessions", json={}).status in (200, 201)
    MODE
"""


def _open_sessions(server: EmbeddedServer) -> list[str]:
    client = ConformanceClient(server.url, server.primary_token, name="inspector")
    try:
        listed = client.get("/api/v1/sessions/list", params={"PageSize": 50}).json()
        still_open = [s["id"] for s in listed.get("sessions", []) if not s.get("done")]
        for prefix in ("/v2", "/v2beta"):
            found = client.post(f"{prefix}/sessions/search", json={}).json()
            still_open += [s["id"] for s in found.get("sessions", [])]
        return still_open
    finally:
        client.close()


@pytest.mark.parametrize(
    "mode",
    [
        "pass",
        "assert False, 'a failing test'",
        "os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)",
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(30)",
    ],
    ids=["passed", "failed", "sigterm", "ctrl-c"],
)
def test_cleanup_ends_every_created_session(tmp_path: Path, mode: str) -> None:
    with EmbeddedServer() as fresh:
        done = run_pytest(
            tmp_path, CREATES.replace("MODE", mode), "--base-url", fresh.url, "--token", fresh.primary_token
        )
        assert done.returncode in (0, 1, 2), done.stdout + done.stderr
        assert "ended 3 session(s) created during the run" in done.stdout, done.stdout
        assert _open_sessions(fresh) == [], done.stdout



@pytest.mark.parametrize("api", ["zitadel-v2", "zitadel-v2-connect"])
def test_cleanup_learns_a_rotated_session_token(api: str) -> None:
    """A SetSession issues a new token (REST: the session is in the path; Connect: in the request body):
    the delete at the end of the run sends that one."""
    cleanup = Cleanup()
    with EmbeddedServer() as fresh:
        client = ConformanceClient(fresh.url, fresh.primary_token, name="rotator", cleanup=cleanup)
        try:
            create = ZITADEL.call(api, "CreateSession", body={})
            created = client.request(create.method, create.path, json=create.json, headers=create.headers).json()
            change = ZITADEL.call(
                api, "SetSession", session_id=created["sessionId"], body={"metadata": {"k": "dg=="}}
            )
            changed = client.request(change.method, change.path, json=change.json, headers=change.headers)
        finally:
            client.close()
        new_token = changed.json()["sessionToken"]
        assert new_token != created["sessionToken"]
        assert [s.session_token for s in cleanup.pending()] == [new_token]
        assert cleanup.run() == [] and _open_sessions(fresh) == []

# --- 429 and Retry-After ---------------------------------------------------------------------------


class _Throttled:
    """A tiny app on a real socket: answers 429 (Retry-After: 0) ``limit`` times, then 200."""

    def __init__(self, limit: int, retry_after: str = "0") -> None:
        self.limit, self.retry_after, self.calls = limit, retry_after, 0
        app = Starlette(routes=[Route("/thing", self.thing)])
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    async def thing(self, request: Request) -> Response:
        self.calls += 1
        if self.calls <= self.limit:
            return JSONResponse({"error": "slow down"}, 429, headers={"Retry-After": self.retry_after})
        return JSONResponse({"ok": True})

    def __enter__(self) -> _Throttled:
        self.thread.start()
        while not self.server.started:
            self.thread.join(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
        self.socket.close()


def test_429_is_retried_after_retry_after() -> None:
    with _Throttled(limit=2) as app:
        client = ConformanceClient(app.url, "t-429-test")
        exchange = client.get("/thing")
        client.close()
    assert exchange.status == 200 and exchange.attempts == 3 and app.calls == 3


def test_429_retries_are_bounded() -> None:
    """Retries run out: the check errors naming the fault (a 429 is never judged as the target's answer)."""
    with _Throttled(limit=100) as app:
        client = ConformanceClient(app.url, "t-429-test", max_attempts=3)
        with pytest.raises(TransportFault, match="HTTP 429") as raised:
            client.get("/thing")
        client.close()
    assert app.calls == 3
    assert raised.value.evidence.attempts == 3 and len(raised.value.evidence.retries) == 2


def test_retry_after_forms() -> None:
    assert retry_after_seconds("0") == 0.0
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("100000") == 30.0  # capped
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert retry_after_seconds(None) is None  # no header: the client's own backoff


def test_restricted_token_checks_skip_naming_the_option_on_a_live_target() -> None:
    from session_conformance.config import Options
    from session_conformance.pytest_plugin import SKIP_REASONS, _missing

    live = Options(base_url="https://staging.example", token="t")
    assert _missing("restricted_token", live)
    given = Options(base_url="https://x", token="t", zitadel_restricted_token="r")
    assert not _missing("restricted_token", given)
    assert not _missing("restricted_token", Options())  # the embedded server offers such a caller
    option = "--zitadel-restricted-token / CONFORMANCE_ZITADEL_RESTRICTED_TOKEN"
    assert option in SKIP_REASONS["restricted_token"]
