"""protojson on the wire for the embedded Zitadel server: errors, decoding request fields, formatting.

Decoding follows grpc-gateway + protojson as Zitadel configures them (fact sheet §1.2): JSON or proto
field names, ``null`` = unset, unknown keys ignored, 64-bit integers as string or number, enums by
name or number, two members of one oneof refused. Every problem is an :class:`ApiError`, so nothing
a client sends can surface as a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.responses import Response

ERROR_DETAIL_TYPE = "type.googleapis.com/zitadel.v1.ErrorDetail"
CREDENTIALS_CHECK_ERROR_TYPE = "type.googleapis.com/zitadel.v1.CredentialsCheckError"

# gRPC code -> HTTP status (grpc-gateway HTTPStatusFromCode)
HTTP_OF_CODE = {
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}
# HTTP status -> gRPC code, for errors raised by HTTP status (routing, app.py); 405 is Zitadel's override
CODE_OF_HTTP = {
    400: 3,
    401: 16,
    403: 7,
    404: 5,
    405: 12,
    409: 6,
    429: 8,
    499: 1,
    500: 13,
    501: 12,
    503: 14,
    504: 4,
}
INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION = 3, 5, 7, 9
UNIMPLEMENTED, INTERNAL, UNAUTHENTICATED = 12, 13, 16

MAX_DURATION_SECONDS = 315_576_000_000  # protobuf Duration range
MAX_TIMESTAMP_NS = 253_402_300_799_999_999_999  # 9999-12-31T23:59:59.999999999Z
MAX_MESSAGE = 300  # messages never echo a huge input back


class ApiError(Exception):
    """Stop handling the request and answer an ``rpcStatus``.

    ``error_id`` set: a service error (message gets `` (ID)``, one ErrorDetail in ``details``).
    ``error_id`` None: a gateway, decoding, validation or interceptor error (no ``details``).
    """

    def __init__(self, code: int, message: str, error_id: str | None = None, *, validation: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
        self.error_id = error_id
        self.validation = validation  # a PGV failure (a fault may decorate these)
        self.failed_attempts: int | None = None  # a wrong password: the user's failed attempts so far

    def body(self) -> dict[str, Any]:
        if self.error_id is None:
            return {"code": self.code, "message": self.message}
        detail: dict[str, Any] = {"@type": ERROR_DETAIL_TYPE, "message": self.message}
        message = self.message
        if self.error_id:  # protojson omits an empty ID, and Zitadel adds " (ID)" only when set
            detail = {"@type": ERROR_DETAIL_TYPE, "id": self.error_id, "message": self.message}
            message = f"{self.message} ({self.error_id})"
        return {"code": self.code, "message": message, "details": [detail]}

    @property
    def status(self) -> int:
        return HTTP_OF_CODE.get(self.code, 500)


def bad(message: str) -> ApiError:
    """A body protojson cannot decode (grpc-gateway answers InvalidArgument without details)."""
    return ApiError(INVALID_ARGUMENT, message)


def invalid(message: str) -> ApiError:
    """A PGV rule violation: ``invalid <Message>.<Field>: <reason>``, code 3, no details."""
    return ApiError(INVALID_ARGUMENT, f"invalid {message}", validation=True)


def dumps(payload: Any) -> bytes:
    # ensure_ascii: output is always encodable whatever strings a client managed to store
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return raw_response(dumps(payload), status, headers)


def raw_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


# --- request bodies ------------------------------------------------------------------------------


class OddInput(Exception):
    """Invalid UTF-8 or a lone surrogate: a 400, kept apart so that a fault can turn it into a 500."""


class Malformed(Exception):
    """Not JSON text at all: a 400, kept apart so that a fault can turn it into a 500."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise bad(f'proto: syntax error: duplicate field "{key[:80]}"')
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise bad(f"proto: syntax error: invalid value {name}")


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body means every field unset."""
    if not raw.strip(b" \t\r\n"):  # JSON whitespace only: a vertical tab or form feed is a syntax error
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OddInput("proto: invalid UTF-8 in the request body") from None
    try:
        payload = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except ApiError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digits limit, deep nesting
        raise Malformed("proto: syntax error: the request body is not valid JSON") from exc
    if "\\u" in text or "\\U" in text:  # only escapes can smuggle in a lone surrogate
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise OddInput("proto: invalid UTF-8 in a string (lone surrogate)") from None
    if not isinstance(payload, dict):
        raise bad("proto: syntax error: the request body must be a JSON object")
    return payload


def snake(name: str) -> str:
    """protoc's JSON name back to the proto name: ``webAuthN`` -> ``web_auth_n``."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


class Msg:
    """A JSON object read as one protobuf message (``where`` names it in error messages)."""

    __slots__ = ("raw", "where")

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def get(self, name: str) -> Any:
        value = self.raw.get(name)
        proto = snake(name)
        if proto != name:
            other = self.raw.get(proto)
            if other is not None:
                if value is not None:
                    raise bad(f'proto: ({self.where}) duplicate field "{proto}"')
                return other
        return value

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def _type_error(self, name: str, wanted: str) -> ApiError:
        return bad(f"proto: ({self.where}.{name}) invalid value for {wanted}")

    def string(self, name: str) -> str | None:
        value = self.get(name)
        if value is not None and not isinstance(value, str):
            raise self._type_error(name, "string field")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is not None and not isinstance(value, bool):
            raise self._type_error(name, "bool field")
        return value

    def message(self, name: str, type_name: str) -> Msg | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._type_error(name, f"message {type_name}")
        return Msg(value, type_name)

    def struct(self, name: str) -> dict[str, Any] | None:
        value = self.get(name)
        if value is not None and not isinstance(value, dict):
            raise self._type_error(name, "google.protobuf.Struct")
        return value

    def messages(self, name: str, type_name: str) -> list[Msg]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self._type_error(name, f"repeated {type_name}")
        return [Msg(item, type_name) for item in value]

    def strings(self, name: str) -> list[str]:
        value = self.get(name)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._type_error(name, "repeated string")
        return value

    def enum(self, name: str, values: dict[str, int]) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            if value not in values:
                raise bad(f"proto: ({self.where}.{name}) invalid value for enum: {value[:80]!r}")
            return values[value]
        if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
            return value  # open enums: any int32 number decodes (PGV may refuse it afterwards)
        raise self._type_error(name, "enum")

    def uint(self, name: str, bits: int) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, float) and value.is_integer()) or (
            isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value)
        ):
            number = int(value)
        if number is None or not 0 <= number < 2**bits:
            raise self._type_error(name, f"uint{bits} field")
        return number

    def duration(self, name: str) -> int | None:
        """A ``google.protobuf.Duration`` in nanoseconds."""
        value = self.get(name)
        if value is None:
            return None
        match = (
            re.fullmatch(r"(-?)([0-9]{1,12})(?:\.([0-9]{1,9}))?s", value) if isinstance(value, str) else None
        )
        if match is None:
            raise self._type_error(name, "google.protobuf.Duration")
        sign, whole, fraction = match.groups()
        if int(whole) > MAX_DURATION_SECONDS:
            raise bad(f"proto: ({self.where}.{name}) google.protobuf.Duration value out of range")
        ns = int(whole) * 1_000_000_000 + int((fraction or "").ljust(9, "0"))
        return -ns if sign else ns

    def timestamp(self, name: str) -> int | None:
        """A ``google.protobuf.Timestamp`` in nanoseconds since the epoch."""
        value = self.get(name)
        if value is None:
            return None
        ns = parse_timestamp(value) if isinstance(value, str) else None
        if ns is None:
            raise self._type_error(name, "google.protobuf.Timestamp")
        return ns

    def bytes_map(self, name: str) -> dict[str, bytes] | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._type_error(name, "map<string, bytes>")
        out: dict[str, bytes] = {}
        for key, item in value.items():
            decoded = decode_base64(item) if isinstance(item, str) else None
            if decoded is None:
                raise bad(f"proto: ({self.where}.{name}) invalid value for bytes field (base64)")
            out[key] = decoded
        return out


_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: str) -> int | None:
    match = _TIMESTAMP.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        offset = timedelta(0)
        if zone != "Z":
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            offset = timedelta(hours=hours, minutes=minutes) * (1 if zone[0] == "+" else -1)
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=timezone(offset)
        )
        delta = moment - _EPOCH
    except (ValueError, OverflowError):
        return None
    seconds = delta.days * 86_400 + delta.seconds
    if not -62_135_596_800 <= seconds <= 253_402_300_799:  # 0001-01-01 .. 9999-12-31 (UTC)
        return None
    return seconds * 1_000_000_000 + int((fraction or "").ljust(9, "0"))


_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


def decode_base64(text: str) -> bytes | None:
    """protojson ``bytes``: standard or URL-safe alphabet, padded or not."""
    if not _BASE64.fullmatch(text):
        return None
    url = "-" in text or "_" in text
    if url and ("+" in text or "/" in text):
        return None
    body = text.rstrip("=")
    if (len(body) != len(text) and len(text) % 4) or len(body) % 4 == 1:
        return None
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if url else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def oneof(msg: Msg, *names: str) -> str | None:
    """The one member of a oneof that is set; two set members cannot be decoded."""
    present = [name for name in names if msg.has(name)]
    if len(present) > 1:
        raise bad(f"proto: ({msg.where}) oneof fields {present[0]} and {present[1]} are both set")
    return present[0] if present else None


# --- formatting ----------------------------------------------------------------------------------


def format_timestamp(ns: int) -> str:
    """RFC 3339 UTC with ``Z`` and 0, 3, 6 or 9 fraction digits, as protojson writes it."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos == 0:
        return base + "Z"
    if nanos % 1_000_000 == 0:
        return f"{base}.{nanos // 1_000_000:03d}Z"
    if nanos % 1000 == 0:
        return f"{base}.{nanos // 1000:06d}Z"
    return f"{base}.{nanos:09d}Z"


def encode_base64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
