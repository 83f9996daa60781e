"""Steps shared by the Zitadel semantic suites (v2 and v2beta, over REST and over Connect alike).

Everything here talks to the target only through the plugin's ``ConformanceClient`` and fails a
check only through ``session_conformance.harness`` (``expect``, ``expect_status``). Helpers that
*set up* a check (creating a session, reading it back) blame the rule that makes the step
legitimate, so that a broken target is reported under a documented rule and never as a suite error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from session_conformance.apis.zitadel import HTTP_OF_GRPC, ZITADEL
from session_conformance.apis.zitadel_connect import CONNECT_CODES, connect_code
from session_conformance.harness import ConformanceClient, Exchange, Profile, expect, expect_status, shown

INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION, UNIMPLEMENTED = 3, 5, 7, 9, 12

INT64_KEYS = frozenset({"sequence", "totalResult", "processedSequence"})
TIMESTAMP_KEYS = frozenset({"creationDate", "changeDate", "expirationDate", "verifiedAt", "timestamp"})
# Maps and Structs whose keys are data, not field names.
FREE_FORM_KEYS = frozenset({"metadata", "header", "publicKeyCredentialRequestOptions"})
_CAMEL = re.compile(r"^[a-z][A-Za-z0-9]*$")
_RFC3339_Z = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{3}|\d{6}|\d{9}))?Z$")
_RFC3339_ANY = re.compile(r"^(\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")
_STD_BASE64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")

# ZTD-R63: List may lag briefly behind writes (IT-v4 polls List); how long a check waits for it to settle.
LIST_SETTLE_SECONDS = 5.0
USER_AGENT_KEYS = ("fingerprintId", "ip", "description", "header")
FACTOR_NAMES = ("user", "password", "webAuthN", "intent", "totp", "otpSms", "otpEmail")
USER_FACTOR_KEYS = ("verifiedAt", "id", "loginName", "displayName", "organizationId")


# --- small pure helpers --------------------------------------------------------------------------


def b64(raw: bytes | str) -> str:
    """Standard base64 with padding (what protojson writes for ``bytes``)."""
    return base64.b64encode(raw.encode() if isinstance(raw, str) else raw).decode()


def unb64(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    alt = b"-_" if ("-" in text or "_" in text) else b"+/"
    return base64.b64decode(padded, altchars=alt, validate=True)


def decoded_metadata(metadata: object) -> dict[str, bytes] | None:
    """A response's ``metadata`` map with decoded values, or None when it is not a base64 map."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        return None
    out: dict[str, bytes] = {}
    for key, value in metadata.items():
        if not isinstance(value, str):
            return None
        try:
            out[key] = unb64(value)
        except (binascii.Error, ValueError):
            return None
    return out


def timestamp_ns(value: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp (any offset, up to 9 fraction digits)."""
    match = _RFC3339_ANY.match(value)
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {value!r}")
    whole, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    moment = datetime.fromisoformat(whole.replace("t", "T") + zone)
    return int(moment.timestamp()) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


def parse_ts(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return timestamp_ns(value)
    except ValueError:
        return None


def format_ts(ns: int) -> str:
    """RFC 3339 in UTC with nanoseconds (what we send in creation-date queries)."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def duration_ns(value: str) -> int:
    match = re.fullmatch(r"(-?)(\d+)(?:\.(\d{1,9}))?s", value)
    if not match:
        raise ValueError(f"not a protojson duration: {value!r}")
    sign, whole, fraction = match.groups()
    ns = int(whole) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))
    return -ns if sign else ns


def random_id() -> str:
    """A decimal ID in Zitadel's style that no target has issued (18 random digits, leading 9)."""
    return "9" + "".join(secrets.choice("0123456789") for _ in range(17))


def documented_user_agent(value: Any) -> Any:
    """A ``UserAgent`` reduced to its documented members (extra properties are accepted, §1.2/README)."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {key: value[key] for key in USER_AGENT_KEYS if key in value}
    header = out.get("header")
    if isinstance(header, dict):
        out["header"] = {
            name: ({"values": values.get("values")} if isinstance(values, dict) else values)
            for name, values in header.items()
        }
    return out


def documented_factors(value: Any) -> Any:
    """``Factors`` reduced to the documented factors and their documented members."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for name in FACTOR_NAMES:
        factor = value.get(name)
        if not isinstance(factor, dict):
            if name in value:
                out[name] = factor
            continue
        keys = USER_FACTOR_KEYS if name == "user" else ("verifiedAt", "userVerified")
        out[name] = {key: factor[key] for key in keys if key in factor}
    return out


# --- calls ---------------------------------------------------------------------------------------


@dataclass
class Session:
    """One session this check created, with the token it currently believes in."""

    id: str
    token: str
    create: Exchange  # the create exchange
    old_tokens: list[str] = field(default_factory=list)

    def rotate(self, new_token: str) -> None:
        if new_token and new_token != self.token:
            self.old_tokens.append(self.token)
            self.token = new_token


class Zitadel:
    """The five operations of one Zitadel API (v2 or v2beta, REST or Connect) through one client.

    How each RPC is addressed (method, path, where the ID and the token go) is the descriptor's
    (``apis/zitadel.py`` ``call``); so is what differs by transport (create status, error shape).
    """

    def __init__(self, client: ConformanceClient, prefix: str, api: str) -> None:
        self.client = client
        self.prefix = prefix.rstrip("/")
        self.api = api
        self.family = ZITADEL
        self.connect = self.family.is_connect(api)
        self.beta = api.startswith("zitadel-v2beta")  # v2beta's own SearchQuery members (sheet §8)
        self.create_status: int = self.family.create_status_of(api) or 201
        self.create_rule = "ZTD-T02" if self.connect else "ZTD-R02"  # Connect sheet §6: 200 vs 201
        self.error_rule = "ZTD-T01" if self.connect else "ZTD-R04"  # Connect error object vs rpcStatus

    # raw calls
    def send(
        self,
        rpc: str,
        *,
        session_id: str | None = None,
        body: Any = None,
        token: str | None = None,
        client: ConformanceClient | None = None,
        **kwargs: Any,
    ) -> Exchange:
        """One RPC as the descriptor addresses it; ``content=`` sends raw bytes instead of the message."""
        call = self.family.call(self.api, rpc, session_id=session_id, body=body, token=token)
        headers = {**call.headers, **(kwargs.pop("headers", None) or {})}
        if "content" not in kwargs:
            kwargs["json"] = call.json
        if call.params is not None:
            kwargs["params"] = call.params
        return (client or self.client).request(call.method, call.path, headers=headers or None, **kwargs)

    def create(self, body: Any = None, *, client: ConformanceClient | None = None, **kwargs: Any) -> Exchange:
        return self.send("CreateSession", body=body, client=client, **kwargs)

    def get(
        self, session_id: str, token: str | None = None, *, client: ConformanceClient | None = None
    ) -> Exchange:
        return self.send("GetSession", session_id=session_id, token=token, client=client)

    def set(
        self, session_id: str, body: Any = None, *, client: ConformanceClient | None = None, **kwargs: Any
    ) -> Exchange:
        return self.send("SetSession", session_id=session_id, body=body, client=client, **kwargs)

    def delete(
        self, session_id: str, token: str | None = None, *, client: ConformanceClient | None = None
    ) -> Exchange:
        return self.send("DeleteSession", session_id=session_id, token=token, client=client)

    def search(self, body: Any = None, *, client: ConformanceClient | None = None, **kwargs: Any) -> Exchange:
        return self.send("ListSessions", body=body, client=client, **kwargs)

    def error_problems(self, exchange: Exchange) -> list[str]:
        """What is wrong with an error answer's shape on this transport (ZTD-R04 / ZTD-T01)."""
        return connect_error_problems(exchange) if self.connect else rpc_status_problems(exchange)

    # steps that must succeed
    def new_session(self, body: Any = None, *, rule: str | None = None) -> Session:
        """Create a session; a refusal is reported under ``rule`` (the rule that says it must work).

        By default ZTD-R14 for an empty or metadata-only body (that such a create succeeds is R14's),
        else ZTD-R02.
        """
        exchange = self.create(body)
        if rule is None:
            rule = "ZTD-R14" if set(body or {}) <= {"metadata"} else "ZTD-R02"
        expect_status(rule, exchange, (200, 201), "CreateSession with a valid body")
        data = exchange.json_or_none()
        expect(
            "ZTD-R11",
            isinstance(data, dict) and isinstance(data.get("sessionId"), str) and data["sessionId"] != "",
            f"CreateSession answered without a sessionId: {shown(exchange)}",
            evidence=exchange,
        )
        expect(
            "ZTD-R11",
            isinstance(data.get("sessionToken"), str) and data["sessionToken"] != "",
            f"CreateSession answered without a sessionToken: {shown(exchange)}",
            evidence=exchange,
        )
        return Session(data["sessionId"], data["sessionToken"], exchange)

    def read(
        self, session: Session | str, token: str | None = None, *, rule: str = "ZTD-R43"
    ) -> dict[str, Any]:
        """GetSession with the current token; answers the ``session`` object."""
        if isinstance(session, Session):
            session_id, token = session.id, token or session.token
        else:
            session_id = session
        exchange = self.get(session_id, token)
        expect_status(rule, exchange, 200, "GetSession of a live session with its current token")
        data = exchange.json_or_none()
        expect(
            "ZTD-R47",
            isinstance(data, dict) and isinstance(data.get("session"), dict),
            f"GetSession answered without a session object: {shown(exchange)}",
            evidence=exchange,
        )
        return data["session"]

    def change(self, session: Session, body: dict[str, Any], *, rule: str = "ZTD-R03") -> dict[str, Any]:
        """A SetSession that must succeed; follows token rotation."""
        exchange = self.set(session.id, body)
        expect(
            rule,
            200 <= exchange.status < 300,
            f"SetSession with a valid body must succeed: {shown(exchange)}",
            evidence=exchange,
        )
        data = exchange.json_or_none()
        expect(
            rule,
            isinstance(data, dict),
            f"SetSession answered no JSON object: {shown(exchange)}",
            evidence=exchange,
        )
        token = data.get("sessionToken")
        if isinstance(token, str) and token:
            session.rotate(token)
        return data

    def list_ids(
        self,
        queries: list[dict[str, Any]],
        *,
        query: dict[str, Any] | None = None,
        sorting: str | None = None,
        rule: str = "ZTD-R52",
        client: ConformanceClient | None = None,
        settle: Callable[[list[str], int], bool] | None = None,
    ) -> tuple[list[str], int, Exchange]:
        """ListSessions: the IDs returned (in order), ``totalResult`` (absent = 0) and the exchange.

        ``settle``: List may lag briefly behind writes (ZTD-R63, IT-v4 polls): repeat the search until
        ``settle(ids, total)`` holds or :data:`LIST_SETTLE_SECONDS` have passed, and answer the last one.
        """
        deadline = time.monotonic() + LIST_SETTLE_SECONDS
        pause = 0.05
        while True:
            ids, total, exchange = self._list_once(queries, query, sorting, rule, client)
            if settle is None or settle(ids, total) or time.monotonic() >= deadline:
                return ids, total, exchange
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def await_listed(self, ids: Iterable[str], *, rule: str = "ZTD-R52") -> None:
        """Wait until List shows every one of ``ids`` (ZTD-R63); a listing that never does fails ``rule``."""
        wanted = sorted(set(ids))
        got, _, exchange = self.list_ids(
            [ids_query(*wanted)], rule=rule, settle=lambda got, _total: set(wanted) <= set(got)
        )
        missing = sorted(set(wanted) - set(got))
        expect(
            rule,
            not missing,
            f"ListSessions still does not list the sessions {missing} {LIST_SETTLE_SECONDS:.0f}s after they "
            f"were created (ZTD-R63 allows only a brief lag): {shown(exchange)}",
            evidence=exchange,
        )

    def expect_terminated(self, session_id: str, token: str | None) -> Exchange:
        """After a DeleteSession that answered 200: the session must have ended (ZTD-R48).

        A session that GetSession still reads with its token *and* ListSessions still lists (after
        the brief lag ZTD-R63 allows) was not terminated at all. Only one of the two is the narrower
        rule's business (ZTD-R50 / ZTD-R62), and is left to it. Answers the GetSession exchange.
        """
        got = self.get(session_id, token)
        if got.status != 200:
            return got
        ids, _, listing = self.list_ids(
            [ids_query(session_id)], rule="ZTD-R52", settle=lambda got, _total: session_id not in got
        )
        expect(
            "ZTD-R48",
            session_id not in ids,
            f"DeleteSession answered 200 but did not terminate the session: GetSession with its token "
            f"still reads it ({shown(got)}) and ListSessions still lists it: {shown(listing)}",
            evidence=[got, listing],
        )
        return got

    def _list_once(
        self,
        queries: list[dict[str, Any]],
        query: dict[str, Any] | None,
        sorting: str | None,
        rule: str,
        client: ConformanceClient | None,
    ) -> tuple[list[str], int, Exchange]:
        body: dict[str, Any] = {"queries": queries}
        if query is not None:
            body["query"] = query
        if sorting is not None:
            body["sortingColumn"] = sorting
        exchange = self.search(body, client=client)
        expect_status(rule, exchange, 200, "ListSessions with a valid query")
        data = exchange.json_or_none()
        expect(
            rule,
            isinstance(data, dict),
            f"ListSessions answered no JSON object: {shown(exchange)}",
            evidence=exchange,
        )
        sessions = data.get("sessions") or []
        expect(
            rule,
            isinstance(sessions, list) and all(isinstance(s, dict) for s in sessions),
            f"ListSessions: `sessions` is not a list of objects: {shown(exchange)}",
            evidence=exchange,
        )
        ids = [s.get("id") for s in sessions]
        total_raw = (data.get("details") or {}).get("totalResult", "0")
        try:
            total = int(total_raw)
        except (TypeError, ValueError):
            total = -1
        return ids, total, exchange


_USER_IDS: dict[str, str] = {}


def known_user(zt: Zitadel, user: dict[str, str]) -> dict[str, str]:
    """The ``zitadel_user`` fixture's user with ``user_id`` filled in.

    Given by login name and password only (``--zitadel-login-name``), the ID is unknown; a user
    check by login name reveals it in ``factors.user.id``.
    """
    if user.get("user_id"):
        return user
    login_name = user["login_name"]
    if login_name not in _USER_IDS:
        session = zt.new_session({"checks": {"user": {"loginName": login_name}}}, rule="ZTD-R15")
        factor = (zt.read(session).get("factors") or {}).get("user") or {}
        expect(
            "ZTD-R15",
            isinstance(factor.get("id"), str) and factor["id"] != "",
            f"a user check by loginName must set factors.user.id, got {factor!r}",
        )
        _USER_IDS[login_name] = factor["id"]
    return {**user, "user_id": _USER_IDS[login_name]}


def ids_query(*ids: str) -> dict[str, Any]:
    return {"idsQuery": {"ids": list(ids)}}


# --- error answers -------------------------------------------------------------------------------


def error_status(exchange: Exchange) -> tuple[int | None, str, list[Any]]:
    """(code, message, details) of an rpcStatus or Connect error body, with None/""/[] where absent.

    A Connect code string reads as its gRPC number (``not_found`` -> 5): the semantic checks compare
    numbers whichever transport answered; the shape itself is ZTD-R04's / ZTD-T01's.
    """
    data = exchange.json_or_none()
    if not isinstance(data, dict):
        return None, "", []
    code = connect_code(data.get("code")) or data.get("code")
    message = data.get("message")
    details = data.get("details")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else "",
        details if isinstance(details, list) else [],
    )


def rpc_status_problems(exchange: Exchange) -> list[str]:
    """What is wrong with an error answer's ``rpcStatus`` shape and its code/HTTP pairing (ZTD-R04)."""
    data = exchange.json_or_none()
    if not isinstance(data, dict):
        return ["the body is not a JSON object"]  # callers show the exchange
    problems = []
    code = data.get("code")
    if not isinstance(code, int) or isinstance(code, bool) or code == 0:
        problems.append(f"`code` must be a non-zero integer gRPC code, got {code!r}")
    elif HTTP_OF_GRPC.get(code) != exchange.status:
        problems.append(
            f"gRPC code {code} maps to HTTP {HTTP_OF_GRPC.get(code)}, but the status is {exchange.status}"
        )
    if not isinstance(data.get("message"), str):
        problems.append(f"`message` must be a string, got {data.get('message')!r}")
    if "details" in data:
        details = data["details"]
        if not isinstance(details, list) or not all(
            isinstance(d, dict) and isinstance(d.get("@type"), str) for d in details
        ):
            problems.append(f"`details` must be a list of protobufAny objects with `@type`, got {details!r}")
    unknown = sorted(set(data) - {"code", "message", "details"})
    if unknown:
        problems.append(f"unexpected properties {unknown} (rpcStatus has code, message, details)")
    return problems


def connect_error_problems(exchange: Exchange) -> list[str]:
    """What is wrong with a Connect error object and its code/HTTP pairing (ZTD-T01, Connect sheet §3)."""
    data = exchange.json_or_none()
    if not isinstance(data, dict):
        return ["the body is not a JSON object"]
    problems = []
    code = data.get("code")
    if code not in CONNECT_CODES:
        problems.append(f"`code` must be one of the 16 Connect code strings, got {code!r}")
    elif HTTP_OF_GRPC[CONNECT_CODES[code]] != exchange.status:
        problems.append(
            f"Connect code {code} maps to HTTP {HTTP_OF_GRPC[CONNECT_CODES[code]]}, but the status is "
            f"{exchange.status}"
        )
    if "message" in data and not isinstance(data["message"], str):
        problems.append(f"`message` must be a string, got {data['message']!r}")
    details = data.get("details", [])
    if not isinstance(details, list) or not all(
        isinstance(d, dict) and isinstance(d.get("type"), str) and _is_base64(d.get("value")) for d in details
    ):
        problems.append(
            f"`details` must be a list of {{type, value (base64), debug?}} objects, got {details!r}"
        )
    unknown = sorted(set(data) - {"code", "message", "details"})
    if unknown:
        problems.append(f"unexpected properties {unknown} (a Connect error has code, message, details)")
    return problems


def connect_detail_types(exchange: Exchange) -> list[str]:
    """The ``details[].type`` of a Connect error that carry a ``type.googleapis.com/`` prefix (C05)."""
    data = exchange.json_or_none()
    details = data.get("details") if isinstance(data, dict) else None
    return [
        d["type"]
        for d in details or []
        if isinstance(d, dict) and isinstance(d.get("type"), str) and "/" in d["type"]
    ]


def _is_base64(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        unb64(value)
    except (binascii.Error, ValueError):
        return False
    return True


def mentions(exchange: Exchange, error_id: str) -> bool:
    """True when an error answer names ``error_id`` in its message or in a detail."""
    _, message, details = error_status(exchange)
    if error_id in message:
        return True
    if any(isinstance(d, dict) and error_id in json.dumps(d) for d in details):
        return True
    # Connect: the ID may be only in the binary detail (`value`), `debug` being optional (C06)
    return any(
        isinstance(d, dict) and _is_base64(d.get("value")) and error_id.encode() in unb64(d["value"])
        for d in details
    )


# --- protojson output (ZTD-R07, ZTD-R08) ---------------------------------------------------------


def walk(value: Any, path: str = "") -> Iterator[tuple[str, str | None, Any]]:
    """Yield (path, key, value) for every node below ``value``; free-form maps are not entered."""
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}/{key}"
            yield child_path, key, child
            if key not in FREE_FORM_KEYS:
                yield from walk(child, child_path)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield f"{path}/{index}", None, child
            yield from walk(child, f"{path}/{index}")


def protojson_problems(body: Any) -> tuple[list[str], list[str]]:
    """Problems with a response body as protojson output: (format problems R07, null/zero problems R08)."""
    formats: list[str] = []
    zeros: list[str] = []
    for path, key, value in walk(body):
        if value is None:
            zeros.append(f"{path} is null")
            continue
        if key is not None and key != "@type" and not _CAMEL.match(key):
            formats.append(f"{path}: property name {key!r} is not lowerCamelCase")
        if key in INT64_KEYS:
            if not isinstance(value, str):
                formats.append(f"{path}: 64-bit integer must be a decimal string, got {value!r}")
            elif not re.fullmatch(r"\d+", value):
                formats.append(f"{path}: 64-bit integer string is not decimal: {value!r}")
            elif int(value) == 0:
                zeros.append(f"{path} is zero ({value!r}); protojson omits zero values")
        elif key in TIMESTAMP_KEYS:
            if not isinstance(value, str) or not _RFC3339_Z.match(value):
                formats.append(
                    f"{path}: timestamp must be RFC 3339 in UTC with `Z` and 0/3/6/9 fraction "
                    f"digits, got {value!r}"
                )
        elif key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if not isinstance(meta_value, str) or not _STD_BASE64.match(meta_value):
                    formats.append(
                        f"{path}/{meta_key}: bytes must be standard padded base64, got {meta_value!r}"
                    )
        if value == [] and key not in FREE_FORM_KEYS:
            zeros.append(f"{path} is an empty list; protojson omits empty repeated fields")
        if value is False:
            zeros.append(f"{path} is false; protojson omits false")
    for path, _key, _value in _free_form_nulls(body):
        zeros.append(f"{path} is null")
    return formats, zeros


def _free_form_nulls(body: Any, path: str = "") -> Iterator[tuple[str, str | None, Any]]:
    """Nulls inside free-form maps, which :func:`walk` does not enter."""
    if isinstance(body, dict):
        for key, child in body.items():
            if key in FREE_FORM_KEYS:
                for sub_path, sub_key, sub_value in _all_nodes(child, f"{path}/{key}"):
                    if sub_value is None:
                        yield sub_path, sub_key, sub_value
            else:
                yield from _free_form_nulls(child, f"{path}/{key}")
    elif isinstance(body, list):
        for index, child in enumerate(body):
            yield from _free_form_nulls(child, f"{path}/{index}")


def _all_nodes(value: Any, path: str) -> Iterator[tuple[str, str | None, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield f"{path}/{key}", key, child
            yield from _all_nodes(child, f"{path}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield f"{path}/{index}", None, child
            yield from _all_nodes(child, f"{path}/{index}")


def expect_protojson(exchange: Exchange) -> None:
    """Fail ZTD-R07 / ZTD-R08 when a successful answer is not canonical protojson output."""
    body = exchange.json_or_none()
    formats, zeros = protojson_problems(body)
    expect(
        "ZTD-R08",
        not zeros,
        "response contains null or zero values protojson would omit: "
        + "; ".join(zeros)
        + f" — in {shown(exchange)}",
        evidence=exchange,
    )
    expect(
        "ZTD-R07",
        not formats,
        "response is not protojson-formatted: " + "; ".join(formats) + f" — in {shown(exchange)}",
        evidence=exchange,
    )


# --- comparing the two APIs (ZTD-X01) ------------------------------------------------------------


def normalised(value: Any) -> Any:
    """A body with the values that legitimately differ between two runs replaced by placeholders."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            if key in TIMESTAMP_KEYS:
                out[key] = "<timestamp>"
            elif key in INT64_KEYS:
                out[key] = "<int64>"
            elif key in ("sessionToken", "sessionId", "id", "resourceOwner"):
                out[key] = f"<{key}>"
            elif key == "message":
                out[key] = "<message>"
            elif key == "ids" and isinstance(child, list):
                out[key] = ["<id>" for _ in child]
            else:
                out[key] = normalised(child)
        return out
    if isinstance(value, list):
        return [normalised(child) for child in value]
    return value


def shape(value: Any) -> Any:
    """Keys and JSON types only (for comparing bodies whose values may differ)."""
    if isinstance(value, dict):
        return {key: shape(child) for key, child in sorted(value.items())}
    if isinstance(value, list):
        return [shape(child) for child in value]
    return type(value).__name__


def budget_value(budget: Profile | dict[str, Any], *names: str, default: int) -> int:
    """Read a number from the plugin's ``Profile`` whatever its exact attribute is called."""
    for name in names:
        value = getattr(budget, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        if isinstance(budget, dict) and isinstance(budget.get(name), int):
            return int(budget[name])
    return default


def chunks(items: Iterable[Any], size: int) -> list[list[Any]]:
    items = list(items)
    return [items[i : i + size] for i in range(0, len(items), size)]
