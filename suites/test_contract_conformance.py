"""Generated requests against every documented operation of every selected API (Schemathesis).

- positive requests (valid per the contract) get a documented status, with a body matching that
  status's schema and media type;
- negative requests (one documented constraint broken) are rejected with a 4xx in the API's error
  shape;
- no input ever yields a 5xx (Zitadel's documented 501 for an empty user check excepted).

Every failure names a rule ID (mapping in ``session_conformance.generic`` and docs/decisions/suite.md).
"""

from __future__ import annotations

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
    create_real_sessions,
    operation_of,
    raise_violations,
    schemas_for,
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


def _run(case: Any, client: ConformanceClient, target: Target, *, negative: bool) -> None:
    api = api_of(case)
    exchange = call(case, client)
    if exchange.operation != operation_of(api, case).key:
        return  # the generated path reached another operation (e.g. sessionId "list"): not this one's input
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
        context=f"{kind} request to {api} {operation_of(api, case).operation_id}",
    )


@schemathesis.pytest.parametrize(**POSITIVE)
@pytest.mark.rules(*ALL_GENERIC_RULES)
def test_positive_requests_conform(
    case: Any, client: ConformanceClient, target: Target, real_sessions: dict[str, list[str]]
) -> None:
    _run(case, client, target, negative=False)


@schemathesis.pytest.parametrize(**NEGATIVE)
@pytest.mark.rules(*ALL_GENERIC_RULES)
def test_negative_requests_are_rejected(case: Any, client: ConformanceClient, target: Target) -> None:
    _run(case, client, target, negative=True)
