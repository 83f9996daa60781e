"""Trinsic List Sessions and account isolation (TRN-R30..R32, A-05).

Paging and ordering are checked as properties over generated page sizes, pages and orderings.
Checks that compare pages item by item rely on a deterministic order for equal timestamps, which
only the embedded server promises (ties fall back to creation order, or change order for Updated).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from _trinsic_steps import (
    DIRECTIONS,
    ORDERINGS,
    Trinsic,
    expect_rejected,
    hypothesis_settings,
    shown,
)
from hypothesis import given
from hypothesis import strategies as st

from session_conformance.verdict import expect

MIN_SESSIONS = 7  # enough for several pages at small page sizes


def _ensure_sessions(trn: Trinsic, target: Any) -> int:
    """At least MIN_SESSIONS sessions on the account (created when allowed); the account's total."""
    total = trn.page({"PageSize": 1})["total"]
    if total < MIN_SESSIONS and not target.read_only:
        missing = MIN_SESSIONS - total
        for _ in range(missing):
            trn.new_widget()
        after = trn.page({"PageSize": 1})
        grown = after["total"] - total
        expect(
            "TRN-R31",
            grown == missing if target.embedded else grown >= missing,
            f"total went from {total} to {after['total']} after {missing} sessions were created",
            evidence=after["_exchange"],
        )
        total = after["total"]
    if total < 2:
        pytest.skip("the account has fewer than 2 sessions and --read-only forbids creating some")
    return total


@pytest.mark.rules("TRN-R30")
@pytest.mark.needs("writes", "other_token")
def test_accounts_see_only_their_own_sessions(client: Any, other_client: Any) -> None:
    mine, theirs = Trinsic(client), Trinsic(other_client)
    foreign = theirs.new_widget().session_id
    own = mine.new_widget().session_id
    ids = mine.all_ids()
    expect("TRN-R30", own in ids, f"List Sessions misses the account's own new session {own}")
    expect("TRN-R30", foreign not in ids, f"List Sessions shows session {foreign} of another account")
    exchange = mine.get(foreign)
    expect(
        "TRN-R30",
        exchange.status in (403, 404) and foreign not in exchange.text,
        f"Get Session of another account's session must be refused (403/404): {shown(exchange)}",
        evidence=exchange,
    )
    exchange = mine.cancel(foreign)
    expect(
        "TRN-R30",
        exchange.status in (403, 404),
        f"Cancel Session of another account's session must be refused (403/404): {shown(exchange)}",
        evidence=exchange,
    )
    still = theirs.session(foreign)
    expect(
        "TRN-R30", not still["done"], f"another account cancelled this session: {still!r}", evidence=exchange
    )
    expect("TRN-R30", own not in theirs.all_ids(), f"the other account lists session {own}")


@pytest.mark.rules("TRN-R31")
def test_page_size_and_page_ranges(client: Any) -> None:
    trn = Trinsic(client)
    for params in (
        {"PageSize": 0},
        {"PageSize": 51},
        {"PageSize": -1},
        {"PageSize": 1000},
        {"Page": 0},
        {"Page": -3},
        {"Page": 2**31},
    ):
        expect_rejected("TRN-R31", trn.list(params), f"List Sessions with {params}")
    for params in ({"PageSize": 1}, {"PageSize": 50}, {"Page": 1}, {"Page": 2**31 - 1}):
        exchange = trn.list(params)
        expect(
            "TRN-R31",
            exchange.status == 200,
            f"List Sessions with {params} is in range: {shown(exchange)}",
            evidence=exchange,
        )


@pytest.mark.rules("TRN-R31")
def test_paging_invariants(client: Any, target: Any, budget: Any) -> None:
    """For any page size and page: the page length, ``more`` and ``total`` agree."""
    trn = Trinsic(client)
    total = _ensure_sessions(trn, target)
    reference = trn.all_ids() if target.embedded else None

    @hypothesis_settings(budget)
    @given(
        size=st.integers(1, 50),
        where=st.sampled_from(["first", "second", "last", "beyond", "any"]),
        anywhere=st.integers(1, 60),
    )
    def check(size: int, where: str, anywhere: int) -> None:
        last = max(1, math.ceil(total / size))
        page = {"first": 1, "second": 2, "last": last, "beyond": last + 1, "any": anywhere}[where]
        body = trn.page({"PageSize": size, "Page": page})
        got, exchange = body["sessions"], body["_exchange"]
        expect(
            "TRN-R31", len(got) <= size, f"PageSize {size} answered {len(got)} sessions", evidence=exchange
        )
        expect(
            "TRN-R31",
            body["total"] == total,
            f"total is {body['total']}, but the account has {total} sessions",
            evidence=exchange,
        )
        expected = min(size, max(0, total - (page - 1) * size))
        expect(
            "TRN-R31",
            len(got) == expected,
            f"page {page} of size {size} with total {total} must hold {expected} sessions, got {len(got)}",
            evidence=exchange,
        )
        expect(
            "TRN-R31",
            body["more"] == (page * size < total),
            f"more is {body['more']} for page {page} of size {size} with total {total}",
            evidence=exchange,
        )
        if reference is not None:
            want = reference[(page - 1) * size : page * size]
            expect(
                "TRN-R31",
                [s["id"] for s in got] == want,
                f"page {page} of size {size} is not that slice of the full listing",
                evidence=exchange,
            )

    check()


def _key(order_by: str) -> Any:
    return {"Created": lambda s: s["created"], "Updated": lambda s: s["updated"]}.get(order_by)


@pytest.mark.rules("TRN-R32")
def test_every_ordering_sorts(client: Any, target: Any, budget: Any) -> None:
    """Every OrderBy x OrderDirection answers 200 and (for timestamps) is sorted by that field."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)

    @hypothesis_settings(budget)
    @given(
        order_by=st.sampled_from(ORDERINGS), direction=st.sampled_from(DIRECTIONS), size=st.integers(2, 50)
    )
    def check(order_by: str, direction: str, size: int) -> None:
        body = trn.page({"OrderBy": order_by, "OrderDirection": direction, "PageSize": size})
        key = _key(order_by)
        if key is None:
            return  # what "State" order means is not documented
        values = [key(s) for s in body["sessions"]]
        ordered = sorted(values, reverse=direction == "Descending")
        expect(
            "TRN-R32",
            values == ordered,
            f"OrderBy={order_by} OrderDirection={direction} is not sorted: {values}",
            evidence=body["_exchange"],
        )

    check()


@pytest.mark.rules("TRN-R32")
def test_default_order_is_newest_first(client: Any, target: Any) -> None:
    """A-05: without parameters the list is ordered by Created, Descending, 50 per page."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)
    default = trn.page()
    created = [s["created"] for s in default["sessions"]]
    expect(
        "TRN-R32",
        created == sorted(created, reverse=True),
        f"the default order is not newest first: {created}",
        evidence=default["_exchange"],
    )
    expect(
        "TRN-R31",
        len(default["sessions"]) == min(50, default["total"]),
        f"the default page size is not 50: {len(default['sessions'])} of {default['total']}",
        evidence=default["_exchange"],
    )
    if target.embedded:
        explicit = trn.page({"OrderBy": "Created", "OrderDirection": "Descending", "PageSize": 50, "Page": 1})
        expect(
            "TRN-R32",
            default["sessions"] == explicit["sessions"],
            "the default order differs from OrderBy=Created&OrderDirection=Descending",
            evidence=default["_exchange"],
        )


@pytest.mark.rules("TRN-R32")
@pytest.mark.needs("writes", "embedded")
def test_ordering_follows_field_and_direction(client: Any) -> None:
    """Create A then B, cancel A: newest created is B; most recently updated and first failed is A.

    Equal timestamps fall back to creation (or change) order on the embedded server, so this holds
    even when everything happens within one second; Ascending is exactly Descending reversed.
    """
    trn = Trinsic(client)
    first, second = trn.new_widget().session_id, trn.new_widget().session_id
    trn.cancel(first)
    expected_first = {"Created": second, "Updated": first, "State": first}
    total = trn.page({"PageSize": 1})["total"]
    for order_by, want in expected_first.items():
        head = trn.page({"OrderBy": order_by, "OrderDirection": "Descending", "PageSize": 3})
        ids = [s["id"] for s in head["sessions"]]
        expect(
            "TRN-R32",
            ids[:1] == [want],
            f"OrderBy={order_by} Descending must start with {want}, got {ids}",
            evidence=head["_exchange"],
        )
        tail = [
            trn.page({"OrderBy": order_by, "OrderDirection": "Ascending", "PageSize": 1, "Page": page})
            for page in range(total, max(total - 3, 0), -1)
        ]
        tail_ids = [item["id"] for body in tail for item in body["sessions"]]
        expect(
            "TRN-R32",
            tail_ids == ids,
            f"OrderBy={order_by}: Ascending is not Descending reversed ({tail_ids} vs {ids})",
            evidence=tail[0]["_exchange"],
        )
