"""Zitadel sessions: ListSessions filters, sorting, paging and totals (ZTD-R52..R62).

Every search is confined with an ``idsQuery`` to sessions this check created, so the expected
answer is known exactly even on a shared target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from _zitadel_steps import (
    Session,
    Zitadel,
    b64,
    budget_value,
    error_status,
    format_ts,
    ids_query,
    known_user,
    parse_ts,
    random_id,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from session_conformance.harness import ConformanceClient, Exchange, Profile, expect, expect_status, shown

BY_CREATION = "SESSION_FIELD_NAME_CREATION_DATE"
METHODS = {
    "TIMESTAMP_QUERY_METHOD_EQUALS": lambda a, b: a == b,
    "TIMESTAMP_QUERY_METHOD_GREATER": lambda a, b: a > b,
    "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS": lambda a, b: a >= b,
    "TIMESTAMP_QUERY_METHOD_LESS": lambda a, b: a < b,
    "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS": lambda a, b: a <= b,
}


@dataclass
class Made:
    session: Session
    created: int  # creationDate in ns, as the target reports it
    created_text: str


@pytest.fixture
def zt(client: ConformanceClient, zitadel_api: str, zitadel_prefix: str) -> Zitadel:
    return Zitadel(client, zitadel_prefix, zitadel_api)


@pytest.fixture
def human(zt: Zitadel, zitadel_user: dict[str, Any]) -> dict[str, Any]:
    """The test user, with its ID resolved when only a login name was given."""
    return known_user(zt, zitadel_user)


def make(zt: Zitadel, count: int, body_of: Any = None) -> list[Made]:
    """``count`` sessions created one after another, with the creationDate each reports."""
    out = []
    for index in range(count):
        body = body_of(index) if body_of else {"metadata": {"n": b64(str(index))}}
        session = zt.new_session(body)
        seen = zt.read(session)
        created = parse_ts(seen.get("creationDate"))
        expect(
            "ZTD-R47",
            created is not None,
            f"GetSession must return the session's creationDate, got {seen.get('creationDate')!r}",
        )
        assert created is not None
        out.append(Made(session, created, seen["creationDate"]))
    zt.await_listed([m.session.id for m in out])  # List may lag briefly behind the writes (ZTD-R63)
    return out


def ids_of(made: list[Made]) -> list[str]:
    return [m.session.id for m in made]


def expect_same(rule: str, got: list[str], wanted: list[str], what: str, exchange: Exchange) -> None:
    duplicates = sorted({i for i in got if got.count(i) > 1})
    expect(
        rule,
        not duplicates,
        f"{what}: sessions listed twice: {duplicates}: {shown(exchange)}",
        evidence=exchange,
    )
    missing, extra = sorted(set(wanted) - set(got)), sorted(set(got) - set(wanted))
    expect(
        rule,
        not missing and not extra,
        f"{what}: expected exactly {sorted(wanted)}; missing {missing}, unexpected {extra}: "
        f"{shown(exchange)}",
        evidence=exchange,
    )


# --- filters -------------------------------------------------------------------------------------


@pytest.mark.rules("ZTD-R52", "ZTD-R61")
@pytest.mark.needs("writes")
def test_ids_query_and_and_combination(zt: Zitadel) -> None:
    a, b, c = (m.session.id for m in make(zt, 3))
    for queries, wanted, what in (
        ([ids_query(a, b)], [a, b], "idsQuery [A, B]"),
        ([ids_query(a, b, random_id())], [a, b], "idsQuery with an unknown ID"),
        ([ids_query(a, b), ids_query(b, c)], [b], "idsQuery [A, B] AND idsQuery [B, C]"),
        ([ids_query(a), ids_query(c)], [], "idsQuery [A] AND idsQuery [C]"),
        ([ids_query(random_id())], [], "idsQuery with only an unknown ID"),
    ):
        got, total, exchange = zt.list_ids(queries)
        expect_same("ZTD-R52", got, wanted, what, exchange)
        expect(
            "ZTD-R61",
            total == len(wanted),
            f"{what}: details.totalResult must count the {len(wanted)} matches, got {total}: "
            f"{shown(exchange)}",
            evidence=exchange,
        )


@pytest.mark.rules("ZTD-R52")
@pytest.mark.needs("writes", "zitadel_user")
def test_user_id_query(zt: Zitadel, human: dict[str, Any]) -> None:
    with_user = zt.new_session({"checks": {"user": {"userId": human["user_id"]}}}, rule="ZTD-R15")
    without = zt.new_session()
    zt.await_listed([with_user.id, without.id])
    mine = ids_query(with_user.id, without.id)
    got, _, exchange = zt.list_ids([mine, {"userIdQuery": {"id": human["user_id"]}}])
    expect_same("ZTD-R52", got, [with_user.id], "userIdQuery of the checked user", exchange)
    got, _, exchange = zt.list_ids([mine, {"userIdQuery": {"id": random_id()}}])
    expect_same("ZTD-R52", got, [], "userIdQuery of another user", exchange)


@pytest.mark.rules("ZTD-R53")
@pytest.mark.needs("writes")
def test_creation_date_query(zt: Zitadel) -> None:
    made = make(zt, 4)
    mine = ids_query(*ids_of(made))
    for pivot in (made[1], made[2]):
        for method, holds in METHODS.items():
            wanted = [m.session.id for m in made if holds(m.created, pivot.created)]
            query = {"creationDateQuery": {"creationDate": pivot.created_text, "method": method}}
            got, _, exchange = zt.list_ids([mine, query], rule="ZTD-R53")
            expect_same("ZTD-R53", got, wanted, f"creationDateQuery {method} {pivot.created_text}", exchange)
        got, _, exchange = zt.list_ids(
            [mine, {"creationDateQuery": {"creationDate": pivot.created_text}}], rule="ZTD-R53"
        )
        wanted = [m.session.id for m in made if m.created == pivot.created]
        expect_same("ZTD-R53", got, wanted, "creationDateQuery without method (EQUALS)", exchange)
    earliest = min(m.created for m in made)
    got, _, exchange = zt.list_ids(
        [
            mine,
            {
                "creationDateQuery": {
                    "creationDate": format_ts(earliest - 3_600_000_000_000),
                    "method": "TIMESTAMP_QUERY_METHOD_LESS",
                }
            },
        ],
        rule="ZTD-R53",
    )
    expect_same("ZTD-R53", got, [], "creationDateQuery LESS than an hour before the first session", exchange)


@pytest.mark.rules("ZTD-R54")
@pytest.mark.needs("writes")
def test_creator_query(zt: Zitadel) -> None:
    made = make(zt, 2)
    mine = ids_query(*ids_of(made))
    if zt.beta:
        exchange = zt.search({"queries": [mine, {"creatorQuery": {}}]})
        expect_status(
            "ZTD-R54",
            exchange,
            400,
            "ListSessions with a creatorQuery on v2beta (which has no creatorQuery: the element is an "
            "empty SearchQuery)",
        )
        return
    got, _, exchange = zt.list_ids([mine, {"creatorQuery": {}}], rule="ZTD-R54")
    expect_same("ZTD-R54", got, ids_of(made), "creatorQuery without id (the caller created them)", exchange)
    got, _, exchange = zt.list_ids([mine, {"creatorQuery": {"id": random_id()}}], rule="ZTD-R54")
    expect_same("ZTD-R54", got, [], "creatorQuery with another user's ID", exchange)
    exchange = zt.search({"queries": [mine, {"creatorQuery": {"id": ""}}]})
    expect_status("ZTD-R54", exchange, 400, 'ListSessions with a creatorQuery with id ""')


@pytest.mark.rules("ZTD-R55")
@pytest.mark.needs("writes")
def test_user_agent_query(zt: Zitadel) -> None:
    fingerprint = f"fp-{random_id()}"
    made = make(
        zt, 3, lambda i: {"userAgent": {"fingerprintId": fingerprint if i != 1 else fingerprint + "-x"}}
    )
    mine = ids_query(*ids_of(made))
    if zt.beta:
        exchange = zt.search({"queries": [mine, {"userAgentQuery": {"fingerprintId": fingerprint}}]})
        expect_status(
            "ZTD-R55",
            exchange,
            400,
            "ListSessions with a userAgentQuery on v2beta (which has no userAgentQuery: the element is an "
            "empty SearchQuery)",
        )
        return
    got, _, exchange = zt.list_ids([mine, {"userAgentQuery": {"fingerprintId": fingerprint}}], rule="ZTD-R55")
    expect_same(
        "ZTD-R55", got, [made[0].session.id, made[2].session.id], "userAgentQuery by fingerprint", exchange
    )
    exchange = zt.search({"queries": [mine, {"userAgentQuery": {"fingerprintId": ""}}]})
    expect_status("ZTD-R55", exchange, 400, 'ListSessions with a userAgentQuery with fingerprintId ""')


@pytest.mark.rules("ZTD-R56", "ZTD-R05")
def test_empty_search_query_is_refused(zt: Zitadel) -> None:
    body: dict[str, Any]
    for body in ({"queries": [{}]}, {"queries": [ids_query(random_id()), {}]}):
        exchange = zt.search(body)
        expect(  # refused, but not as the documented 400 "invalid list query"
            "ZTD-R05",
            exchange.status <= 400,
            f"ListSessions must refuse an invalid list query with 400 (documented), got {exchange.status}: "
            f"{shown(exchange)}",
            evidence=exchange,
        )
        expect_status("ZTD-R56", exchange, 400, "ListSessions with a SearchQuery with no member set")
        code, _, _ = error_status(exchange)
        expect(
            "ZTD-R56",
            code in (None, 3),  # a missing code is ZTD-R04's business
            f"an empty SearchQuery is InvalidArgument (code 3), got {code!r}",
            evidence=exchange,
        )


# --- sorting and paging --------------------------------------------------------------------------


def expect_order(made: list[Made], got: list[str], asc: bool, exchange: Exchange, what: str) -> None:
    created = {m.session.id: m.created for m in made}
    times = [created[i] for i in got if i in created]
    ordered = sorted(times, reverse=not asc)
    expect(
        "ZTD-R57",
        times == ordered,
        f"{what}: sessions must be sorted by creationDate {'ascending' if asc else 'descending'}; got the "
        f"order {got}: {shown(exchange)}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R57")
@pytest.mark.needs("writes")
def test_sorting_by_creation_date(zt: Zitadel) -> None:
    made = make(zt, 4)
    mine = ids_query(*ids_of(made))
    for query, asc in (({"asc": True}, True), ({"asc": False}, False), (None, False)):
        got, _, exchange = zt.list_ids([mine], query=query, sorting=BY_CREATION, rule="ZTD-R57")
        expect_same("ZTD-R52", got, ids_of(made), "sorted search over the check's sessions", exchange)
        expect_order(made, got, asc, exchange, f"sortingColumn CREATION_DATE, query {query}")


def page_through(zt: Zitadel, made: list[Made], limit: int, asc: bool, start: int = 0) -> None:
    """Read every page of ``limit`` from ``start``: no duplicates, no gaps, honest totals."""
    mine = ids_query(*ids_of(made))
    seen: list[str] = []
    offset = start
    while offset < len(made) + limit:
        got, total, exchange = zt.list_ids(
            [mine],
            query={"offset": str(offset), "limit": limit, "asc": asc},
            sorting=BY_CREATION,
            rule="ZTD-R58",
        )
        expect(
            "ZTD-R58",
            len(got) <= limit,
            f"limit {limit} must cap the page, got {len(got)} sessions: {shown(exchange)}",
            evidence=exchange,
        )
        wanted_size = max(0, min(limit, len(made) - offset))
        expect(
            "ZTD-R58",
            len(got) == wanted_size,
            f"offset {offset}, limit {limit} over {len(made)} matches must return {wanted_size}, got "
            f"{len(got)}: {shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "ZTD-R61",
            total >= len(got),
            f"details.totalResult {total} is smaller than the page ({len(got)}): {shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "ZTD-R61",
            total == len(made),
            f"details.totalResult must count all {len(made)} matches, not the page: got {total}: "
            f"{shown(exchange)}",
            evidence=exchange,
        )
        seen += got
        offset += limit
    expect_order(made, seen, asc, exchange, f"pages of {limit} from offset {start}")
    wanted = [m.session.id for m in sorted(made, key=lambda m: m.created, reverse=not asc)][start:]
    expect("ZTD-R58", len(seen) == len(set(seen)), f"pages overlap: {seen}", evidence=exchange)
    expect(
        "ZTD-R58",
        sorted(seen) == sorted(wanted),
        f"paging from offset {start} with limit {limit} must return each remaining session exactly once; got "
        f"{seen}, expected {wanted}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R58", "ZTD-R61")
@pytest.mark.needs("writes")
def test_offset_and_limit(zt: Zitadel) -> None:
    made = make(zt, 5)
    page_through(zt, made, limit=2, asc=True)
    mine = ids_query(*ids_of(made))
    got, total, exchange = zt.list_ids([mine], query={"limit": 1}, rule="ZTD-R58")
    expect("ZTD-R58", len(got) == 1, f"limit 1 must return one session: {shown(exchange)}", evidence=exchange)
    got, total, exchange = zt.list_ids([mine], query={"offset": "5"}, sorting=BY_CREATION, rule="ZTD-R58")
    expect(
        "ZTD-R58",
        got == [],
        f"offset past the end must return no session: {shown(exchange)}",
        evidence=exchange,
    )
    expect(
        "ZTD-R61",
        total == len(made),
        f"details.totalResult counts matches also past the end: expected {len(made)}, got {total}",
        evidence=exchange,
    )


@pytest.mark.rules("ZTD-R57", "ZTD-R58", "ZTD-R61")
@pytest.mark.needs("writes")
def test_random_paging(zt: Zitadel, budget: Profile) -> None:
    """Hypothesis picks limit, direction and starting offset; every walk must see each session once."""
    made = make(zt, 5)

    @settings(
        max_examples=budget_value(budget, "max_examples", default=10),
        deadline=None,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )
    @given(limit=st.integers(1, 6), asc=st.booleans(), start=st.integers(0, 5))
    def walk(limit: int, asc: bool, start: int) -> None:
        page_through(zt, made, limit, asc, start)
        got, _, exchange = zt.list_ids(
            [ids_query(*ids_of(made))],
            query={"asc": asc, "limit": limit},
            sorting=BY_CREATION,
            rule="ZTD-R57",
        )
        expect_order(made, got, asc, exchange, f"first page, limit {limit}")

    walk()
