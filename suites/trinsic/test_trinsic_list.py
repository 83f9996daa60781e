"""Trinsic List Sessions and account isolation (TRN-R30..R32, TRN-R50, A-05, A-13, A-14).

Nothing here assumes the account is used by this run alone (other clients, the run's own workers):
each answer is judged by what it says about itself (its own ``total``, ``more`` and items); two answers
are related only through the check's own sessions (which no other client ends or changes), and a
listing that may have shifted under the pages read is read again rather than judged.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from _trinsic_steps import (
    DIRECTIONS,
    ORDERINGS,
    Trinsic,
    expect_accepted,
    hypothesis_settings,
    reveals_session,
    warn_rejected,
)
from hypothesis import given
from hypothesis import strategies as st

from session_conformance.harness import (
    ConformanceClient,
    Profile,
    Target,
    expect,
    expect_status,
    shown,
    warn,
)

MIN_SESSIONS = 7  # enough for several pages at small page sizes
PAGE_ONE_ATTEMPTS = 3


def _ensure_sessions(trn: Trinsic, target: Target) -> int:
    """At least MIN_SESSIONS sessions on the account (created when allowed); the account's total.

    Nothing is concluded from how the total moved: other clients create and end sessions meanwhile.
    """
    total = trn.page({"PageSize": 1})["total"]
    if total < MIN_SESSIONS and not target.read_only:
        for _ in range(MIN_SESSIONS - total):
            trn.new_widget()
        total = trn.page({"PageSize": 1})["total"]
    if total < 2:
        pytest.skip("the account has fewer than 2 sessions and --read-only forbids creating some")
    return total


@pytest.mark.rules("TRN-R30")
@pytest.mark.needs("writes", "other_token")
def test_accounts_see_only_their_own_sessions(
    client: ConformanceClient, other_client: ConformanceClient
) -> None:
    mine, theirs = Trinsic(client), Trinsic(other_client)
    foreign = theirs.new_widget().session_id
    own = mine.new_widget().session_id
    seen = mine.listed([own, foreign])
    expect("TRN-R30", own in seen, f"List Sessions misses the account's own new session {own}")
    expect("TRN-R30", foreign not in seen, f"List Sessions shows session {foreign} of another account")
    # 400, 403 or 404 are all readings of "not yours"; a detail that quotes the ID the caller
    # sent reveals nothing, so the check looks for the session's data, not for its ID.
    for operation, exchange in (("Get Session", mine.get(foreign)), ("Cancel Session", mine.cancel(foreign))):
        expect(
            "TRN-R30",
            exchange.status in (400, 403, 404) and not reveals_session(exchange),
            f"{operation} of another account's session must be refused (400/403/404) without its data: "
            f"{shown(exchange)}",
            evidence=exchange,
        )
    still = theirs.session(foreign)
    expect(
        "TRN-R30", not still["done"], f"another account cancelled this session: {still!r}", evidence=exchange
    )
    seen = theirs.listed([own, foreign])
    expect("TRN-R30", own not in seen, f"the other account lists session {own}")
    expect("TRN-R30", foreign in seen, f"the other account's List Sessions misses its own session {foreign}")


@pytest.mark.rules("TRN-R31", "TRN-R50")
def test_page_size_and_page_ranges(client: ConformanceClient) -> None:
    """In range is accepted (TRN-R31); out of range is refused with 400 in the suite's reading: the sheets
    describe the ranges, not their enforcement (A-19), so acceptance warns (TRN-R50)."""
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
        warn_rejected("TRN-R50", trn.list(params), f"List Sessions with {params} (A-19, inferred)")
    for params in ({"PageSize": 1}, {"PageSize": 50}, {"Page": 1}, {"Page": 2**31 - 1}):
        exchange = trn.list(params)
        expect_accepted("TRN-R31", exchange, f"List Sessions with {params} is in range")


@pytest.mark.rules("TRN-R31")
@pytest.mark.needs("writes")
def test_total_and_more_count_the_runs_own_sessions(client: ConformanceClient) -> None:
    """What no other client can change: this check's own three sessions are tied to the account, so
    every answer's ``total`` counts at least them, and with PageSize 1 page 1 cannot be the last one."""
    trn = Trinsic(client)
    own = [trn.new_widget().session_id for _ in range(3)]
    for page in (1, 2):
        body = trn.page({"PageSize": 1, "Page": page})
        expect(
            "TRN-R31",
            body["total"] >= len(own),
            f"total is {body['total']}, yet this check alone holds {len(own)} sessions of the account",
            evidence=body["_exchange"],
        )
        expect(
            "TRN-R31",
            body["more"] is True,
            f"page {page} of size 1 says more is false, yet this check alone holds {len(own)} sessions",
            evidence=body["_exchange"],
        )


@pytest.mark.rules("TRN-R31")
@pytest.mark.needs("writes")
def test_page_one_is_the_first_page(client: ConformanceClient) -> None:
    """A session created just now is the newest: Page 1 of 50 by Created, Descending holds it. Other
    clients would have to create 50 sessions within one round trip to push it off page 1; the check
    tries three fresh sessions before it concludes."""
    trn = Trinsic(client)
    params = {"OrderBy": "Created", "OrderDirection": "Descending", "PageSize": 50, "Page": 1}
    body: dict[str, Any] = {}
    for _ in range(PAGE_ONE_ATTEMPTS):
        own = trn.new_widget().session_id
        body = trn.page(params)
        if own in [s["id"] for s in body["sessions"]]:
            return
    expect(
        "TRN-R31",
        False,
        f"Page 1 (of 50, newest first) misses the session created just before, {PAGE_ONE_ATTEMPTS} times "
        f"in a row: {shown(body['_exchange'])}",
        evidence=body["_exchange"],
    )


def _page_case(trn: Trinsic, size: int, where: str, anywhere: int = 1) -> None:
    """One page judged only against its own ``total`` and ``more`` (A-14, the suite's reading: TRN-R50).

    The page number comes from an earlier answer's total, but nothing relates the two answers: others
    may have changed the account in between, and the page answered is judged as whatever page it is.
    """
    total = trn.page({"PageSize": size, "Page": 1})["total"]
    last = max(1, math.ceil(total / size))
    page = {"first": 1, "second": 2, "last": last, "beyond": last + 1, "any": anywhere}[where]
    body = trn.page({"PageSize": size, "Page": page})
    got, own_total, exchange = body["sessions"], body["total"], body["_exchange"]
    warn("TRN-R50", len(got) <= size, f"PageSize {size} answered {len(got)} sessions", evidence=exchange)
    expected = min(size, max(0, own_total - (page - 1) * size))
    warn(
        "TRN-R50",
        len(got) == expected,
        f"page {page} of size {size} with total {own_total} (of the same answer) must hold {expected} "
        f"sessions, got {len(got)}",
        evidence=exchange,
    )
    warn(
        "TRN-R50",
        body["more"] == (page * size < own_total),
        f"more is {body['more']} for page {page} of size {size} with total {own_total} (of the same answer)",
        evidence=exchange,
    )


@pytest.mark.rules("TRN-R50")
def test_paging_invariants(client: ConformanceClient, target: Target, budget: Profile) -> None:
    """For any page size and page: the page length, ``more`` and ``total`` of one answer agree. Fixed
    cases first (first, second, last and beyond-the-last pages of small and full sizes), then generated."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)
    for size in (1, 2, 3, 50):
        for where in ("first", "second", "last", "beyond"):
            _page_case(trn, size, where)

    @hypothesis_settings(budget)
    @given(
        size=st.integers(1, 50),
        where=st.sampled_from(["first", "second", "last", "beyond", "any"]),
        anywhere=st.integers(1, 60),
    )
    def check(size: int, where: str, anywhere: int) -> None:
        _page_case(trn, size, where, anywhere)

    check()


@pytest.mark.rules("TRN-R50")
def test_pages_are_slices_of_the_listing(client: ConformanceClient, target: Target) -> None:
    """A-14 (the suite's reading): pages of any size are consecutive slices of one listing, without
    duplicates or gaps. Oldest first, so that sessions others create meanwhile join the end and leave the
    pages read unchanged; retried when the account changed anyway; a difference is a warning."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)
    oldest_first = {"OrderBy": "Created", "OrderDirection": "Ascending"}
    for size in (1, 3, 7):
        for _ in range(3):
            reference = [s["id"] for s in trn.page({**oldest_first, "PageSize": 50, "Page": 1})["sessions"]]
            pages = [trn.page({**oldest_first, "PageSize": size, "Page": page}) for page in (1, 2, 3)]
            got = [s["id"] for p in pages for s in p["sessions"]]
            again = [s["id"] for s in trn.page({**oldest_first, "PageSize": 50, "Page": 1})["sessions"]]
            if got == reference[: 3 * size] or reference == again:
                break  # equal, or the account stood still while the pages were read: judge it
        warn(
            "TRN-R50",
            got == reference[: 3 * size],
            f"pages 1-3 of size {size} (oldest first) are not the first {3 * size} sessions of the listing "
            f"({got} vs {reference[: 3 * size]})",
            evidence=pages[0]["_exchange"],
        )


def _key(order_by: str) -> Any:
    return {"Created": lambda s: s["created"], "Updated": lambda s: s["updated"]}.get(order_by)


@pytest.mark.rules("TRN-R32")
def test_every_ordering_sorts(client: ConformanceClient, target: Target, budget: Profile) -> None:
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


@pytest.mark.rules("TRN-R32", "TRN-R50")
def test_default_order_is_newest_first(client: ConformanceClient, target: Target) -> None:
    """A-05 (inferred defaults, so warnings): without parameters the list is ordered by Created,
    Descending, 50 per page, like OrderBy=Created&OrderDirection=Descending."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)
    default = trn.page()
    created = [s["created"] for s in default["sessions"]]
    warn(
        "TRN-R32",
        created == sorted(created, reverse=True),
        f"A-05: the default order is not newest first: {created}",
        evidence=default["_exchange"],
    )
    warn(
        "TRN-R50",
        len(default["sessions"]) == min(50, default["total"]),
        f"A-05: the default page size is not 50: {len(default['sessions'])} of {default['total']}",
        evidence=default["_exchange"],
    )
    explicit = trn.page({"OrderBy": "Created", "OrderDirection": "Descending", "PageSize": 50, "Page": 1})
    ids = [s["id"] for s in default["sessions"]]
    both = set(ids) & {s["id"] for s in explicit["sessions"]}  # others may add sessions in between
    warn(
        "TRN-R32",
        [i for i in ids if i in both] == [s["id"] for s in explicit["sessions"] if s["id"] in both],
        "A-05: the default order differs from OrderBy=Created&OrderDirection=Descending",
        evidence=default["_exchange"],
    )


def _next_second() -> None:
    """Sleep long enough for any clock counting whole seconds to tick (created/updated are seconds)."""
    time.sleep(1.1)


@pytest.mark.rules("TRN-R32")
@pytest.mark.needs("writes")
def test_ordering_follows_field_and_direction(client: ConformanceClient) -> None:
    """Create A, a second later B, a second later cancel A: by Created B is newer, by Updated A is; each
    Ascending order is the Descending one reversed. Only A and B are compared, wherever they are listed,
    so other sessions of the account (other users, equal timestamps) do not matter.

    OrderBy=State: what it means is undocumented (A-13); the suite's reading (in progress < succeeded
    < failed) gives a warning only."""
    trn = Trinsic(client)
    first = trn.new_widget().session_id
    _next_second()
    second = trn.new_widget().session_id
    _next_second()
    cancelled = trn.cancel(first)
    expect_status("TRN-R29", cancelled, 200, "Cancel Session of a session in progress")
    a, b = trn.session(first), trn.session(second)
    if not (a["created"] < b["created"] and a["updated"] > b["updated"]):
        pytest.skip(f"the target's timestamps do not tell the two sessions apart: {a!r} {b!r}")
    newer = {"Created": second, "Updated": first, "State": first}
    for order_by, want in newer.items():
        for direction in DIRECTIONS:
            ours = trn.listed((first, second), {"OrderBy": order_by, "OrderDirection": direction})
            if len(ours) < 2:
                pytest.skip(
                    f"OrderBy={order_by} OrderDirection={direction}: the account changed under every "
                    f"listing, so one of the two sessions was passed over each time (found {ours})"
                )
            expected = [want, second if want == first else first]
            if direction == "Ascending":
                expected.reverse()
            message = (
                f"OrderBy={order_by} OrderDirection={direction} lists our sessions as {ours}, "
                f"expected {expected} (A created first, B second, A cancelled last)"
            )
            if order_by == "State":
                warn("TRN-R32", ours == expected, f"A-13: {message}")
            else:
                expect("TRN-R32", ours == expected, message)
