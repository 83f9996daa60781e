"""The Connect contracts are generated from the REST contracts and stay in sync with them."""

from __future__ import annotations

from session_conformance.connect_contracts import SOURCES, generated, main
from session_conformance.contracts import load_contracts


def test_connect_contracts_are_up_to_date() -> None:
    assert main(["--check"]) == 0, "run python -m session_conformance.connect_contracts"


def test_every_rest_operation_has_its_connect_contract() -> None:
    contracts = load_contracts()
    for api, (source, version) in SOURCES.items():
        rest = {op.operation_id for op in contracts.for_api(source)}
        connect = contracts.for_api(api)
        assert {op.operation_id for op in connect} == rest
        for op in connect:
            assert op.method == "POST"
            assert op.path == f"/zitadel.session.{version}.SessionService/{op.operation_id.split('_')[1]}"
            assert "201" not in op.responses and "200" in op.responses
            assert op.responses["415"].body == "empty"
            assert "ZTD-R04" not in op.rules and "ZTD-T01" in op.rules
    assert len(generated()) == 10


def test_connect_error_bodies_validate() -> None:
    contracts = load_contracts()
    op = contracts.get("zitadel-v2-connect", "SessionService_GetSession")
    assert contracts.validate_response(op, 404, {"code": "not_found", "message": "x (QUERY-SFeaa)"}) == []
    assert contracts.validate_response(op, 404, {"code": 5, "message": "x"}) != []
    assert contracts.validate_response(op, 404, {"code": "invalid_argument"}) != []
