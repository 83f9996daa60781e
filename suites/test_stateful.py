"""Stateful conformance: Schemathesis chains calls along OpenAPI links derived from the contracts.

Trinsic: create (widget / hosted / advanced) → get, cancel, redact, results, step refresh.
Zitadel: create → get (with its session token), set, delete (with its token), search by ID.
Every response is checked like the generated single requests, plus the stateful checks
(``use_after_free``: a deleted session is gone, ZTD-R50; ``ensure_resource_availability``: a created
session can be read, ZTD-R63 / TRN-R37).
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis

from session_conformance.apis import APIS
from session_conformance.config import Target
from session_conformance.contracts import load_contracts
from session_conformance.evidence import Exchange
from session_conformance.generic import (
    ALL_GENERIC_RULES,
    STATEFUL_CHECKS,
    call,
    generic_rules_selected,
    load_schema,
    raise_violations,
    violations_for,
)
from session_conformance.http import ConformanceClient
from session_conformance.pytest_plugin import current_options, run_seed
from session_conformance.verdict import RuleViolation


def _has_links(schema: Any) -> bool:
    return any(
        "links" in response
        for item in schema.raw_schema.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
    )


def _machine(api: str) -> Any:
    """The state machine class of one API, or None when its contracts give no links yet."""
    if not load_contracts().for_api(api):
        return None
    schema = load_schema(api, current_options(), run_seed(), stateful=True)
    if not _has_links(schema):
        return None
    base = schema.as_state_machine()

    class Machine(base):  # type: ignore[misc, valid-type]
        client: ConformanceClient
        target: Target
        last: Exchange | None = None

        def call(self, case: Any, **kwargs: Any) -> schemathesis.Response:
            exchange = call(case, self.client)
            self.last = exchange
            assert exchange.raw is not None
            return schemathesis.Response.from_any(exchange.raw)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            assert self.last is not None
            try:
                self._judge(case)
            except RuleViolation as violation:
                FIRST_VIOLATION.setdefault(api, violation)
                raise

        def _judge(self, case: Any) -> None:
            assert self.last is not None
            problems = violations_for(
                case,
                self.last,
                api,
                checks=STATEFUL_CHECKS,
                strict=self.target.strict,
                negative=False,
                recorder=self.recorder,
            )
            raise_violations(
                problems,
                self.last,
                only=self.target.rules,
                context=f"stateful step {case.method} {case.path} of {api}",
            )

    Machine.__name__ = f"{api.replace('-', '_')}_machine"
    return Machine


FIRST_VIOLATION: dict[str, RuleViolation] = {}  # per API, the run's first violation (kept over replays)

MACHINES = (
    {api: _machine(api) for api in current_options().apis}
    if generic_rules_selected(current_options())
    else {}
)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.rules(*ALL_GENERIC_RULES)
@pytest.mark.needs("writes")
def test_linked_calls_conform(api: str, client: ConformanceClient, target: Target) -> None:
    machine = MACHINES.get(api)
    if machine is None:
        pytest.skip(f"no stateful links: the {api} contracts define no create operation with a sessionId yet")
    machine.client = client
    machine.target = target
    profile = target.profile
    settings = hypothesis.settings(
        max_examples=profile.stateful_examples,
        stateful_step_count=profile.stateful_steps,
        deadline=None,
        derandomize=False,
        print_blob=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    FIRST_VIOLATION.pop(api, None)
    try:
        machine.run(settings=settings)
    except hypothesis.errors.HypothesisException:
        # A live target's state changes between Hypothesis' replays ("inconsistent data generation",
        # flaky): the defect is the violation first seen, not an error of the suite.
        if api in FIRST_VIOLATION:
            raise FIRST_VIOLATION[api] from None
        raise
