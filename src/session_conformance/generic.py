"""Schemathesis glue for the generic suites: schemas per API and mode, calls through our client, and
Schemathesis check failures mapped to rule IDs.

Check → rule mapping (each family's ``generic_rule``; the table is in docs/decisions/suite.md):

- ``not_a_server_error``: Trinsic TRN-R04 (positive) / TRN-X01 (negative);
  Zitadel ZTD-R04 (positive) / ZTD-R09 or ZTD-R10 (negative);
- ``negative_data_rejection``: TRN-X01; ZTD-R09 (wrong type or format) / ZTD-R10 (a constraint);
- ``status_code_conformance``, ``content_type_conformance``, ``response_schema_conformance``:
  ``checks.response_rule`` (as the contract check);
- ``use_after_free``: ZTD-R50; ``ensure_resource_availability``: TRN-R51 / ZTD-R63;
- our contract check (``checks.contract_violations``): TRN-R04/R02/R03/R42, ZTD-R02/R03/R07/R08/R01/R04.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from session_conformance import casecache
from session_conformance.apis import FAMILIES, family
from session_conformance.checks import contract_violations, response_rule
from session_conformance.config import Options, Profile
from session_conformance.contracts import (
    API_TITLES,
    WRITE_OPERATIONS,
    Operation,
    load_contracts,
    load_rules,
    openapi_document,
)
from session_conformance.evidence import Exchange
from session_conformance.http import ConformanceClient
from session_conformance.links import SESSION_PATH_PARAMETERS, add_links
from session_conformance.redaction import redact_text
from session_conformance.retry import TransportFault
from session_conformance.stcodes import tag
from session_conformance.verdict import RuleViolation, warn

CheckFunction = Callable[..., Any]
POSITIVE_CHECKS: tuple[CheckFunction, ...] = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)
NEGATIVE_CHECKS: tuple[CheckFunction, ...] = (*POSITIVE_CHECKS, negative_data_rejection)
STATEFUL_CHECKS: tuple[CheckFunction, ...] = (*POSITIVE_CHECKS, use_after_free, ensure_resource_availability)

# Every rule a generic check can report (for the tests' `rules` markers): the families' lists.
ALL_GENERIC_RULES = tuple(rule for fam in FAMILIES for rule in fam.generic_rules)

# Session IDs of real sessions per API; positive cases draw path parameters from them.
SESSION_POOL: dict[str, list[str]] = {}


def schemathesis_config(
    profile: Profile, seed: int, *, mode: str, api: str, stateful: bool = False
) -> schemathesis.Config:
    """The Schemathesis configuration of one generic test: budget, mode, phases, checks."""
    expected_5xx = ["2xx", "3xx", "4xx", *family(api).documented_5xx]
    generation = {
        "mode": mode,
        "max-examples": profile.max_examples,
        "with-security-parameters": False,
        "deterministic": False,
    }
    return schemathesis.Config.from_dict(
        {
            "seed": seed,
            "generation": generation,
            "phases": {
                # explicit examples are valid input: the positive test sends them, the negative one not
                "examples": {"enabled": not stateful and mode == "positive"},
                "coverage": {"enabled": profile.coverage_phase and not stateful},
                "fuzzing": {"enabled": not stateful},
                "stateful": {
                    "enabled": stateful,
                    "max-steps": profile.stateful_steps,
                    # Only the links of links.py (create -> operations on that session). Inferred links
                    # (e.g. list/search results -> get/delete) take their values from answers that
                    # depend on every session the run has created so far, so the same Hypothesis
                    # choices would draw differently on replay (FlakyStrategyDefinition).
                    "inference": {"algorithms": []},
                },
            },
            "checks": {"not_a_server_error": {"expected-statuses": expected_5xx}},
            "output": {"sanitization": {"enabled": True}},
        }
    )


def load_schema(
    api: str, options: Options, seed: int, *, mode: str = "positive", stateful: bool = False
) -> Any:
    """The OpenAPI document of ``api`` (with derived links) as a Schemathesis schema."""
    document = add_links(openapi_document(api))
    config = schemathesis_config(options.profile, seed, mode=mode, stateful=stateful, api=api)
    schema = casecache.install(schemathesis.openapi.from_dict(document, config=config))
    if mode == "positive" and not stateful:
        schema.hook("flatmap_path_parameters")(_real_session_ids(api))
    return schema


def _real_session_ids(api: str) -> Callable[..., Any]:
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        pool = SESSION_POOL.get(api) or []
        if not path_parameters:
            return st.just(path_parameters)
        names = [name for name in SESSION_PATH_PARAMETERS if name in path_parameters]
        if not pool or not names:
            return st.just(path_parameters)
        choices = [path_parameters[names[0]], *pool]
        return st.sampled_from(choices).map(lambda value: {**path_parameters, **dict.fromkeys(names, value)})

    return flatmap_path_parameters


def operation_of(api: str, case: Any) -> Operation:
    return load_contracts().find(api, case.method, case.path)


def find_operation(api: str, case: Any) -> Operation | None:
    """The contract operation of a case, or None for a method the contracts do not document on its path
    (Schemathesis' coverage phase sends those: ``Unspecified HTTP method``)."""
    try:
        return operation_of(api, case)
    except KeyError:
        return None


def is_negative(case: Any) -> bool:
    """Whether Schemathesis generated the case as invalid input (``case.meta``); explicit examples and
    other positive cases of a negative test are not."""
    return case_mode(case) == "negative"


_JSON_WHITESPACE = b" \t\r\n"


def _negative_locations(case: Any) -> set[str]:
    components = getattr(getattr(case, "meta", None), "components", None) or {}
    return {
        str(getattr(location, "value", location))
        for location, info in components.items()
        if str(getattr(info.mode, "value", info.mode)) == "negative"
    }


def judged_negative(api: str, case: Any, exchange: Exchange) -> bool:
    """Whether the request that was sent is genuinely invalid input.

    Schemathesis' own mode (``case.meta``) decides, with one correction: Zitadel (like grpc-gateway,
    whose JSON decoder reports EOF for it) reads an empty or whitespace-only body as an empty message,
    i.e. ``{}`` with every field unset (docs/decisions/zitadel-server.md). Such a body is invalid only
    when ``{}`` is, or when another part of the request is the broken one.
    """
    if not is_negative(case):
        return False
    if not family(api).reads_empty_body_as_empty_message(api) or exchange.request_body.strip(
        _JSON_WHITESPACE
    ):
        return True
    op = operation_of(api, case)
    if op.request_body == "none" or not op.has_def("requestBody"):
        return True
    if _negative_locations(case) - {"body"}:
        return True
    return bool(load_contracts().validate(op, "requestBody", {}))


# The answers an undocumented method on a documented path may get (each family says which error code).
UNDOCUMENTED_METHOD_STATUSES = (405, 404)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def undocumented_method_is_write(case: Any) -> bool:
    return str(case.method).upper() in _WRITE_METHODS


def undocumented_method_violations(
    api: str, case: Any, exchange: Exchange, *, strict: bool
) -> list[tuple[str, str]]:
    """A method the contracts do not document on a documented path: 405 (or 404) in the API's error
    shape — Trinsic TRN-X01 (ProblemDetails), Zitadel ZTD-R04 (``rpcStatus``, code 12 / 5)."""
    contracts = load_contracts()
    fam = family(api)
    rule = fam.undocumented_method_rule(api)
    method, status = str(case.method).upper(), exchange.status
    label = f"undocumented method {method} {case.path} answered {status}"
    if status not in UNDOCUMENTED_METHOD_STATUSES:
        return [(rule, f"{label}; expected 405 (or 404) in the API's error shape")]
    same_path = [op for op in contracts.for_api(api) if op.path == case.path]
    if not same_path:
        return []
    op = same_path[0]
    if not fam.transport_answer_has_body(api, status):
        return (
            [(rule, f"{label} with a body; this transport answers it without one")] if exchange.body else []
        )
    try:
        body = exchange.json()
    except (ValueError, RecursionError):
        return [(rule, f"{label} with a body that is not JSON")]
    problems = [
        (rule, f"{label}: {redact_text(message)}")
        for message in contracts.validate(op, fam.error_def, body, strict=strict)
    ]
    expected = fam.error_code_of(api, status)
    if expected is not None and isinstance(body, dict) and "code" in body and body["code"] != expected:
        problems.append((rule, f"{label} with error code {body['code']!r}; expected {expected}"))
    return problems


def is_write(api: str, case: Any) -> bool:
    return operation_of(api, case).key in WRITE_OPERATIONS


def rule_for_check(
    check: str, api: str, op: Operation, status: int, *, negative: bool, description: str | None = None
) -> str:
    """The rule a failed Schemathesis check breaks: the family's table, else as a contract difference."""
    rule = family(api).generic_rule_of(api, check, negative=negative, description=description)
    if rule is not None:
        return rule
    kind = {"status_code_conformance": "status", "content_type_conformance": "content_type"}.get(
        check, "body"
    )
    return response_rule(api, op, status, kind=kind)


_CHECK_ATTRIBUTE = "_conformance_check"
_NAMED: dict[CheckFunction, CheckFunction] = {}


def _named(check: CheckFunction) -> CheckFunction:
    """The check, wrapped so that each failure it raises names it (Schemathesis groups them unnamed)."""
    if check not in _NAMED:

        @functools.wraps(check)
        def named(ctx: Any, response: Any, case: Any) -> bool | None:
            try:
                return check(ctx, response, case)
            except FailureGroup as group:
                for failure in group.exceptions:
                    setattr(failure, _CHECK_ATTRIBUTE, check.__name__)
                raise
            except Failure as failure:
                setattr(failure, _CHECK_ATTRIBUTE, check.__name__)
                raise

        _NAMED[check] = named
    return _NAMED[check]


def _check_name(failure: Failure, default: str) -> str:
    checks = type(failure).checks
    return checks[0] if checks else default


def _judged_by_rule(check: str, case: Any) -> bool:
    """Whether a failed Schemathesis check is a finding for its rule.

    ``ensure_resource_availability`` flags any 404 after a create; its rules (TRN-R51, ZTD-R63) are about
    reading the created session, and a 404 of another operation may be documented and about something
    else (Zitadel SetSession: an unknown user in ``checks``).
    """
    if check == "ensure_resource_availability":
        return str(case.method).upper() == "GET"
    return True


def _description(case: Any) -> str | None:
    meta = getattr(case, "meta", None)
    data = getattr(getattr(meta, "phase", None), "data", None)
    return getattr(data, "description", None)


def violations_for(
    case: Any,
    exchange: Exchange,
    api: str,
    *,
    checks: Sequence[CheckFunction],
    strict: bool,
    negative: bool,
    recorder: Any = None,
) -> list[tuple[str, str]]:
    """Run each Schemathesis check and our contract check; every failure as ``(rule, message)``."""
    op = operation_of(api, case)
    assert exchange.raw is not None
    problems: list[tuple[str, str]] = []
    try:
        # One call for all checks: each call resolves the operation's configuration and builds a check
        # context, which cost more than the checks themselves. The failures carry their check's name.
        case.validate_response(exchange.raw, checks=[_named(check) for check in checks], recorder=recorder)
    except FailureGroup as group:
        for failure in group.exceptions:
            name = getattr(failure, _CHECK_ATTRIBUTE, None) or _check_name(failure, "unknown check")
            if not _judged_by_rule(name, case):
                continue
            rule = rule_for_check(
                name, api, op, exchange.status, negative=negative, description=_description(case)
            )
            detail = failure.message if len(failure.message) <= 600 else failure.message[:600] + " ..."
            # the Schemathesis code and severity travel in the message, into every view (stcodes.py)
            code = tag(failure.code, failure.severity)
            text = f"{name} {code}: {failure.title}" + (f" — {detail}" if detail else "")
            problems.append((rule, redact_text(text)))
    problems.extend(contract_violations(load_contracts(), exchange, op, strict=strict))
    return problems


@functools.cache
def warning_rules() -> frozenset[str]:
    """The rules whose breach is a warning (``fails_at: warning`` in ``contracts/rules.json``)."""
    return frozenset(rule_id for rule_id, rule in load_rules().items() if rule.get("fails_at") == "warning")


def raise_violations(
    problems: list[tuple[str, str]], exchange: Exchange, *, only: frozenset[str] | None, context: str
) -> None:
    """Raise one ``RuleViolation`` naming the first rule (all problems listed); honours ``--rules``.

    Problems of rules that fail at ``warning`` are recorded as warnings instead (``verdict.warn``).
    """
    if only is not None:
        problems = [(rule, message) for rule, message in problems if rule in only]
    seen: list[tuple[str, str]] = []
    for problem in problems:
        if problem not in seen:
            seen.append(problem)
    # A rule that fails at `warning` (the suite's reading of an inferred fact) is warned, the check goes on
    levels = warning_rules()
    for rule, message in [p for p in seen if p[0] in levels]:
        warn(rule, False, f"{context}: {message}", evidence=exchange)
    seen = [p for p in seen if p[0] not in levels]
    if not seen:
        return
    rule = seen[0][0]
    lines = [message for r, message in seen if r == rule]
    others = [f"[{r}] {message}" for r, message in seen if r != rule]
    text = f"{context}: " + "; ".join(lines)
    if others:
        text += "\nalso: " + "\n      ".join(others)
    raise RuleViolation(rule, text, evidence=exchange)


def call(case: Any, client: ConformanceClient) -> Exchange:
    """Send a generated case through our client (auth, timeouts, 429 handling, recording, cleanup)."""
    kwargs = case.as_transport_kwargs(base_url=client.base_url)
    return client.send_prepared(kwargs)


def requests_of(
    cases: Iterable[Any], client: ConformanceClient, *, read_only: bool
) -> Iterator[dict[str, Any]]:
    """The requests ``call`` will send for these cases, in order (for ``client.sending_ahead``).

    As the checks decide: under ``--read-only`` a write method the contracts do not document is never
    sent (the client itself refuses documented writes). Lazy: nothing is built when nothing is sent ahead.
    """
    for case in cases:
        if read_only and find_operation(api_of(case), case) is None and undocumented_method_is_write(case):
            continue
        yield case.as_transport_kwargs(base_url=client.base_url)


def coverage_cases(test: Any) -> list[Any]:
    """The cases of a Schemathesis test's coverage phase (its explicit examples), in the order they run."""
    examples = getattr(test, "hypothesis_explicit_examples", ())
    return [example.kwargs["case"] for example in reversed(examples) if "case" in example.kwargs]


def case_mode(case: Any) -> str:
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return str(getattr(mode, "value", mode or "positive"))


def schemas_for(options: Options, seed: int, *, mode: str) -> Mapping[str, Any]:
    """Schemas of the selected APIs that have contracts; none when ``--rules`` names no generic rule.

    (An API without operations would break Schemathesis' collection; loading only what runs keeps
    collection fast.)
    """
    if not generic_rules_selected(options):
        return {}
    contracts = load_contracts()
    return {api: load_schema(api, options, seed, mode=mode) for api in options.apis if contracts.for_api(api)}


def generic_rules_selected(options: Options) -> bool:
    return options.rules is None or bool(options.rules & set(ALL_GENERIC_RULES))


_TITLES = {title: api for api, (title, _) in API_TITLES.items()}


def api_of(case: Any) -> str:
    """The API a generated case belongs to (from its schema's title)."""
    return _TITLES[case.operation.schema.raw_schema["info"]["title"]]


def create_real_sessions(
    client: ConformanceClient, apis: Sequence[str], per_api: int = 2
) -> dict[str, list[str]]:
    """Create a few sessions per API (ended by the cleanup) so that generated IDs can hit real ones.

    A create the network lost is tried once more, then left out: the pool is an aid that judges nothing,
    and as a module fixture its error would be kept for every check of the module. (The run's cleanup
    lines name each create whose answer was lost.)
    """
    pool: dict[str, list[str]] = {}
    for api in apis:
        path = family(api).create_path(api)
        ids: list[str] = []
        for _ in range(per_api):
            exchange = None
            for _try in range(2):
                with contextlib.suppress(TransportFault):
                    exchange = client.post(path, json={})
                    break
            if exchange is None:
                continue
            body = exchange.json_or_none()
            if (
                200 <= exchange.status < 300
                and isinstance(body, dict)
                and isinstance(body.get("sessionId"), str)
            ):
                ids.append(body["sessionId"])
        pool[api] = ids
    return pool
