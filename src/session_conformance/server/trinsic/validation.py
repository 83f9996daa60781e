"""Request bodies checked against the contracts' ``requestBody`` schemas.

The contract is the one statement of what a body may hold, so the server rejects exactly what the
contract rejects (Schemathesis' negative-data checks rely on that). The hand-written checks in
``trinsic/__init__.py`` stay as well: they carry the semantic rules (capability gaps, provider needs) and
keep the server safe while a contract is still being written. Validators are built once per app.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from session_conformance.server.state import ServerState
from session_conformance.server.trinsic import faults as F
from session_conformance.server.trinsic.http import Invalid

OPERATIONS = (
    "createWidgetSession",
    "createHostedProviderSession",
    "createAdvancedProviderSession",
    "getSessionResult",
    "refreshStepContent",
)

# A fault that lets the server accept something the contract forbids must get past the contract too.
_FAULT_FIELDS = {
    F.INVALID_INPUT_ACCEPTED: "providerInput",
    F.CNH_CONTENT_TYPE_UNCHECKED: "providerInput",
    F.HOSTED_REDIRECT_OPTIONAL: "redirectUrl",
    F.EMPTY_CAPABILITIES: "capabilities",
}


class BodyValidator:
    def __init__(self, validators: dict[str, Draft202012Validator], ignored: frozenset[str]) -> None:
        self._validators = validators
        self._ignored = ignored

    @classmethod
    def for_state(cls, state: ServerState) -> BodyValidator:
        validators: dict[str, Draft202012Validator] = {}
        try:
            from session_conformance.contracts import load_contracts

            contracts = load_contracts()
            for operation_id in OPERATIONS:
                key = f"trinsic:{operation_id}"
                if key in contracts.operations and contracts.operations[key].has_def("requestBody"):
                    op = contracts.operations[key]
                    validators[operation_id] = contracts.validator(op, "requestBody")
        except Exception:  # a contract being edited must not stop the server
            validators = {}
        ignored = frozenset(field for fault, field in _FAULT_FIELDS.items() if fault in state.faults)
        return cls(validators, ignored)

    def check(self, operation_id: str, body: dict[str, Any]) -> None:
        validator = self._validators.get(operation_id)
        if validator is None:
            return
        for error in validator.iter_errors(body):
            if not self._is_ignored(error, body):
                raise Invalid(400, f"{_where(error)}: {error.message}")

    def _is_ignored(self, error: ValidationError, body: dict[str, Any]) -> bool:
        if not self._ignored:
            return False
        path = list(error.absolute_path)
        if path:
            return path[0] in self._ignored
        if error.validator == "required" and isinstance(error.validator_value, list):
            missing = {name for name in error.validator_value if name not in body}
            return bool(missing) and missing <= self._ignored
        return False


def _where(error: ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "body"
