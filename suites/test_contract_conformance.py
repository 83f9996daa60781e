"""Generated requests against every documented operation of every selected API (Schemathesis).

- positive requests (valid per the contract) get a documented status, with a body matching that
  status's schema and media type;
- negative requests (one documented constraint broken) are rejected with a 4xx in the API's error
  shape;
- no input ever yields a 5xx (Zitadel's documented 501 for an empty user check excepted).

Every failure names a rule ID (mapping in ``session_conformance.generic`` and docs/decisions/suite.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from session_conformance.config import Target
from session_conformance.generic import (
    ALL_GENERIC_RULES,
    NEGATIVE_CHECKS,
    POSITIVE_CHECKS,
    SESSION_POOL,
    api_of,
    call,
    coverage_cases,
    create_real_sessions,
    find_operation,
    judged_negative,
    raise_violations,
    requests_of,
    schemas_for,
    undocumented_method_is_write,
    undocumented_method_violations,
    violations_for,
)
from session_conformance.http import ConformanceClient
from session_conformance.pytest_plugin import current_options, run_seed

POSITIVE = schemas_for(current_options(), run_seed(), mode="positive")
NEGATIVE = schemas_for(current_options(), run_seed(), mode="negative")
if not POSITIVE:
    pytest.skip(
        "no selected API has contracts, or --rules names no rule these checks report", allow_module_level=True
    )


@pytest.fixture(scope="module")
def real_sessions(client: ConformanceClient, target: Target) -> dict[str, list[str]]:
    """A few real sessions per API, so generated path parameters also reach the success paths."""
    pool = {} if target.read_only else create_real_sessions(client, target.apis)
    SESSION_POOL.clear()
    SESSION_POOL.update(pool)
    return pool


@pytest.fixture
def coverage_sent_ahead(
    request: pytest.FixtureRequest, client: ConformanceClient, target: Target
) -> Iterator[None]:
    """Across a network, the coverage phase's requests (all known before the check starts) are sent a
    few at a time ahead of the examples that judge them (``ahead.py``); on loopback, one at a time."""
    cases = coverage_cases(request.node.obj)
    with client.sending_ahead(requests_of(cases, client, read_only=target.read_only)):
        yield


def _run(case: Any, client: ConformanceClient, target: Target, *, negative: bool) -> None:
    api = api_of(case)
    op = find_operation(api, case)
    if op is None:
        _run_undocumented_method(case, client, target, api)
        return
    exchange = call(case, client)
    if exchange.operation != op.key:
        return  # the generated path reached another operation (e.g. sessionId "list"): not this one's input
    # Only genuinely invalid input is judged as negative (Schemathesis' case.meta; Zitadel reads a
    # whitespace-only body as an empty one).
    negative = negative and judged_negative(api, case, exchange)
    problems = violations_for(
        case,
        exchange,
        api,
        checks=NEGATIVE_CHECKS if negative else POSITIVE_CHECKS,
        strict=target.strict,
        negative=negative,
    )
    kind = "negative" if negative else "positive"
    raise_violations(
        problems,
        exchange,
        only=target.rules,
        context=f"{kind} request to {api} {op.operation_id}",
    )


def _run_undocumented_method(case: Any, client: ConformanceClient, target: Target, api: str) -> None:
    """Coverage phase: a method the contracts do not document on a documented path (TRN-X01 / ZTD-R04)."""
    if target.read_only and undocumented_method_is_write(case):
        return  # never send a write method under --read-only, even an undocumented one
    exchange = call(case, client)
    if exchange.operation is not None:
        return  # the path matched another documented operation with this method
    problems = undocumented_method_violations(api, case, exchange, strict=target.strict)
    raise_violations(
        problems,
        exchange,
        only=target.rules,
        context=f"undocumented method {case.method} on {api} {case.path}",
    )


@schemathesis.pytest.parametrize(**POSITIVE)
@pytest.mark.rules(*ALL_GENERIC_RULES)
def test_positive_requests_conform(
    case: Any,
    client: ConformanceClient,
    target: Target,
    real_sessions: dict[str, list[str]],
    coverage_sent_ahead: None,
) -> None:
    _run(case, client, target, negative=False)


@schemathesis.pytest.parametrize(**NEGATIVE)
@pytest.mark.rules(*ALL_GENERIC_RULES)
def test_negative_requests_are_rejected(
    case: Any, client: ConformanceClient, target: Target, coverage_sent_ahead: None
) -> None:
    _run(case, client, target, negative=True)
