"""The pytest side of the suite: options, fixtures, embedded server, pre-flight, skips, evidence, cleanup.

Loaded by ``-p session_conformance.pytest_plugin`` (pyproject ``addopts``, ``session-conformance run``)
and from the root ``conftest.py``. See docs/ARCHITECTURE.md for the
fixture table and the per-test data this plugin leaves for the reports.
"""

from __future__ import annotations

# isort: split
# First, before anything imports Hypothesis or Schemathesis (see the module).
from session_conformance import rewrite_opt_out

# isort: split
import atexit
import importlib.util
import logging
import os
import random
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import hypothesis
import pytest
from hypothesis.errors import HypothesisException, Unsatisfiable

from session_conformance import network
from session_conformance.apis import (
    API_FAMILY,
    API_PARAMETERS,
    APIS,
    FAMILIES,
    FAMILY_NAMES,
    family,
    family_of_api,
)
from session_conformance.cleanup import CLEANUP
from session_conformance.config import (
    OPTIONS,
    Options,
    Profile,
    Target,
    UsageError,
    embedded_target,
    live_target,
    resolve_options,
)
from session_conformance.contracts import WRITE_OPERATIONS, Contracts, load_contracts, load_rules
from session_conformance.discovery import unserved_apis
from session_conformance.evidence import EXCHANGES, Exchange, ItemRecord, render_evidence
from session_conformance.http import ConformanceClient
from session_conformance.lazybuild import LazyBuild
from session_conformance.provider_state import ProviderState, ProviderStateError, ProviderStateUnknown
from session_conformance.redaction import redact_text, register_secret
from session_conformance.retry import DROPPED, TransportFault, transport_fault_in
from session_conformance.sharding import cost_of, split
from session_conformance.transport import make_httpx_client
from session_conformance.verdict import FIRST_VIOLATION, WARNINGS, RuleViolation
from session_conformance.waivers import Waiver
from session_conformance.waivers import find as find_waiver
from session_conformance.waivers import load as load_waivers

__all__ = ["ITEM_RECORD", "ProviderStateError", "current_options", "current_waivers", "run_seed"]

ITEM_RECORD: pytest.StashKey[ItemRecord] = pytest.StashKey()
OPTIONS_KEY: pytest.StashKey[Options] = pytest.StashKey()
SEED_KEY = "conformance_seed"  # xdist workerinput key
CLEANUP_KEY = "conformance_cleanup"  # xdist workeroutput key
NEEDS = ("writes", "other_token", "provider_state", "trinsic_provider", "zitadel_user", "restricted_token")
CONFORMANCE_FIXTURES = frozenset(
    {
        "target",
        "client",
        "other_client",
        "anon_client",
        "provider_state",
        "zitadel_api",
        "zitadel_prefix",
        "zitadel_user",
        "budget",
        "contracts",
    }
)

# The reporting engineer's plugin (session_conformance/reporting/); loaded when it exists.
REPORTING_PLUGIN = "session_conformance.reporting.plugin"


@dataclass
class _Run:
    """Per-process run state, known from ``pytest_configure`` on (collection uses it)."""

    options: Options | None = None
    seed: int | None = None
    runtime: _Runtime | None = None
    old_sigterm: Any = None
    cleanup_report: list[str] = field(default_factory=list)
    lost_reported: list[str] = field(default_factory=list)  # CLEANUP.lost already in the report
    warnings: list[str] = field(default_factory=list)  # "nodeid  [RULE] message" (controller)
    blocked: list[str] = field(default_factory=list)
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)  # rule, nodeid, reason, replay
    waivers: list[Waiver] = field(default_factory=list)  # --waivers, checked at configure
    unserved: dict[str, str] = field(default_factory=dict)  # api -> why a live target does not serve it
    zitadel_user: dict[str, str] | None = None  # the provider state's user, once it answered


RUN = _Run()


def current_options() -> Options:
    """The resolved options of this run (defaults when the plugin was not configured, e.g. in a REPL)."""
    return RUN.options or Options()


def current_waivers() -> list[Waiver]:
    """The waivers of this run (``--waivers``; empty without)."""
    return list(RUN.waivers)


def run_seed() -> int:
    """The run's seed: Schemathesis and Hypothesis draw from it; ``--hypothesis-seed=N`` replays a run."""
    if RUN.seed is None:
        RUN.seed = random.getrandbits(32)
    return RUN.seed


# --- options and configuration -------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    rewrite_opt_out.opt_out()  # when the plugin came late (conftest), for modules not yet imported
    group = parser.getgroup(
        "conformance", "session-conformance (each option also reads its environment variable)"
    )
    group.addoption(
        "--reports-dir",
        dest="conformance_reports_dir",
        default=None,
        metavar="DIR",
        help="where reports go: allure-results/, junit.xml, conformance-summary.json/.md "
        "[env CONFORMANCE_REPORTS_DIR] (default: ./reports)",
    )
    for spec in OPTIONS:
        help_text = f"{spec.help} [env {spec.env}]"
        if spec.boolean:
            group.addoption(spec.flag, action="store_true", default=None, dest=spec.dest, help=help_text)
        else:
            group.addoption(
                spec.flag, action="store", default=None, dest=spec.dest, metavar=spec.metavar, help=help_text
            )


def _flags(config: pytest.Config) -> dict[str, Any]:
    return {spec.key: config.getoption(spec.dest) for spec in OPTIONS}


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _known_faults(flags: dict[str, Any]) -> frozenset[str] | None:
    if not (flags.get("faults") or os.environ.get("CONFORMANCE_FAULTS")):
        return None
    from session_conformance.server.catalogue import all_faults

    return frozenset(all_faults())


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rules(*ids): the documented rule IDs a conformance test checks")
    config.addinivalue_line("markers", f"needs(*what): target capabilities a test needs ({', '.join(NEEDS)})")
    if config.getoption("help", False):
        return
    flags = _flags(config)
    try:
        options = resolve_options(
            flags, os.environ, known_rules=frozenset(load_rules()), known_faults=_known_faults(flags)
        )
    except UsageError as exc:
        raise pytest.UsageError(f"conformance: {exc}") from None
    RUN.options = options
    config.stash[OPTIONS_KEY] = options
    try:
        RUN.waivers = load_waivers(options.waivers, frozenset(load_rules())) if options.waivers else []
    except UsageError as exc:
        raise pytest.UsageError(f"conformance: {exc}") from None
    register_secret(options.token, options.other_token, options.zitadel_password)
    register_secret(options.zitadel_restricted_token)

    # One seed per run, shared with xdist workers; --hypothesis-seed replays it.
    workerinput = getattr(config, "workerinput", None)
    given = config.getoption("hypothesis_seed", None)
    if workerinput is not None and SEED_KEY in workerinput:
        RUN.seed = int(workerinput[SEED_KEY])
    elif given is not None:
        try:
            RUN.seed = int(given)
        except ValueError:
            raise pytest.UsageError(f"conformance: --hypothesis-seed={given!r} must be an integer") from None
    else:
        RUN.seed = random.getrandbits(32)
    config.option.hypothesis_seed = str(RUN.seed)  # read by Hypothesis' own pytest plugin
    _load_hypothesis_profile(options.profile, config)

    if options.base_url is not None and not _is_worker(config):
        try:
            _preflight(options)
        except UsageError as exc:
            raise pytest.UsageError(f"conformance: {exc}") from None
    if options.base_url is not None:  # every process collects, so every process knows (two requests)
        timeout = min(options.request_timeout, 15.0)
        RUN.unserved = unserved_apis(options.base_url, options.token, options.apis, timeout=timeout)
    if config.getoption("tbstyle", "auto") == "auto" and config.getoption("verbose", 0) <= 0:
        config.option.tbstyle = "short"  # errors (not rule failures) show where, not 2,000 lines
    _install_sigterm_handler()
    network.configure(config, options)  # the --rate-limit schedule, shared with xdist workers
    if not config.pluginmanager.has_plugin("conformance-network"):
        config.pluginmanager.register(network.FaultViews(), "conformance-network")
    if not config.pluginmanager.has_plugin("conformance-lazybuild"):
        config.pluginmanager.register(LazyBuild(), "conformance-lazybuild")  # each test built where it runs
    _load_optional_plugin(config, REPORTING_PLUGIN)  # <- reporting plugin hook-in (one line)


def _load_optional_plugin(config: pytest.Config, name: str) -> None:
    if config.pluginmanager.has_plugin(name):
        return
    try:
        found = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        found = False
    if found:
        config.pluginmanager.import_plugin(name)


def _load_hypothesis_profile(profile: Profile, config: pytest.Config) -> None:
    """Register a Hypothesis profile per budget and load it, unless ``--hypothesis-profile`` names another."""
    name = f"conformance-{profile.name}"
    hypothesis.settings.register_profile(
        name,
        max_examples=profile.max_examples,
        stateful_step_count=profile.stateful_steps,
        deadline=None,
        derandomize=False,
        # Runs are replayed by seed (--hypothesis-seed), not from examples an earlier run saved: a saved
        # example replayed first makes two runs with one seed differ, and the database grows in memory.
        database=None,
        print_blob=True,
        suppress_health_check=[
            hypothesis.HealthCheck.too_slow,
            hypothesis.HealthCheck.filter_too_much,
            hypothesis.HealthCheck.data_too_large,
            hypothesis.HealthCheck.function_scoped_fixture,
        ],
    )
    if not config.getoption("hypothesis_profile", None):
        hypothesis.settings.load_profile(name)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand the run seed (and the rate limit's schedule) to every worker."""
    node.workerinput[SEED_KEY] = run_seed()
    network.configure_node(node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker's cleanup lines (sessions ended, answers the network lost) to the summary."""
    RUN.cleanup_report.extend(getattr(node, "workeroutput", {}).get(CLEANUP_KEY, ()))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist, ``--dist load``: the dearest checks first, one at a time to whichever worker is free."""
    from session_conformance.schedule import make_scheduler  # imports xdist: only where xdist runs

    return make_scheduler(config, log)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (``session-conformance run``'s default): sized from the target's round trip."""
    try:
        options = resolve_options(_flags(config), os.environ)
    except UsageError:
        options = None  # pytest_configure says what is wrong, readably
    return network.auto_workers(options)


def _preflight(options: Options) -> None:
    """Probe a live target once with an authenticated read: unreachable and rejected tokens stop the run."""
    assert options.base_url is not None
    api = options.apis[0]
    probe = family_of_api(api).probe(api)
    method, path = probe.method, probe.path
    timeout = min(options.request_timeout, 15.0)
    for label, token in (
        ("--token / CONFORMANCE_TOKEN", options.token),
        ("--other-token / CONFORMANCE_OTHER_TOKEN", options.other_token),
    ):
        if token is None:
            continue
        try:
            with make_httpx_client(options.base_url, timeout=timeout) as http:
                response = http.request(
                    method,
                    path,
                    params=probe.params,
                    json=probe.json,
                    headers={"Authorization": f"Bearer {token}"},
                )
        except httpx.HTTPError as exc:
            reason = redact_text(str(exc)) or type(exc).__name__
            raise UsageError(f"cannot reach {options.base_url} ({method} {path}): {reason}") from None
        if response.status_code in (401, 403):
            raise UsageError(
                f"{options.base_url} rejected the token of {label}: {method} {path} answered "
                f"HTTP {response.status_code}"
            )


def _install_sigterm_handler() -> None:
    """Turn SIGTERM into KeyboardInterrupt so pytest unwinds and the cleanup runs."""
    if threading.current_thread() is not threading.main_thread() or RUN.old_sigterm is not None:
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt("SIGTERM")

    try:
        RUN.old_sigterm = signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        RUN.old_sigterm = None


def pytest_unconfigure(config: pytest.Config) -> None:
    _finish_cleanup()
    if RUN.runtime is not None:
        RUN.runtime.stop()
        RUN.runtime = None
    if RUN.old_sigterm is not None:
        signal.signal(signal.SIGTERM, RUN.old_sigterm)
        RUN.old_sigterm = None
    if _is_worker(config):
        atexit.register(_end_worker_without_freeing)  # last registered: the first exit handler to run


def _end_worker_without_freeing() -> None:
    """End an xdist worker's process without freeing its heap object by object.

    Its results are with the controller by now. Freeing ~140 MB of Hypothesis and Schemathesis objects
    per worker took 12 workers on 2 cores ~3.5 s of the run's end (bench.md N7). This runs before the
    exit handlers registered earlier and does what they do for a worker: the cleanup's last resort,
    logging's flush, the standard streams' flush.
    """
    CLEANUP.run()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def pytest_report_header(config: pytest.Config) -> list[str]:
    options = config.stash.get(OPTIONS_KEY, None)
    if options is None:
        return []
    target = options.base_url or "embedded reference server"
    flags = [
        name for name, on in (("read-only", options.read_only), ("strict-properties", options.strict)) if on
    ]
    lines = [
        f"conformance: target {target}; APIs {', '.join(options.apis)}; profile {options.profile.name}"
        + (f"; {', '.join(flags)}" if flags else ""),
        f"conformance: seed {run_seed()} (replay with --hypothesis-seed={run_seed()})",
    ]
    if options.rules:
        lines.append(f"conformance: only rules {', '.join(sorted(options.rules))}")
    if options.server_faults:
        lines.append(f"conformance: embedded server faults {', '.join(options.server_faults)}")
    if options.waivers:
        expired = [f"{w.rule} (expired {w.expires})" for w in RUN.waivers if w.expired()]
        lines.append(
            f"conformance: waivers {options.waivers}: {len(RUN.waivers)} entries"
            + (f"; expired, covering nothing: {', '.join(expired)}" if expired else "")
        )
    lines += [f"conformance: {reason}" for reason in RUN.unserved.values()]
    return lines


# --- the embedded server and the resolved target ---------------------------------------------------


class _Runtime:
    """The target of this process: live, or an embedded server started on first use."""

    def __init__(self, options: Options) -> None:
        self.server: Any = None
        if options.embedded:
            from session_conformance.server.runner import EmbeddedServer
            from session_conformance.server.state import EMBEDDED_TRINSIC_PROVIDERS

            self.server = EmbeddedServer(
                faults=options.server_faults, variants=options.server_variants
            ).start()
            register_secret(self.server.primary_token, self.server.other_token, self.server.restricted_token)
            self.target = embedded_target(
                options,
                url=self.server.url,
                primary_token=self.server.primary_token,
                other_token=self.server.other_token,
                hook_url=self.server.hook_url,
                trinsic_providers=EMBEDDED_TRINSIC_PROVIDERS,
                restricted_token=self.server.restricted_token,
            )
        else:
            self.target = live_target(options)
        self.clients: list[ConformanceClient] = []

    def client(self, token: str | None, name: str) -> ConformanceClient:
        target = self.target
        client = ConformanceClient(
            target.base_url,
            token,
            timeout=target.request_timeout,
            strict=target.strict,
            read_only=target.read_only,
            name=name,
            ahead=network.requests_ahead(),
        )
        self.clients.append(client)
        return client

    def stop(self) -> None:
        _finish_cleanup()
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None


def _runtime() -> _Runtime:
    if RUN.runtime is None:
        RUN.runtime = _Runtime(current_options())
    return RUN.runtime


def _finish_cleanup() -> None:
    pending = len(CLEANUP.pending())
    failures = CLEANUP.run(parallel=network.cleanup_connections())
    for session, reason in failures:
        RUN.cleanup_report.append(f"could not end {session.api} session {session.session_id}: {reason}")
    if pending and not failures:
        RUN.cleanup_report.append(f"ended {pending} session(s) created during the run")
    for what in CLEANUP.lost[len(RUN.lost_reported) :]:
        RUN.lost_reported.append(what)
        RUN.cleanup_report.append(
            f"the network lost the answer to a create ({what}): "
            "a session it may have made is unknown to the run"
        )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect warnings and blocked checks where the run ends (the xdist controller, or the only process)."""
    data = getattr(report, "conformance", None)
    if not isinstance(data, dict):
        return
    if data.get("outcome") in ("failed", "error") and report.failed:
        message = str(data.get("message") or "").strip().splitlines() or [""]
        rule = str(data.get("failure_rule") or "ERROR")
        reason = message[0].removeprefix(f"[{rule}] ")[:200]
        RUN.failures.append((rule, report.nodeid, reason, str(data.get("replay") or "")))
    if data.get("outcome") == "warning" and report.when == "call":
        RUN.warnings.extend(f"{report.nodeid}  {text.splitlines()[0]}" for text in data.get("warnings") or ())
    elif data.get("outcome") == "blocked" and report.skipped:
        RUN.blocked.append(f"{report.nodeid}  {str(data.get('message') or '').splitlines()[0][:200]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _finish_cleanup()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its cleanup lines go to the controller's summary
        workeroutput[CLEANUP_KEY] = list(RUN.cleanup_report)
    options = session.config.stash.get(OPTIONS_KEY, None)
    if options is not None and options.fail_on == "warning" and RUN.warnings and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if RUN.failures:
        terminalreporter.write_sep("-", f"conformance failures ({len(RUN.failures)})")
        for rule, nodeid, reason, replay in RUN.failures:
            terminalreporter.write_line(f"{rule:8}  {nodeid}  {reason}")
            if replay:
                terminalreporter.write_line(f"          replay: {replay}")
    for title, lines in (("conformance warnings", RUN.warnings), ("conformance blocked", RUN.blocked)):
        if lines:
            terminalreporter.write_sep("-", f"{title} ({len(lines)})")
            for line in lines:
                terminalreporter.write_line(line)
    if RUN.cleanup_report:
        terminalreporter.write_sep("-", "conformance cleanup")
        for line in RUN.cleanup_report:
            terminalreporter.write_line(line)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _conformance_runtime() -> Iterator[_Runtime]:
    runtime = _runtime()
    yield runtime
    _finish_cleanup()


@pytest.fixture(scope="session")
def target(_conformance_runtime: _Runtime) -> Target:
    return _conformance_runtime.target


@pytest.fixture(scope="session")
def contracts() -> Contracts:
    return load_contracts()


@pytest.fixture(scope="session")
def budget(target: Target) -> Profile:
    return target.profile


@pytest.fixture(scope="session")
def client(_conformance_runtime: _Runtime) -> ConformanceClient:
    return _conformance_runtime.client(_conformance_runtime.target.token, "primary")


def _optional_client(runtime: _Runtime, token: str | None, role: str, skip_reason: str) -> ConformanceClient:
    """A client of a caller the target may not offer: the check is skipped, naming the option, without it."""
    if token is None:
        pytest.skip(SKIP_REASONS[skip_reason])
    return runtime.client(token, role)


@pytest.fixture(scope="session")
def other_client(_conformance_runtime: _Runtime) -> ConformanceClient:
    """The second account's caller (``--other-token``)."""
    token = _conformance_runtime.target.other_token
    return _optional_client(_conformance_runtime, token, "other", "other_token")


@pytest.fixture(scope="session")
def restricted_client(_conformance_runtime: _Runtime) -> ConformanceClient:
    """A caller of the primary account's Zitadel instance with session.write only (no read, no delete)."""
    token = _conformance_runtime.target.zitadel_restricted_token
    return _optional_client(_conformance_runtime, token, "restricted", "restricted_token")


@pytest.fixture(scope="session")
def anon_client(_conformance_runtime: _Runtime) -> ConformanceClient:
    return _conformance_runtime.client(None, "anonymous")


@pytest.fixture(scope="session")
def provider_state(target: Target) -> Callable[..., dict[str, Any]]:
    """``provider_state(name, params, token=None) -> dict``; raises ``ProviderStateError`` when refused."""
    if target.provider_state_url is None:
        pytest.skip(SKIP_REASONS["provider_state"])
    hook = ProviderState(target.provider_state_url, target.token, timeout=target.request_timeout)

    def call(name: str, params: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        try:
            return hook(name, params, token)
        except ProviderStateUnknown as exc:  # the hook does not offer this (optional) state
            pytest.skip(str(exc))

    return call


@pytest.fixture
def zitadel_prefix(zitadel_api: str) -> str:
    return family_of_api(zitadel_api).api(zitadel_api).path_prefix


@pytest.fixture
def zitadel_user(target: Target) -> dict[str, str]:
    """``{"user_id", "login_name", "password"}`` of a human user (options, else the provider state).

    Asked for once per process. Not a session-scoped fixture: pytest would keep its error (a transport
    fault of the hook) for every later check of the process; here the next check asks again.
    """
    if target.zitadel_login_name and target.zitadel_password:
        return {"user_id": "", "login_name": target.zitadel_login_name, "password": target.zitadel_password}
    if target.provider_state_url is None:
        pytest.skip(SKIP_REASONS["zitadel_user"])
    if RUN.zitadel_user is None:
        RUN.zitadel_user = _provided_zitadel_user(target)
    return dict(RUN.zitadel_user)


def _provided_zitadel_user(target: Target) -> dict[str, str]:
    assert target.provider_state_url is not None
    try:
        answer = ProviderState(target.provider_state_url, target.token, timeout=target.request_timeout)(
            "zitadel user exists"
        )
    except ProviderStateUnknown as exc:
        pytest.skip(str(exc))
    missing = [key for key in ("user_id", "login_name", "password") if not isinstance(answer.get(key), str)]
    if missing:
        raise ProviderStateError(
            f"provider state 'zitadel user exists' answered without {', '.join(missing)}"
        )
    register_secret(answer["password"])
    return {key: answer[key] for key in ("user_id", "login_name", "password")}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``<family>_api``: one run per API of a family with several (Zitadel: ``[v2]``, ``[v2beta]``)."""
    for fam in FAMILIES:
        if len(fam.apis) > 1 and f"{fam.name}_api" in metafunc.fixturenames:
            ids = [api.name.removeprefix(f"{fam.name}-") for api in fam.apis]
            metafunc.parametrize(f"{fam.name}_api", [api.name for api in fam.apis], ids=ids)


# --- collection: API selection, rule filter, skips -----------------------------------------------

SKIP_REASONS = {
    "writes": "needs writes: --read-only / CONFORMANCE_READ_ONLY is set",
    "other_token": "needs a second account: give --other-token / CONFORMANCE_OTHER_TOKEN",
    "provider_state": "needs the provider-state hook: give --provider-state-url / "
    "CONFORMANCE_PROVIDER_STATE_URL",
    "trinsic_provider": "needs a provider session: give --trinsic-provider / CONFORMANCE_TRINSIC_PROVIDER",
    "zitadel_user": "needs a Zitadel user: give --zitadel-login-name and --zitadel-password "
    "(CONFORMANCE_ZITADEL_LOGIN_NAME / CONFORMANCE_ZITADEL_PASSWORD) or --provider-state-url",
    "restricted_token": "needs a caller with session.write only, to tell a missing permission check from "
    "a permission the primary account holds: give --zitadel-restricted-token / "
    "CONFORMANCE_ZITADEL_RESTRICTED_TOKEN",
}


def _missing(need: str, options: Options) -> bool:
    embedded = options.embedded
    if need == "writes":
        return options.read_only
    if need == "other_token":
        return not embedded and options.other_token is None
    if need == "restricted_token":
        return not embedded and options.zitadel_restricted_token is None
    if need == "provider_state":
        return not embedded and options.provider_state_url is None
    if need == "trinsic_provider":
        return not embedded and options.trinsic_provider is None
    if need == "zitadel_user":
        return (
            not embedded
            and options.provider_state_url is None
            and not (options.zitadel_login_name and options.zitadel_password)
        )
    raise pytest.UsageError(
        f"conformance: unknown need {need!r} in @pytest.mark.needs (known: {', '.join(NEEDS)})"
    )


def item_api(item: pytest.Item) -> str | None:
    """The API a test item checks: its ``api``/``zitadel_api`` parameter, its ``[api]`` id, or its folder."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for key in API_PARAMETERS:
            if key in callspec.params and callspec.params[key] in APIS:
                return str(callspec.params[key])
    for api in sorted(APIS, key=len, reverse=True):
        if f"[{api}]" in item.name or f"[{api}-" in item.name or f"-{api}]" in item.name:
            return api
    parts = Path(str(item.path)).parts
    if "suites" in parts:
        below = parts[parts.index("suites") + 1 :]
        if below and below[0] in FAMILY_NAMES:
            return below[0]  # the family; the exact API comes from a parameter (zitadel_api)
    return None


def is_conformance_item(item: pytest.Item) -> bool:
    if item.get_closest_marker("rules") is not None:
        return True
    if CONFORMANCE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    return "suites" in Path(str(item.path)).parts


def item_rules(item: pytest.Item, api: str | None) -> list[str]:
    """Rule IDs of the item's ``rules`` markers, limited to its API family (generic tests list both)."""
    rules: list[str] = []
    for marker in item.iter_markers("rules"):
        for rule in marker.args:
            if rule not in rules:
                rules.append(str(rule))
    if api is not None and (api in APIS or api in FAMILY_NAMES):
        rules = [r for r in rules if family(api).applies(r, api)]
    return rules


def _operation_of(item: pytest.Item, api: str | None) -> list[str]:
    label = getattr(item, "operation_label", None)  # Schemathesis items: "GET /api/v1/sessions/{sessionId}"
    if not label or api not in APIS:
        return []
    method, _, path = str(label).partition(" ")
    try:
        return [load_contracts().find(api, method, path).key]
    except KeyError:
        return []


def _unique_nodeids(items: list[pytest.Item]) -> None:
    """Schemathesis items of one test function share a node ID; give each its own (reports, xdist)."""
    for item in items:
        if getattr(item, "operation_label", None) and not item.nodeid.endswith(f"::{item.name}"):
            nodeid = f"{item.nodeid.rpartition('::')[0]}::{item.name}"
            try:  # pytest >= 9 keeps a structured ID
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(nodeid)
            except ImportError:
                item._nodeid = nodeid  # type: ignore[attr-defined]


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    options = config.stash.get(OPTIONS_KEY, None)
    if options is None:
        return
    _unique_nodeids(items)
    selected_families = {API_FAMILY[api] for api in options.apis}
    keep: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        if not is_conformance_item(item):
            keep.append(item)
            continue
        api = item_api(item)
        record = ItemRecord(
            nodeid=item.nodeid, api=api, rules=item_rules(item, api), operations=_operation_of(item, api)
        )
        item.stash[ITEM_RECORD] = record
        item.extra_keyword_matches.update(f"{op}:" for op in record.operations)  # -k "api:operationId:"
        if (api in APIS and api not in options.apis) or (
            api not in APIS and api in FAMILY_NAMES and api not in selected_families
        ):
            deselected.append(item)
            continue
        if options.rules is not None and not (set(record.rules) & options.rules):
            deselected.append(item)
            continue
        if api in RUN.unserved:
            item.add_marker(pytest.mark.skip(reason=RUN.unserved[api]))
        writes = any(op in WRITE_OPERATIONS for op in record.operations)
        if options.read_only and getattr(item, "operation_label", None) and writes:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASONS["writes"]))
        for marker in item.iter_markers("needs"):
            for need in marker.args:
                if _missing(str(need), options):
                    item.add_marker(pytest.mark.skip(reason=SKIP_REASONS[str(need)]))
                    break
        keep.append(item)
    if options.shard is not None:  # after every other selection: the parts split what would run
        index, count = options.shard
        mine = set(split([item.nodeid for item in keep], count)[index - 1])
        deselected += [item for item in keep if item.nodeid not in mine]
        keep = [item for item in keep if item.nodeid in mine]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    if hasattr(config, "workerinput"):
        # an xdist worker: dearest checks first (stable, the same order on every worker), so that no
        # long check starts last and runs on alone
        cost = cost_of()
        keep.sort(key=lambda item: -cost(item.nodeid))
    items[:] = keep


# --- per-test evidence, failure messages and data for the reports ---------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    EXCHANGES.start()
    WARNINGS.start()
    DROPPED.start()
    FIRST_VIOLATION.start()
    record = item.stash.get(ITEM_RECORD, None)
    if record is not None:  # a check run once more after a transport fault (network.RERUNS) starts afresh
        record.outcome = record.failure_rule = record.message = record.replay = None
        record.warnings = []


def _selector(item: pytest.Item) -> list[str]:
    """Arguments that select exactly this item (Schemathesis items cannot be selected by node ID)."""
    record = item.stash.get(ITEM_RECORD, None)
    if getattr(item, "operation_label", None) and record is not None and record.operations:
        name = getattr(item, "originalname", None) or item.name.split("[")[0]
        path = item.nodeid.split("::")[0]
        return [shlex.quote(path), "-k", shlex.quote(f"{name} and {record.operations[0]}:")]
    return [shlex.quote(item.nodeid)]


def replay_command(item: pytest.Item) -> str:
    from session_conformance.runner import launcher

    options = current_options()
    parts = [
        launcher(),
        *_selector(item),
        f"--hypothesis-seed={run_seed()}",
        f"--profile={options.profile.name}",
    ]
    if options.strict:
        parts.append("--strict-properties")
    if options.server_faults:
        parts.append(f"--faults={','.join(options.server_faults)}")
    if options.base_url:
        parts.append(f"--base-url={options.base_url}")
    return " ".join(parts)


def _evidence_of(exc: BaseException, exchanges: list[Exchange]) -> list[Exchange]:
    evidence = getattr(exc, "evidence", None)
    if isinstance(evidence, Exchange):
        return [evidence]
    if isinstance(evidence, (list, tuple)) and evidence and all(isinstance(e, Exchange) for e in evidence):
        return list(evidence)
    return exchanges


def _mask_exception(exc: BaseException) -> None:
    """Mask secrets in the exception message itself (reports read it, not only our rendering)."""
    if exc.args and isinstance(exc.args[0], str) and not isinstance(exc, BaseExceptionGroup):
        exc.args = (redact_text(exc.args[0]), *exc.args[1:])
    notes = getattr(exc, "__notes__", None)
    if notes:
        exc.__notes__ = [redact_text(note) for note in notes]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    record = item.stash.get(ITEM_RECORD, None)
    exchanges = list(EXCHANGES.current or [])
    excinfo = call.excinfo
    failure = _violation_in(excinfo.value) if excinfo is not None else None
    if call.when == "call":
        failure = _verdict_after_faults(failure)
    if record is not None and excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception):
        exc = excinfo.value
        if not getattr(exc, "_conformance_noted", False):
            shown = _evidence_of(failure or exc, exchanges)
            rule = failure.rule if isinstance(failure, RuleViolation) else None
            head = f"rule {rule}" if rule else "not a rule failure (error in the suite or the environment)"
            note = f"\n--- conformance: {head} ---\n{render_evidence(shown)}\nreplay: {replay_command(item)}"
            try:
                exc.add_note(note)
                exc._conformance_noted = True  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
        _mask_exception(exc)
    outcome: Any = yield
    report: pytest.TestReport = outcome.get_result()
    if report.sections:  # captured output goes into JUnit and Allure: mask it too
        report.sections = [(name, redact_text(content)) for name, content in report.sections]
    if record is None:
        return
    record.exchanges = exchanges or record.exchanges
    record.seen = sorted(set(record.seen) | EXCHANGES.seen)
    for exchange in exchanges:
        if exchange.operation and exchange.operation not in record.operations:
            record.operations.append(exchange.operation)
    if report.when == "call":
        record.warnings = [redact_text(w.message)[:1000] for w in WARNINGS.collect()]
    if report.when == "call" and DROPPED.current:
        _note_dropped(item, report, DROPPED.current)
    if report.failed and isinstance(failure, RuleViolation) and _blocked(failure, record):
        # one defect, one failing rule: the check stopped at another rule's precondition
        record.outcome, record.failure_rule = "blocked", failure.rule
        record.message = redact_text(f"blocked by {failure.rule}: {failure}")[:4000]
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, record.message.split("\n", 1)[0][:500])
    elif report.failed:
        fault = None if isinstance(failure, RuleViolation) or failure is None else transport_fault_in(failure)
        failure = fault or failure  # the network lost a request: an error of the check, never a failure
        record.outcome = "failed" if report.when == "call" and fault is None else "error"
        if fault is not None:
            report.user_properties.append((network.TRANSPORT_FAULT, "1"))
        record.failure_rule = failure.rule if isinstance(failure, RuleViolation) else None
        record.message = redact_text(str(failure) if failure is not None else str(report.longrepr))[:4000]
        record.replay = replay_command(item)
        waiver = _waiver_of(record, failure, report.when)
        if waiver is not None:  # a known defect, accepted until it expires: not failed, not passed
            record.outcome, record.waiver = "waived", waiver.to_dict()
            report.outcome = "skipped"
            report.wasxfail = f"waived {waiver.rule} {waiver.label()}"
        if (isinstance(failure, RuleViolation) or fault is not None) and not _wants_tracebacks(item.config):
            # the rule's (or the network fault's) message, its evidence and the replay line, first
            outer = excinfo.value if excinfo is not None else failure  # Hypothesis' group carries our note
            notes = "\n".join(getattr(failure, "__notes__", None) or getattr(outer, "__notes__", None) or ())
            report.longrepr = redact_text(f"{failure}\n{notes}".strip())
        else:
            report.longrepr = redact_text(str(report.longrepr))
    elif report.skipped:
        record.outcome = "skipped"
        longrepr = report.longrepr
        record.message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
    elif report.when == "call" and record.outcome is None:
        record.outcome = "warning" if record.warnings else "passed"
        if record.warnings:
            record.message = record.warnings[0]
            record.replay = replay_command(item)
            report.user_properties.append(("conformance.verdict", "warning"))
            for text in record.warnings:
                report.sections.append(("conformance warning", text))
    if report.when == "call" or report.failed or report.skipped:
        # a plain attribute travels with xdist's serialised reports
        setattr(report, "conformance", record.to_dict())  # noqa: B010
    if report.when == "teardown":
        record.exchanges = []  # rendered above; kept, they would hold every response of the run


def _verdict_after_faults(failure: BaseException | None) -> BaseException | None:
    """What a check's end means once transport faults met its examples (``retry.DROPPED``).

    A rule violation raised earlier in the check is the verdict, whatever came after it (a replay that
    met a fault, a flaky replay): a fault never hides a failure. Otherwise a Hypothesis error after
    dropped examples (``Unsatisfiable``: every example met a fault) is an error naming the fault.
    """
    if failure is None or isinstance(failure, RuleViolation):
        return failure
    first = FIRST_VIOLATION.current
    if first is not None and (transport_fault_in(failure) or isinstance(failure, HypothesisException)):
        return first
    if DROPPED.current and (isinstance(failure, HypothesisException) or _inconsistent_replay(failure)):
        # Hypothesis could not finish (every example dropped, or its replays grew inconsistent around
        # the dropped ones) and no rule broke: nothing was judged failed, the network stopped it
        dropped, last = len(DROPPED.current), DROPPED.current[-1]
        what = (
            "every example met a transport fault, none was judged"
            if isinstance(failure, Unsatisfiable)
            else f"Hypothesis stopped ({type(failure).__name__}) after {dropped} example(s) met a fault"
        )
        fault = TransportFault(f"{what}; the last: {last}")
        fault.__cause__ = failure
        return fault
    return failure


def _inconsistent_replay(exc: BaseException) -> bool:
    """Hypothesis' own assertion (not ``Flaky``) when a replay draws past where an earlier run stopped
    (Schemathesis' engine tells it the same way: ``schemathesis.engine.errors.is_inconsistent_replay``)."""
    if not isinstance(exc, AssertionError) or isinstance(exc, RuleViolation):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__") if tb is not None else None
    return module == "hypothesis.internal.conjecture.datatree"


def _note_dropped(item: pytest.Item, report: pytest.TestReport, dropped: list[str]) -> None:
    """The examples a check dropped for transport faults: a section of its report, a JUnit property."""
    lines = dropped[:50] + ([f"... and {len(dropped) - 50} more"] if len(dropped) > 50 else [])
    report.sections.append(("conformance dropped examples", "\n".join(redact_text(line) for line in lines)))
    item.user_properties.append(("conformance.dropped_examples", str(len(dropped))))  # JUnit: teardown's


def _waiver_of(record: ItemRecord, failure: BaseException | None, when: str) -> Waiver | None:
    # setup too: a fixture that meets the rule's failure fails the rule (reporting.plugin._outcome)
    if when == "teardown" or not isinstance(failure, RuleViolation) or not RUN.waivers:
        return None
    return find_waiver(RUN.waivers, failure.rule, record.api, record.nodeid)


def _violation_in(exc: BaseException) -> BaseException:
    """The rule violation inside Hypothesis' "flaky" groups, else the exception itself.

    A live target's state moves on between Hypothesis' replays (a second redact is refused), so the
    replay may not fail again: Hypothesis then raises FlakyFailure around the violation it first saw.
    That violation is the verdict, not an error of the suite.
    """
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _violation_in(inner)
            if isinstance(found, RuleViolation):
                return found
    return exc


def _wants_tracebacks(config: pytest.Config) -> bool:
    """Tracebacks of rule failures only on request (``--tb=long``/``--tb=auto`` with ``-v``...)."""
    style = config.getoption("tbstyle", "auto")
    return style == "long" or (style == "auto" and config.getoption("verbose", 0) > 0) or style == "native"


def _blocked(failure: RuleViolation, record: ItemRecord) -> bool:
    """A violation of a rule the check does not declare: a precondition, reported by that rule's own check."""
    return bool(record.rules) and failure.rule not in record.rules


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid: str, location: tuple[str, int | None, str]) -> None:
    EXCHANGES.stop()
