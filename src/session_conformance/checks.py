"""Contract checks: every way a response differs from its contract, as ``(rule, message)`` pairs.

Plain functions over an ``Exchange`` and its contract operation; which rule a difference breaks is the
API family's answer (``ApiFamily.response_rule``, ``ApiFamily.generic_rule``).

Rule mapping of ``check_contract`` (also in docs/decisions/suite.md):

| API | response | rule |
|---|---|---|
| Trinsic | 2xx status not documented, 2xx body / content type not as documented | TRN-R04 |
| Trinsic | a value outside its enum (any response) | TRN-R42 |
| Trinsic | 401 / 403 not as documented | TRN-R02 |
| Trinsic | any other error status not documented, error body not ProblemDetails | TRN-R03 |
| Zitadel | create answers other than 201 on success | ZTD-R02 |
| Zitadel | other operations' success status not 200 | ZTD-R03 |
| Zitadel | a `null` anywhere in a success body | ZTD-R08 |
| Zitadel | 2xx body / content type not as documented (names, int64 strings, formats, enums) | ZTD-R07 |
| Zitadel | 401 status or body not as documented | ZTD-R01 |
| Zitadel | any other error status not documented, error body not `rpcStatus` | ZTD-R04 |
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema

from session_conformance.apis import family
from session_conformance.contracts import Contracts, Operation, is_create
from session_conformance.evidence import Exchange
from session_conformance.redaction import redact_text
from session_conformance.verdict import RuleViolation


def response_rule(api: str, op: Operation | None, status: int, *, kind: str = "body") -> str:
    """The rule a response fails when its status or body is not as documented (see module docstring)."""
    create = op is not None and is_create(op)
    return family(api).response_rule_of(api, status, create=create, kind=kind)


def _find_nulls(value: Any, path: str = "") -> Iterator[str]:
    if value is None:
        yield path or "(root)"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _find_nulls(item, f"{path}/{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _find_nulls(item, f"{path}/{index}" if path else str(index))


def _is_enum_error(error: jsonschema.ValidationError) -> bool:
    if error.validator in ("enum", "const"):
        return True
    return any(_is_enum_error(sub) for sub in error.context or ())


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def contract_violations(
    contracts: Contracts, exchange: Exchange, op: Operation, *, strict: bool = False
) -> list[tuple[str, str]]:
    """Every way the response differs from the contract, as ``(rule, message)`` pairs (empty: conforms)."""
    api, status = op.api, exchange.status
    label = f"{op.operation_id} answered {status}"
    spec = op.response_spec(status)
    if spec is None:
        documented = ", ".join(sorted(op.responses))
        return [
            (
                response_rule(api, op, status, kind="status"),
                f"{label}, which is not documented (documented: {documented})",
            )
        ]
    success = 200 <= status < 300
    fam = family(api)
    create_status = fam.create_status_of(api)
    if success and create_status is not None and is_create(op) and status != create_status:
        rule = fam.response_rule_of(api, status, create=True, kind="status")
        return [(rule, f"{label}; a successful create answers {create_status}")]
    if spec.body == "any":
        return []
    if spec.body == "empty":
        if exchange.body.strip():
            return [(response_rule(api, op, status), f"{label} with a body; the contract says no body")]
        return []
    problems: list[tuple[str, str]] = []
    media = _media_type(exchange.content_type)
    allowed = [m.lower() for m in spec.media_types]
    if allowed and media not in allowed:
        problems.append(
            (
                response_rule(api, op, status, kind="content_type"),
                f"{label} with Content-Type {exchange.content_type or '(none)'!r}; "
                f"documented: {', '.join(spec.media_types)}",
            )
        )
    try:
        body = exchange.json()
    except (ValueError, RecursionError):
        problems.append((response_rule(api, op, status), f"{label} with a body that is not JSON"))
        return problems
    if fam.no_nulls and success:
        nulls = list(_find_nulls(body))
        if nulls:
            null_rule = response_rule(api, op, status, kind="null")
            problems.append((null_rule, f"{label} with null at {', '.join(nulls[:5])}"))
    name = f"response-{spec.status}"
    if op.has_def(name) and not contracts.conforms(op, name, body, strict=strict):
        validator = contracts.validator(op, name, strict=strict)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            kind = "enum" if _is_enum_error(error) else "body"
            if fam.no_nulls and success and error.instance is None:
                continue  # reported once as a null above
            message = redact_text(error.message)
            problems.append((response_rule(api, op, status, kind=kind), f"{label}: {where}: {message}"))
    return problems


def check_contract(
    contracts: Contracts,
    exchange: Exchange,
    api: str | None = None,
    operation_id: str | None = None,
    *,
    strict: bool = False,
) -> None:
    """Raise ``RuleViolation`` (first rule, every difference listed) unless the response conforms."""
    api = api or exchange.api
    operation_id = operation_id or exchange.operation_id
    if api is None or operation_id is None:
        raise ValueError(f"no contract operation known for {exchange.method} {exchange.url}")
    op = contracts.get(api, operation_id)
    problems = contract_violations(contracts, exchange, op, strict=strict)
    if problems:
        rule = problems[0][0]
        details = "; ".join(message for r, message in problems if r == rule)
        others = [f"[{r}] {m}" for r, m in problems if r != rule]
        message = details + ("\nalso: " + "\n      ".join(others) if others else "")
        raise RuleViolation(rule, f"{api} {message}", evidence=exchange)
