"""ZTD-X01: v2beta answers like v2 — the same calls, the same statuses and normalised bodies.

Runs once (not per API) and only when both Zitadel APIs are selected. Values that legitimately
differ between two runs (IDs, tokens, timestamps, sequences, message texts) are replaced by
placeholders; everything else must be equal. The documented differences (§8 of the fact sheet:
no ``creatorQuery``/``userAgentQuery`` in v2beta) are not part of the sequence.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _zitadel_steps import LIST_SETTLE_SECONDS, Zitadel, b64, ids_query, normalised, random_id

from session_conformance.harness import ConformanceClient, Exchange, Target, warn

Step = tuple[str, Callable[[Zitadel, dict[str, str]], Exchange]]


def _remember(state: dict[str, str], exchange: Exchange) -> Exchange:
    data = exchange.json_or_none() or {}
    if data.get("sessionId"):
        state["id"] = data["sessionId"]
    if data.get("sessionToken"):
        state["old"], state["token"] = state.get("token", ""), data["sessionToken"]
    return exchange


def _settled_search(zt: Zitadel, body: dict[str, Any], session_id: str, listed: bool) -> Exchange:
    """A search repeated until ``session_id`` is (or is no longer) listed: List may lag (ZTD-R63)."""
    deadline = time.monotonic() + LIST_SETTLE_SECONDS
    while True:
        exchange = zt.search(body)
        ids = [
            s.get("id") for s in (exchange.json_or_none() or {}).get("sessions") or [] if isinstance(s, dict)
        ]
        if exchange.status != 200 or (session_id in ids) == listed or time.monotonic() >= deadline:
            return exchange
        time.sleep(0.1)


STEPS: list[Step] = [
    (
        "create with metadata, user agent, lifetime",
        lambda zt, s: _remember(
            s,
            zt.create(
                {
                    "metadata": {"a": b64("alpha")},
                    "lifetime": "600s",
                    "userAgent": {
                        "fingerprintId": "fp-parity",
                        "description": "parity",
                        "header": {"x": {"values": ["1"]}},
                    },
                }
            ),
        ),
    ),
    ("get with token", lambda zt, s: zt.get(s["id"], s["token"])),
    ("set metadata", lambda zt, s: _remember(s, zt.set(s["id"], {"metadata": {"a": "", "b": b64("beta")}}))),
    ("get with the new token", lambda zt, s: zt.get(s["id"], s["token"])),
    ("get with the replaced token", lambda zt, s: zt.get(s["id"], s["old"])),
    ("no-op set", lambda zt, s: zt.set(s["id"], {})),
    (
        "search by id, sorted",
        lambda zt, s: _settled_search(
            zt,
            {
                "queries": [ids_query(s["id"])],
                "query": {"limit": 5, "asc": True},
                "sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE",
            },
            s["id"],
            listed=True,
        ),
    ),
    ("search with an empty query", lambda zt, s: zt.search({"queries": [{}]})),
    ("create with lifetime 0s", lambda zt, s: zt.create({"lifetime": "0s"})),
    ("create with an empty user check", lambda zt, s: zt.create({"checks": {"user": {}}})),
    (
        "create with a password but no user",
        lambda zt, s: zt.create({"checks": {"password": {"password": "x"}}}),
    ),
    (
        "create with malformed JSON",
        lambda zt, s: zt.create(content=b"{", headers={"Content-Type": "application/json"}),
    ),
    ("get an unknown session", lambda zt, s: zt.get(s["unknown"])),
    ("delete with the token", lambda zt, s: zt.delete(s["id"], s["token"])),
    ("get after delete", lambda zt, s: zt.get(s["id"], s["token"])),
    ("delete again", lambda zt, s: zt.delete(s["id"], s["token"])),
    ("set after delete", lambda zt, s: zt.set(s["id"], {"metadata": {"c": b64("gamma")}})),
    (
        "search for the deleted session",
        lambda zt, s: _settled_search(zt, {"queries": [ids_query(s["id"])]}, s["id"], listed=False),
    ),
]


def side_by_side(zts: dict[str, Zitadel]) -> Iterator[tuple[str, dict[str, Exchange]]]:
    """The steps on each of ``zts``, step by step, each with its own session: every step's answers by name."""
    states = {name: {"unknown": random_id(), "id": random_id(), "token": "", "old": ""} for name in zts}
    for step, call in STEPS:
        yield step, {name: call(zt, states[name]) for name, zt in zts.items()}


@pytest.mark.rules("ZTD-X01")
@pytest.mark.needs("writes")
def test_v2beta_answers_like_v2(client: ConformanceClient, target: Target) -> None:
    selected = set(getattr(target, "apis", ()) or ())
    if not {"zitadel-v2", "zitadel-v2beta"} <= selected:
        pytest.skip("ZTD-X01 compares v2 with v2beta: select both APIs (--api all) to run it")
    apis = {
        "v2": Zitadel(client, "/v2", "zitadel-v2"),
        "v2beta": Zitadel(client, "/v2beta", "zitadel-v2beta"),
    }
    for step, got in side_by_side(apis):
        v2, beta = got["v2"], got["v2beta"]
        warn(
            "ZTD-X01",
            v2.status == beta.status,
            f"step '{step}': v2 answered {v2.status}, v2beta {beta.status}",
            evidence=[v2, beta],
        )
        left, right = normalised(v2.json_or_none()), normalised(beta.json_or_none())
        warn(
            "ZTD-X01",
            left == right,
            f"step '{step}': the normalised bodies differ: v2 {_text(left)} vs v2beta {_text(right)}",
            evidence=[v2, beta],
        )


def _text(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 600 else text[:600] + "…"
