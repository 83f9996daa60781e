"""ListSessions: filters (AND), sorting, paging and totals over one instance's sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from session_conformance.server.faults import FaultSet
from session_conformance.server.state import Account
from session_conformance.server.variants import VariantSet
from session_conformance.server.zitadel import faults as F
from session_conformance.server.zitadel import variants as V
from session_conformance.server.zitadel.requests import DEFAULT_LIMIT, SORT_CREATION_DATE, Query, Search
from session_conformance.server.zitadel.store import Instance, Session
from session_conformance.server.zitadel.wire import INVALID_ARGUMENT, NOT_FOUND, ApiError

Match = Callable[[Session], bool]

# TimestampQueryMethod -> comparison of (creation date, query date)
_COMPARE: dict[int, Callable[[int, int], bool]] = {
    0: lambda created, date: created == date,
    1: lambda created, date: created > date,
    2: lambda created, date: created >= date,
    3: lambda created, date: created < date,
    4: lambda created, date: created <= date,
}
_SWAPPED = {0: 0, 1: 3, 2: 4, 3: 1, 4: 2}  # the ztd-creation-date-wrong fault


def may_read(caller: Account, session: Session) -> bool:
    """ZTD-R45: without a token, the creator, the checked user or a holder of session.read reads it."""
    if "session.read" in caller.permissions or session.creator == caller.caller_user_id:
        return True
    return bool(session.user_id) and session.user_id == caller.caller_user_id


def _matcher(query: Query, caller: Account, faults: FaultSet) -> Match | None:
    """A predicate for one SearchQuery; None = matches everything (a fault ignores the query)."""
    kind = query.kind
    if kind is None:
        if F.EMPTY_QUERY_ACCEPTED in faults:
            return None
        code = NOT_FOUND if F.LIST_QUERY_404 in faults else INVALID_ARGUMENT
        raise ApiError(code, "List.Query.Invalid", "GRPC-Sfefs")
    if kind == "idsQuery":
        if F.FILTER_IGNORED in faults:
            return None
        wanted = frozenset(query.ids)
        return lambda s: s.id in wanted
    if kind == "userIdQuery":
        user_id = query.value or ""
        return lambda s: s.user_id == user_id
    if kind == "creationDateQuery":
        method = _SWAPPED[query.method] if F.CREATION_DATE_WRONG in faults else query.method
        compare, date = _COMPARE[method], query.date_ns
        return lambda s: compare(s.created, date)
    if kind == "creatorQuery":
        if F.CREATOR_QUERY_IGNORED in faults:
            return None
        if query.value == "":
            raise ApiError(INVALID_ARGUMENT, "creator ID must not be empty", "GRPC-x8n24uh")
        creator = caller.caller_user_id if query.value is None else query.value
        return lambda s: s.creator == creator
    # userAgentQuery
    if F.USERAGENT_QUERY_IGNORED in faults:
        return None
    if not query.value:  # "" is refused; absent means the caller's token's agent, and it has none
        raise ApiError(INVALID_ARGUMENT, "user agent fingerprint ID must be given", "GRPC-x8n23uh")
    fingerprint = query.value
    return lambda s: (s.user_agent or {}).get("fingerprintId") == fingerprint


def search(
    inst: Instance,
    caller: Account,
    request: Search,
    faults: FaultSet,
    variants: VariantSet | None = None,
    view: list[Session] | None = None,
    now: int | None = None,
) -> tuple[list[Session], int]:
    """The page of matching sessions and the number of all matches (``view``: a lagging projection)."""
    on = variants if variants is not None else VariantSet()
    matchers = [m for m in (_matcher(q, caller, faults) for q in request.queries) if m is not None]
    candidates: Iterable[Session] = list(inst.sessions.values()) if view is None else view
    if F.DELETED_LISTED in faults:
        candidates = [*candidates, *inst.tombstones.values()]
    if "session.read" not in caller.permissions and F.READ_WITHOUT_PERMISSION not in faults:
        candidates = [s for s in candidates if may_read(caller, s)]  # Z-07: what the caller may read
    if F.EXPIRED_UNLISTED in faults and now is not None:
        candidates = [s for s in candidates if s.expiration is None or s.expiration > now]
    found = [s for s in candidates if all(match(s) for match in matchers)]
    if request.sorting == SORT_CREATION_DATE:
        ascending = request.asc and F.SORT_IGNORED not in faults
        found.sort(key=lambda s: (s.created, s.id), reverse=not ascending)
    elif V.UNSPECIFIED_ORDER_NEWEST in on:  # Z-09: no defined order, this one newest first
        found.reverse()
    total = len(found)
    limit = request.limit or (total if V.LIMIT_ZERO_UNBOUNDED in on else DEFAULT_LIMIT)
    if F.LIMIT_IGNORED in faults:
        limit = total
    start = request.offset - 1 if request.offset > 0 and F.LATER_PAGES_OVERLAP in faults else request.offset
    page = found[start : start + limit]
    return page, (len(page) if F.TOTAL_WRONG in faults else total)


def count_matches(inst: Instance, caller: Account, request: Search, faults: FaultSet) -> int:
    """How many sessions of ``inst`` match (for totals counted before the permission filter, Z-07)."""
    matchers = [m for m in (_matcher(q, caller, faults) for q in request.queries) if m is not None]
    return sum(1 for s in list(inst.sessions.values()) if all(match(s) for match in matchers))
