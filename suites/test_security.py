"""Every operation of every API refuses a request without a bearer token or with a wrong one.

Trinsic: TRN-R01 (the request must not succeed) and TRN-R02 (a documented 401 or 403; 403 warns).
Zitadel: ZTD-R01 (401 with an ``rpcStatus`` body, authentication before validation).
"""

from __future__ import annotations

import re
import secrets

import pytest

from session_conformance.apis import API_FAMILY, APIS
from session_conformance.apis.zitadel_connect import connect_code
from session_conformance.contracts import WRITE_OPERATIONS, Operation, load_contracts
from session_conformance.harness import (
    ConformanceClient,
    Exchange,
    expect,
    expect_contract,
    expect_status,
    warn_status,
)

# A syntactically plausible ID per API: the auth check must come before any lookup.
PLACEHOLDER_IDS = {"trinsic": "00000000-0000-4000-8000-000000000000", "zitadel": "300000000000000000"}


def _operations() -> list[object]:
    params: list[object] = []
    contracts = load_contracts()
    for api in APIS:
        for op in sorted(contracts.for_api(api), key=lambda o: o.operation_id):
            marks = [pytest.mark.needs("writes")] if op.key in WRITE_OPERATIONS else []
            params.append(pytest.param(api, op, id=f"{api}-{op.operation_id}", marks=marks))
    return params


def _path(op: Operation) -> str:
    placeholder = PLACEHOLDER_IDS[API_FAMILY[op.api]]
    return re.sub(r"\{[^}]+\}", placeholder, op.path)


def _send(client: ConformanceClient, op: Operation, token: str | None) -> Exchange:
    body: dict[str, object] | None = {} if op.request_body != "none" else None
    if body is None:
        return client.request(op.method, _path(op), token=token)
    return client.request(op.method, _path(op), json=body, token=token)


def _check(client: ConformanceClient, op: Operation, exchange: Exchange, what: str) -> None:
    if API_FAMILY[op.api] == "trinsic":
        expect(
            "TRN-R01",
            not 200 <= exchange.status < 300,
            f"{op.operation_id} succeeded ({exchange.status}) {what}",
            evidence=exchange,
        )
        # 401 and 403 are both documented; which one means "token missing or invalid" is inferred
        expect_status("TRN-R02", exchange, (401, 403), f"{op.operation_id} {what} (both documented)")
        warn_status(
            "TRN-R43",
            exchange,
            401,
            f"{op.operation_id} {what} (the suite reads 401 as the answer to a missing or invalid token, "
            "inferred)",
        )
    else:
        expect_status(
            "ZTD-R01",
            exchange,
            401,
            f"{op.operation_id} {what} (authentication comes before validation)",
        )
        body = exchange.json_or_none()
        expect(
            "ZTD-R01",
            isinstance(body, dict)
            and (body.get("code") == 16 or connect_code(body.get("code")) == 16)  # Connect: unauthenticated
            and isinstance(body.get("message"), str),
            f"{op.operation_id}: the 401 {what} is not an error body with code 16 (unauthenticated)",
            evidence=exchange,
        )
        expect_contract(client, exchange, op.api, op.operation_id)


@pytest.mark.parametrize(("api", "op"), _operations())
@pytest.mark.rules("TRN-R01", "TRN-R02", "TRN-R43", "ZTD-R01")
def test_missing_token_is_refused(api: str, op: Operation, anon_client: ConformanceClient) -> None:
    _check(anon_client, op, _send(anon_client, op, None), "without an Authorization header")


@pytest.mark.parametrize(("api", "op"), _operations())
@pytest.mark.rules("TRN-R01", "TRN-R02", "TRN-R43", "ZTD-R01")
def test_wrong_token_is_refused(api: str, op: Operation, anon_client: ConformanceClient) -> None:
    wrong = "wrong-" + secrets.token_urlsafe(18)
    _check(anon_client, op, _send(anon_client, op, wrong), "with an unknown bearer token")
