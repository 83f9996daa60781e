"""Trinsic List Sessions and account isolation (TRN-R30..R32, A-05, A-13, A-14).

Nothing here assumes the account is used by this run alone: paging checks read ``total`` from the
same answer they judge (and retry when the account changed between two reads), ordering checks compare
only the positions of sessions the check created itself, and isolation checks look only for the check's
own sessions.
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
    expect_rejected,
    hypothesis_settings,
    reveals_session,
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


def _ensure_sessions(trn: Trinsic, target: Target) -> int:
    """At least MIN_SESSIONS sessions on the account (created when allowed); the account's total."""
    total = trn.page({"PageSize": 1})["total"]
    if total < MIN_SESSIONS and not target.read_only:
        missing = MIN_SESSIONS - total
        for _ in range(missing):
            trn.new_widget()
        after = trn.page({"PageSize": 1})
        grown = after["total"] - total
        expect(  # others may create sessions meanwhile: at least ours
            "TRN-R31",
            grown >= missing,
            f"total went from {total} to {after['total']} after {missing} sessions were created",
            evidence=after["_exchange"],
        )
        total = after["total"]
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
    ids = mine.all_ids()
    expect("TRN-R30", own in ids, f"List Sessions misses the account's own new session {own}")
    expect("TRN-R30", foreign not in ids, f"List Sessions shows session {foreign} of another account")
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
    expect("TRN-R30", own not in theirs.all_ids(), f"the other account lists session {own}")


@pytest.mark.rules("TRN-R31")
def test_page_size_and_page_ranges(client: ConformanceClient) -> None:
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
        expect_accepted("TRN-R31", exchange, f"List Sessions with {params} is in range")


def _page_case(trn: Trinsic, size: int, where: str, anywhere: int = 1) -> None:
    """One page judged against the ``total`` of the same answer; the page is read again (up to three
    times) when the account's total changed meanwhile, so another user of the account cannot fail it."""
    for _ in range(3):
        first = trn.page({"PageSize": size, "Page": 1})
        total = first["total"]
        last = max(1, math.ceil(total / size))
        page = {"first": 1, "second": 2, "last": last, "beyond": last + 1, "any": anywhere}[where]
        body = first if page == 1 else trn.page({"PageSize": size, "Page": page})
        if body["total"] == total:
            break
    got, exchange = body["sessions"], body["_exchange"]
    expect("TRN-R31", len(got) <= size, f"PageSize {size} answered {len(got)} sessions", evidence=exchange)
    expect(
        "TRN-R31",
        not got or body["total"] >= (page - 1) * size + len(got),
        f"page {page} of size {size} holds {len(got)} sessions, yet total is {body['total']}",
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


@pytest.mark.rules("TRN-R31")
def test_paging_invariants(client: ConformanceClient, target: Target, budget: Profile) -> None:
    """For any page size and page: the page length, ``more`` and ``total`` agree. Fixed cases first
    (first, second, last and beyond-the-last pages of small and full sizes), then generated ones."""
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


@pytest.mark.rules("TRN-R31")
def test_pages_are_slices_of_the_listing(client: ConformanceClient, target: Target) -> None:
    """A-14 (the suite's reading): pages of any size are consecutive slices of one listing, without
    duplicates or gaps. Retried when the account changed meanwhile; a difference is a warning."""
    trn = Trinsic(client)
    _ensure_sessions(trn, target)
    for size in (1, 3, 7):
        for _ in range(3):
            reference = trn.all_ids()
            pages = [trn.page({"PageSize": size, "Page": page}) for page in (1, 2, 3)]
            if all(p["total"] == len(reference) for p in pages) and reference == trn.all_ids():
                break
        got = [s["id"] for p in pages for s in p["sessions"]]
        warn(
            "TRN-R31",
            got == reference[: 3 * size],
            f"pages 1-3 of size {size} are not the first {3 * size} sessions of the listing "
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


@pytest.mark.rules("TRN-R32")
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
        "TRN-R31",
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
            ids = trn.all_ids({"OrderBy": order_by, "OrderDirection": direction})
            ours = [i for i in ids if i in (first, second)]
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
