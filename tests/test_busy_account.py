"""The busy-account variants: another client really writes to both accounts, both APIs, over HTTP."""

from __future__ import annotations

import time

import httpx

from session_conformance.server.busy import TRINSIC_BUSY, ZITADEL_BUSY
from session_conformance.server.runner import EmbeddedServer


def _totals(server: EmbeddedServer) -> list[int]:
    totals = []
    for token in (server.primary_token, server.other_token):
        auth = {"Authorization": f"Bearer {token}"}
        trn = httpx.get(f"{server.url}/api/v1/sessions/list", params={"PageSize": 1}, headers=auth)
        totals.append(trn.json()["total"])
        for prefix in ("/v2", "/v2beta"):
            ztd = httpx.post(f"{server.url}{prefix}/sessions/search", json={}, headers=auth)
            totals.append(int(ztd.json().get("details", {}).get("totalResult", "0")))
    return totals


def test_another_client_writes_to_both_accounts_and_both_apis() -> None:
    with EmbeddedServer(variants=[TRINSIC_BUSY, ZITADEL_BUSY]) as server:
        assert server.busy is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(_totals(server)):
            time.sleep(0.2)
        assert all(_totals(server)), _totals(server)  # sessions in every account and API
        assert server.busy.operations > 0


def test_no_busy_client_without_the_variant() -> None:
    with EmbeddedServer() as server:
        assert server.busy is None
        assert _totals(server) == [0, 0, 0, 0, 0, 0]
