"""The reporting side of a conformance run (a pytest plugin; loaded by ``session_conformance.pytest_plugin``).

Where things happen (pytest-xdist safe):

- every test process (the xdist workers, or the only process): Allure labels, links, severity,
  the description section and, for each failure or error, the masked request/response evidence
  and cURL lines as attachments. The data comes from the per-test record the conformance plugin
  leaves on the item (``ITEM_RECORD``) and on the report (``report.conformance``), already masked;
- the controller (or the only process): collects one :class:`CheckRecord` per test from
  ``pytest_runtest_logreport`` and, at session end, writes ``environment.properties``,
  ``categories.json`` and ``executor.json`` into the Allure results and
  ``conformance-summary.{json,md}`` into the reports folder.

Reporting is on for a conformance run: when the run's paths are under ``suites/``, or when
``--reports-dir``/``CONFORMANCE_REPORTS_DIR`` or ``--alluredir`` is given. It then defaults
``--alluredir`` to ``<reports>/allure-results`` (cleaned at the start of the run) and
``--junitxml`` to ``<reports>/junit.xml`` when they are not given.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from session_conformance import __version__
from session_conformance.apis import API_FAMILY, API_PARAMETERS, APIS, FAMILY_NAMES, family_of_rule
from session_conformance.contracts import load_contracts, load_rules
from session_conformance.evidence import MAX_RECORD_EXCHANGES
from session_conformance.reporting.allure_labels import plan_labels
from session_conformance.reporting.coverage import below
from session_conformance.reporting.environment import contract_link_base, write_metadata
from session_conformance.reporting.masking import mask_data, mask_text, mask_url
from session_conformance.reporting.runs import new_run_dir, publish
from session_conformance.reporting.summary import (
    CheckRecord,
    Outcome,
    build_summary,
    failure_rule_of,
    write_summary,
)
from session_conformance.stcodes import found

REPORTS_ENV = "CONFORMANCE_REPORTS_DIR"
RUN_DIR_KEY = "conformance_run_dir"  # xdist workerinput key
EMBEDDED_TARGET = "embedded reference server"
REPORTER_NAME = "session-conformance-reporter"
WAIVERS_FILE = "waivers.toml"  # the run's waiver file, copied beside its summary
HAR_FILE = "exchanges.har"  # --har's file, copied beside the summary when written elsewhere


@dataclass
class _State:
    active: bool = False
    reports_dir: Path = Path("reports")
    worker: bool = False
    distributed: bool = False  # this process is an xdist controller: its tests run elsewhere
    started: str = ""
    records: dict[str, CheckRecord] = field(default_factory=dict)
    session_errors: list[str] = field(default_factory=list)
    attached: set[str] = field(default_factory=set)
    summary_lines: list[str] = field(default_factory=list)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # nodeid -> warnings of its call phase
    blocked: dict[str, str] = field(default_factory=dict)  # nodeid -> "blocked by RULE: ..."
    waived: dict[str, str] = field(default_factory=dict)  # nodeid -> "WAIVED [RULE] ... — until ...: reason"
    violated: dict[str, str] = field(default_factory=dict)  # nodeid -> "[RULE] ..." of a failed call phase
    stale: bool = False  # a waiver's rule passed (``--fail-on stale`` fails the run)
    har_line: str = ""
    run_dir: Path | None = None  # this run's own folder (reports/runs/...) when no folder was named
    published: Path | None = None  # where the newest run is published (reports/)


STATE_KEY: pytest.StashKey[_State] = pytest.StashKey()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- options and activation ----------------------------------------------------------------------


def _under_suites(config: pytest.Config) -> bool:
    """Whether the run selects the conformance suites (the checkout's or the installed package's)."""
    from session_conformance.runner import suites_dir

    folders = {(config.rootpath / "suites").resolve(), suites_dir().resolve()}
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if any(path == suites or suites in path.parents for suites in folders):
            return True
    return False


def _reports_dir(config: pytest.Config) -> tuple[Path | None, bool]:
    """The reports folder and whether the user named it (option, environment, or ``--alluredir``)."""
    base = config.invocation_params.dir
    given = config.getoption("conformance_reports_dir", None) or os.environ.get(REPORTS_ENV, "").strip()
    if given:
        return (base / given).resolve(), True
    alluredir = getattr(config.option, "allure_report_dir", None)
    if alluredir:
        results = (base / alluredir).resolve()
        return (results.parent if results.name == "allure-results" else base / "reports").resolve(), True
    return (base / "reports").resolve(), False


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    state = _State(worker=hasattr(config, "workerinput"))
    config.stash[STATE_KEY] = state
    if config.getoption("help", False) or config.getoption("collectonly", False):
        return
    reports_dir, named = _reports_dir(config)
    state.active = named or _under_suites(config)
    if not state.active or reports_dir is None:
        return
    state.started = _now()
    if not named and not getattr(config.option, "allure_report_dir", None):
        # one folder per run; xdist workers get the controller's (pytest_configure_node)
        workerinput = getattr(config, "workerinput", {})
        if RUN_DIR_KEY in workerinput:
            state.run_dir = Path(workerinput[RUN_DIR_KEY])
        else:
            state.run_dir = new_run_dir(reports_dir, _base_url())
        state.published = reports_dir
        reports_dir = state.run_dir
    state.reports_dir = reports_dir
    # xdist workers parse the command line again, so they reach the same defaults on their own.
    if not getattr(config.option, "allure_report_dir", None):
        config.option.allure_report_dir = str(reports_dir / "allure-results")
        config.option.clean_alluredir = True
    if state.worker:
        # The controller prepared the results folder; a worker cleaning it would race the others.
        config.option.clean_alluredir = False
        return
    state.distributed = bool(getattr(config.option, "numprocesses", None)) or getattr(
        config.option, "dist", "no"
    ) not in ("no", None)
    if not getattr(config.option, "xmlpath", None):
        reports_dir.mkdir(parents=True, exist_ok=True)
        config.option.xmlpath = str(reports_dir / "junit.xml")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker writes into the controller's run folder."""
    state = _state(node.config)
    if state.run_dir is not None:
        node.workerinput[RUN_DIR_KEY] = str(state.run_dir)


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = _state(session.config)
    if state.active and not session.config.pluginmanager.has_plugin(REPORTER_NAME):
        session.config.pluginmanager.register(Reporter(session.config, state), REPORTER_NAME)


def _state(config: pytest.Config) -> _State:
    return config.stash.get(STATE_KEY, None) or _State()


def _allure_on(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None))


# --- per test, where the test runs ---------------------------------------------------------------


def _item_record(item: pytest.Item) -> Any:
    try:
        from session_conformance.pytest_plugin import ITEM_RECORD
    except ImportError:
        return None
    return item.stash.get(ITEM_RECORD, None)


def _selected_apis() -> tuple[str, ...]:
    try:
        from session_conformance.pytest_plugin import current_options
    except ImportError:
        return APIS
    return tuple(current_options().apis)


def apis_of(api: str | None, selected: tuple[str, ...]) -> tuple[str, ...]:
    """The APIs a check belongs to: its own, or every selected API of its family."""
    if api in APIS:
        return (api,)
    if api in FAMILY_NAMES:
        return tuple(a for a in selected if API_FAMILY[a] == api)
    return ()


def _apis_for_rules(rules: list[str], selected: tuple[str, ...]) -> tuple[str, ...]:
    families = {fam.name for fam in map(family_of_rule, rules) if fam is not None}
    return tuple(a for a in selected if API_FAMILY[a] in families)


def _operation_ids(operations: list[str], apis: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for operation in operations:
        api, _, op_id = operation.partition(":")
        if (not op_id or api in apis) and (op_id or api) not in out:
            out.append(op_id or api)
    return out


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Labels, links and description; runs inside allure-pytest's teardown wrapper, before it reads them.

    Also names the check's API and rules as JUnit properties (read from the teardown report).
    """
    if not _state(item.config).active:
        return
    record = _item_record(item)
    if record is None:
        return
    selected = _selected_apis()
    apis = apis_of(record.api, selected) or _apis_for_rules(list(record.rules), selected)
    item.user_properties.append(("conformance.api", " ".join(apis)))
    item.user_properties.append(("conformance.rules", " ".join(record.rules)))
    if record.outcome:
        item.user_properties.append(("conformance.verdict", record.outcome))
    codes = found(record.message) if record.outcome in ("failed", "waived") else []
    if codes:  # the Schemathesis failure codes, for tools that read them
        item.user_properties.append(("conformance.schemathesis", " ".join(codes)))
    if record.outcome == "waived" and record.waiver:
        waiver = record.waiver
        item.user_properties.append(
            (
                "conformance.waiver",
                f"{waiver['rule']} until {waiver['expires']}: {waiver['reason']} ({waiver['link']})",
            )
        )
    if not _allure_on(item.config):
        return
    import allure
    from allure_pytest.utils import allure_description

    operations = _operation_ids(list(record.operations), apis)
    # A failure belongs to the rule it broke: the check's other rules were not reached, and the tree
    # must not show it red under them (the summary calls them blocked, "not reached").
    failed = record.outcome == "failed" and record.failure_rule in record.rules
    plan = plan_labels(
        apis=apis,
        operations=operations,
        rules=[record.failure_rule] if failed else list(record.rules),
        catalogue=load_rules(),
        contracts=load_contracts(),
        link_base=contract_link_base(),
    )
    for name, value in plan.labels:
        allure.dynamic.label(name, value)
    for code in codes:
        allure.dynamic.label("schemathesis", code.split(":", 1)[0])
        allure.dynamic.tag(code.split(":", 1)[0])
    has_severity = any(m.kwargs.get("label_type") == "severity" for m in item.iter_markers("allure_label"))
    if not has_severity:
        allure.dynamic.severity(allure.severity_level(plan.severity))
    for link in plan.links:
        allure.dynamic.link(link.url, link_type=link.type, name=link.name)
    if plan.description:
        own = allure_description(item) or ""
        allure.dynamic.description((str(own).strip() + "\n" if own else "") + plan.description)
    callspec = getattr(item, "callspec", None)
    if callspec is not None:  # parameters can carry identity data (provider input, known persons)
        for name, value in callspec.params.items():
            masked = mask_data(value) if isinstance(value, (str, bytes, dict, list)) else value
            if masked != value:
                allure.dynamic.parameter(name, masked)
    if len(apis) == 1 and not (callspec and (set(API_PARAMETERS) & set(callspec.params))):
        allure.dynamic.parameter("api", apis[0], excluded=True)


def _attach_evidence(data: dict[str, Any], base_url: str | None) -> None:
    import allure

    exchanges = list(data.get("exchanges") or [])[-MAX_RECORD_EXCHANGES:]
    curls = []
    for index, exchange in enumerate(exchanges, 1):
        operation = (
            exchange.get("operation")
            or f"{exchange.get('method', '')} {urlsplit(str(exchange.get('url', ''))).path}".strip()
        )
        name = f"exchange {index}/{len(exchanges)}: {operation} → HTTP {exchange.get('status')}"
        # to_dict() output is already masked; mask again so nothing unmasked can slip through here.
        allure.attach(
            mask_text(json.dumps(exchange, indent=2, ensure_ascii=False)),
            name=name,
            attachment_type=allure.attachment_type.JSON,
        )
        if exchange.get("curl"):
            curls.append(f"# {operation}\n{mask_text(str(exchange['curl']))}")
    if curls:
        allure.attach(
            "\n\n".join(curls) + "\n", name="reproduce with cURL", attachment_type=allure.attachment_type.TEXT
        )
    replay = data.get("replay")
    if replay:
        if base_url:
            replay = str(replay).replace(base_url, mask_url(base_url))
        allure.attach(
            mask_text(str(replay)) + "\n",
            name="replay this check",
            attachment_type=allure.attachment_type.TEXT,
        )


# --- per report: attachments (test process) and records (controller) -----------------------------


def _outcome(report: pytest.TestReport, data: dict[str, Any]) -> tuple[Outcome, str | None, str | None]:
    """This phase's outcome for the summary, the masked one-line reason, and the failed rule."""
    if report.passed:
        if data.get("outcome") == "warning" and report.when == "call":
            line = mask_text(str(data.get("message") or "").split("\n", 1)[0])[:500]
            return "warning", line, None
        return "passed", None, None
    message = str(data.get("message") or "")
    if not message:
        longrepr = report.longrepr
        message = str(longrepr[2]) if isinstance(longrepr, tuple) else str(report.longreprtext)
    line = mask_text(message.strip().split("\n", 1)[0])[:500]
    if report.skipped and data.get("outcome") == "blocked":
        return "blocked", line, str(data.get("failure_rule") or "") or None
    if report.skipped and data.get("outcome") == "waived":
        return "waived", line, str(data.get("failure_rule") or "") or None
    if report.skipped:
        return "skipped", line.removeprefix("Skipped: ") or "skipped", None
    rule = data.get("failure_rule") or failure_rule_of(message)
    if rule:  # a rule violation, also when a fixture met it during setup
        return "failed", line, str(rule)
    return "error", (f"{report.when}: {line}" if report.when != "call" else line), None


class Reporter:
    """The per-run hooks (registered by ``pytest_configure`` when reporting is on)."""

    def __init__(self, config: pytest.Config, state: _State) -> None:
        self.config = config
        self.state = state
        har = getattr(_options(), "har", None)
        self.har = (config.invocation_params.dir / har).resolve() if har else None
        if self.har is not None and not state.worker:
            for part in self.har.parent.glob(f"{self.har.name}.part-*"):  # left by an interrupted run
                part.unlink()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """--har: the check's exchanges, before the conformance plugin closes its exchange log."""
        if self.har is None:
            return
        from session_conformance.evidence import EXCHANGES
        from session_conformance.reporting.har import append, entries_of

        worker = str(getattr(self.config, "workerinput", {}).get("workerid", "main"))
        append(self.har, worker, entries_of(list(EXCHANGES.current or []), nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.state
        data = getattr(report, "conformance", None)
        if report.when == "call" and isinstance(data, dict) and data.get("warnings"):
            state.warnings[report.nodeid] = list(data["warnings"])
        if report.when == "call" and isinstance(data, dict) and data.get("outcome") == "blocked":
            state.blocked[report.nodeid] = str(data.get("message") or "blocked")
        if report.skipped and isinstance(data, dict) and data.get("outcome") == "waived":
            state.waived[report.nodeid] = waived_message(data)
        if report.failed and report.when == "call" and isinstance(data, dict) and data.get("failure_rule"):
            state.violated[report.nodeid] = str(data.get("message") or data["failure_rule"])
        if not state.distributed and report.when == "teardown" and _allure_on(self.config):
            _finish_allure_result(
                self.config,
                report,
                state.warnings.pop(report.nodeid, []),
                state.blocked.pop(report.nodeid, None),
                state.waived.pop(report.nodeid, None),
                state.violated.pop(report.nodeid, None),
            )
        if not isinstance(data, dict):
            return
        if (
            not state.distributed
            and (report.failed or (report.skipped and data.get("outcome") == "waived"))
            and report.nodeid not in state.attached
            and _allure_on(self.config)
        ):
            state.attached.add(report.nodeid)
            _attach_evidence(data, _base_url())
        if state.worker:
            return
        outcome, reason, rule = _outcome(report, data)
        record = state.records.get(report.nodeid)
        if record is None:
            selected = _selected_apis()
            rules = tuple(str(r) for r in data.get("rules") or ())
            apis = apis_of(data.get("api"), selected) or _apis_for_rules(list(rules), selected)
            record = CheckRecord(nodeid=report.nodeid, apis=apis, rules=rules)
            state.records[report.nodeid] = record
        record.operations = tuple(dict.fromkeys([*record.operations, *(data.get("operations") or ())]))
        record.warnings = tuple(dict.fromkeys([*record.warnings, *(data.get("warnings") or ())]))
        record.seen = tuple(sorted({*record.seen, *(data.get("seen") or ())}))
        if data.get("replay") and record.replay is None:
            record.replay = mask_text(str(data["replay"]))
        if data.get("waiver") and outcome == "waived":
            record.waiver = dict(data["waiver"])
        if outcome in ("failed", "waived"):
            record.schemathesis = tuple(found(str(data.get("message") or "")))
        record.merge(outcome, reason, rule)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and not self.state.worker:
            self.state.session_errors.append(f"collection error in {report.nodeid or 'the session'}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.har is not None and not self.state.worker:
            from session_conformance.reporting.har import join

            count = join(self.har)
            if self.har.parent != self.state.reports_dir.resolve():  # a package takes the run folder's
                shutil.copyfile(self.har, self.state.reports_dir / HAR_FILE)
            self.state.har_line = f"HAR: {self.har} ({count} exchanges, masked)"
        short = not self.state.worker and write_reports(self.config, self.state, exitstatus)
        fail_stale = self.state.stale and getattr(_options(), "fail_on_stale", False)
        if (short or fail_stale) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # after junitxml has written its file (its own unconfigure), the run is complete: publish it
        state = self.state
        if not state.worker and state.run_dir is not None and state.published is not None:
            publish(state.published, state.run_dir)

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.state.summary_lines:
            terminalreporter.write_sep("-", "conformance verdicts")
            for line in self.state.summary_lines:
                terminalreporter.write_line(line)


def _safe(text: str) -> str:
    """Masked, and writable as UTF-8 (the suites send lone surrogates on purpose; allure-pytest would
    crash writing them)."""
    return mask_text(text).encode("utf-8", "backslashreplace").decode("utf-8")


def waived_message(data: dict[str, Any]) -> str:
    """``WAIVED [RULE] failure — until DATE: reason (link)``: what Allure and its category show."""
    waiver = data.get("waiver") or {}
    first = str(data.get("message") or "").strip().split("\n", 1)[0][:500]
    until = f"waiver until {waiver.get('expires')}: {waiver.get('reason')} ({waiver.get('link')})"
    return f"WAIVED {first} — {until}"


def _finish_allure_result(
    config: pytest.Config,
    report: pytest.TestReport,
    warnings: list[str],
    blocked: str | None,
    waived: str | None = None,
    violated: str | None = None,
) -> None:
    """Last pass over the test's Allure result before allure-pytest writes it: every text that came
    from the test (message, trace, parameters) goes through the redaction module once more.

    pytest's long tracebacks show argument values, e.g. the unmasked message handed to ``expect``;
    allure-pytest copies the trace before the conformance plugin masks the pytest report.
    """
    listener = config.pluginmanager.get_plugin("allure_listener")
    result = listener.allure_logger.get_test(None) if listener is not None else None
    if result is None:
        return
    details = result.statusDetails
    if details is not None:
        details.message = _safe(details.message) if details.message else details.message
        details.trace = _safe(details.trace) if details.trace else details.trace
    for parameter in result.parameters:
        if isinstance(parameter.value, str):
            parameter.value = _safe(parameter.value)
    # allure-pytest derives both IDs from the function and its pytest parameters, which Schemathesis
    # cases of one function share (Allure then folds them into one test and calls the rest retries);
    # the node ID is unique per case and stable across runs, so history and trends keep working.
    from allure_commons.utils import md5

    result.historyId = md5(report.nodeid)
    result.testCaseId = md5(report.nodeid)
    if violated is not None and result.status == "broken":
        # a rule's violation inside Hypothesis' group (a flaky replay, one that met a transport fault):
        # allure-pytest calls what is not an AssertionError broken; the verdict is the rule's failure
        from allure_commons.model2 import StatusDetails

        trace = result.statusDetails.trace if result.statusDetails is not None else None
        result.status = "failed"
        result.statusDetails = StatusDetails(message=_safe(violated.split("\n", 1)[0][:2000]), trace=trace)
    if blocked is not None:  # allure-pytest saw the precondition's exception: the check did not fail
        from allure_commons.model2 import Label, StatusDetails

        result.status = "skipped"
        result.statusDetails = StatusDetails(message=_safe(blocked))
        result.labels.append(Label(name="tag", value="verdict:blocked"))
    if waived is not None:  # a known defect: skipped for the gate, its own label and category
        from allure_commons.model2 import Label, StatusDetails

        trace = result.statusDetails.trace if result.statusDetails is not None else None
        result.status = "skipped"
        result.statusDetails = StatusDetails(message=_safe(waived), trace=trace)
        result.labels.append(Label(name="tag", value="verdict:waived"))
        result.labels.append(Label(name="verdict", value="waived"))
    if warnings and result.status == "passed":  # a warning: passed for pytest, named as such in Allure
        from allure_commons.model2 import Label, StatusDetails

        result.labels.append(Label(name="tag", value="verdict:warning"))
        result.statusDetails = StatusDetails(message=_safe("WARNING " + "\n".join(warnings)))
    result.name = _safe(result.name or "")


def _base_url() -> str | None:
    try:
        from session_conformance.pytest_plugin import current_options
    except ImportError:
        return None
    return current_options().base_url


# --- session end, in the controller --------------------------------------------------------------


def _options() -> Any:
    try:
        from session_conformance.pytest_plugin import current_options
    except ImportError:
        return None
    return current_options()


def _waivers() -> list[dict[str, Any]]:
    try:
        from session_conformance.pytest_plugin import current_waivers
    except ImportError:
        return []
    return [w.to_dict() for w in current_waivers()]


def run_info() -> dict[str, Any]:
    """What the summary records about the run beyond its verdicts (for ``package``'s manifest)."""
    from session_conformance.reporting.runinfo import describe_run

    try:
        from session_conformance.pytest_plugin import run_seed
    except ImportError:
        return {}
    return describe_run(_options(), run_seed())


def environment_values(target: str) -> dict[str, object]:
    try:
        from session_conformance.pytest_plugin import current_options, run_seed

        options: Any = current_options()
        seed: object = run_seed()
    except ImportError:
        options, seed = None, None
    contracts = load_contracts()
    values: dict[str, object] = {
        "target": target,
        "apis": ",".join(_selected_apis()),
        "profile": options.profile.name if options is not None else "",
        "suite.version": __version__,
        "contracts.digest": contracts.digest(),
        "strict.properties": str(bool(getattr(options, "strict", False))).lower(),
        "read.only": str(bool(getattr(options, "read_only", False))).lower(),
        "hypothesis.seed": seed,
        "python": platform.python_version(),
    }
    faults = getattr(options, "server_faults", None)
    if faults:
        values["embedded.server.faults"] = ",".join(faults)
    rules = getattr(options, "rules", None)
    if rules:
        values["rules.selected"] = ",".join(sorted(rules))
    return values


def _target() -> str:
    base_url = _base_url()
    return mask_url(base_url) if base_url else EMBEDDED_TARGET


def write_reports(config: pytest.Config, state: _State, exitstatus: int) -> bool:
    """Allure metadata files and the conformance summary (controller only); True when coverage is short."""
    target = _target()
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        state.session_errors.append("the run was interrupted")
    try:
        from session_conformance.pytest_plugin import current_options

        options: Any = current_options()
    except ImportError:
        options = None
    summary = build_summary(
        rules=load_rules(),
        apis=_selected_apis(),
        records=state.records.values(),
        target=target,
        started=state.started,
        finished=_now(),
        suite_version=__version__,
        contracts_digest=load_contracts().digest(),
        profile=options.profile.name if options is not None else "",
        session_errors=state.session_errors,
        selected_rules=getattr(options, "rules", None),
        waivers=_waivers(),
        run=run_info(),
    )
    state.stale = any(w["status"] == "stale" for w in summary["waivers"])
    if getattr(options, "waivers", None):  # the file the verdicts were judged with goes with them
        _copy_waivers(Path(options.waivers), state.reports_dir)
    _json_path, md_path = write_summary(summary, state.reports_dir)
    if _allure_on(config):  # the report's Environment panel also shows what the run covered
        base = config.invocation_params.dir
        values = environment_values(target)
        for api, figures in summary["coverage"].items():
            values[f"coverage.{api}"] = ", ".join(
                f"{name} {f['exercised']}/{f['total']} ({f['percent']}%)" for name, f in figures.items()
            )
        write_metadata((base / config.option.allure_report_dir).resolve(), values)
    state.summary_lines = verdict_lines(summary)
    for api, figures in summary["coverage"].items():
        state.summary_lines.append(
            f"{api} coverage: "
            + ", ".join(
                f"{name} {f['exercised']}/{f['total']} ({f['percent']}%)" for name, f in figures.items()
            )
        )
    minimum = getattr(options, "min_coverage", None)
    short = below(summary["coverage"], minimum) if minimum is not None else []
    state.summary_lines.extend(f"coverage below --min-coverage: {line}" for line in short)
    if state.stale and getattr(options, "fail_on_stale", False):
        state.summary_lines.append(
            "--fail-on stale: the run fails, a waiver's rule passed (remove the waiver)"
        )
    if state.har_line:
        state.summary_lines.append(state.har_line)
    state.summary_lines.append(f"summary: {md_path}")
    return bool(short)


def _copy_waivers(source: Path, reports_dir: Path) -> None:
    reports_dir.mkdir(parents=True, exist_ok=True)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError:
        return
    (reports_dir / WAIVERS_FILE).write_text(mask_text(text), encoding="utf-8")


def verdict_lines(summary: dict[str, Any]) -> list[str]:
    """The console's verdict block: per API its verdict and counts, each failed or warned rule by name."""
    lines: list[str] = []
    for api, details in summary["per_api"].items():
        counts = details["rules"]
        lines.append(
            f"{api}: {details['verdict']} — {details['reason']} "
            f"[rules: {counts['passed']} passed, {counts['warning']} warning, {counts['failed']} failed, "
            f"{counts.get('waived', 0)} waived, {counts['blocked']} blocked, {counts['error']} error, "
            f"{counts['skipped']} not checked]"
        )
        for rule in summary["rules"]:
            if rule["api"] == api and rule["verdict"] in ("failed", "error", "waived", "warning"):
                codes = " ".join(f"[{c['code']} {c['severity']}]" for c in rule.get("schemathesis", ()))
                statement = rule["statement"][:110] + (f" {codes}" if codes else "")
                lines.append(f"  {rule['verdict'].upper():8} {rule['id']:8} {statement}")
                waiver = rule.get("waiver")
                if waiver:
                    until = f"waived until {waiver['expires']}: {waiver['reason']} ({waiver['link']})"
                    lines.append(f"  {'':8} {'':8} {until}")
    for waiver in summary.get("waivers", ()):
        if waiver["status"] != "applied":
            scope = f" {waiver['api']}" if waiver.get("api") else ""
            status = waiver["status"].upper()
            lines.append(f"waiver {waiver['entry']} ({waiver['rule']}{scope}) {status}: {waiver['why']}")
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """A waived failure is its own category in pytest's tally ("1 waived"), neither failed nor passed."""
    data = getattr(report, "conformance", None)
    waived = isinstance(data, dict) and data.get("outcome") == "waived" and report.skipped
    if waived and report.when in ("setup", "call"):
        return "waived", "w", ("WAIVED", {"yellow": True})
    return None
