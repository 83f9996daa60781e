"""Request plumbing of the embedded Trinsic server: JSON in and out, ProblemDetails, body reading.

Kept apart from the operations so that ``trinsic/__init__.py`` reads as the API's behaviour.
"""

from __future__ import annotations

import json
import secrets
from contextvars import ContextVar
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

MAX_BODY_BYTES = 1 << 20  # base64 photos fit; anything larger is a 400 (no 413 is documented)
MAX_STRING = 4096  # longest string accepted in a request body field we use
MAX_DETAIL = 300  # ProblemDetails.detail is cut here: never echo a huge input back
QUOTE_CHARS = 60  # a quoted request value (variant trn-detail-quotes-request) is cut here

# The longest string accepted in a body field for the request being served (None: no limit, the
# variant trn-no-max-length); set per request by the Trinsic endpoint wrapper.
STRING_LIMIT: ContextVar[int | None] = ContextVar("trinsic_string_limit", default=MAX_STRING)

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}
_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    413: "https://tools.ietf.org/html/rfc9110#section-15.5.14",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
}


class Invalid(Exception):  # control flow inside the server, not a server error
    """Stop handling the request and answer a ProblemDetails with this status."""

    def __init__(self, status: int, detail: str, *, quote: str | None = None, field: str = "body") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.quote = quote  # what the caller sent, for a detail that quotes the request
        self.field = field  # where the problem is, for an HttpValidationProblemDetails errors map


# One encoder for the process: json.dumps with arguments builds a new encoder on every call.
# ensure_ascii: a lone surrogate that slipped into a value can never make encoding fail (500).
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)


def dumps(payload: Any) -> bytes:
    return _ENCODER.encode(payload).encode("ascii")


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type="application/json")


def problem(status: int, detail: str, *, errors: dict[str, list[str]] | None = None) -> Response:
    """An RFC 7807 ProblemDetails answer, as ASP.NET Core writes them.

    With ``errors`` it is an HttpValidationProblemDetails as ASP.NET's model validation writes it
    (fact sheet 3.22): an ``errors`` map and a ``traceId``, and no ``detail``.
    """
    if len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    body: dict[str, Any] = {"title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    if errors is not None:
        body = {
            "title": "One or more validation errors occurred.",
            "status": status,
            "errors": errors,
            "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
        }
    if status in _TYPES:
        body = {"type": _TYPES[status], **body}
    return Response(dumps(body), status_code=status, media_type="application/problem+json")


def quoted(text: str) -> str:
    """A request value as a detail quotes it: cut, and never longer than QUOTE_CHARS."""
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1] + "…"
    return json.dumps(text, ensure_ascii=True)


def unauthorized(token_given: bool, *, problem_body: bool = False) -> Response:
    """401 without a body, with the challenge ASP.NET's JWT bearer handler sends (A-02).

    ``problem_body`` (variant trn-auth-problem-body): 401 without a token, 403 with one the server
    does not know, both with a ProblemDetails body and no ``WWW-Authenticate``.
    """
    if problem_body:
        if token_given:
            return problem(403, "The access token is not valid for this API.")
        return problem(401, "An access token is required.")
    challenge = 'Bearer error="invalid_token"' if token_given else "Bearer"
    return Response(b"", status_code=401, headers={"WWW-Authenticate": challenge})


def is_json_media_type(content_type: str | None) -> bool:
    """``application/json``, ``text/json`` and ``application/*+json``, parameters ignored."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("application/json", "text/json"):
        return True
    return media.startswith("application/") and media.endswith("+json") and "/" not in media[12:]


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Invalid(400, f"the request body must not exceed {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Invalid(400, f"the request body must not exceed {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(raw: bytes, content_type: str | None) -> dict[str, Any]:
    """The body as a JSON object, or ``Invalid`` (400)."""
    if not is_json_media_type(content_type):
        # 400, not 415: the API documents only 200/400/401/403/500 (+404 by choice) for every operation
        raise Invalid(400, "the request body must be application/json, text/json or application/*+json")
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
        # A lone surrogate ("\ud800") decodes fine but is not text; refuse it here, once.
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeError):
        raise Invalid(400, "the request body is not valid JSON text") from None
    if not isinstance(payload, dict):
        raise Invalid(400, "the request body must be a JSON object")
    return payload


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN/Infinity; JSON does not


# --- typed field access: every wrong type is a 400, never an exception further down ---------------


def opt_str(body: dict[str, Any], key: str, *, where: str = "") -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(400, f"{where}{key} must be a string", field=f"{where}{key}")
    limit = STRING_LIMIT.get()
    if limit is not None and len(value) > limit:
        raise Invalid(400, f"{where}{key} must not be longer than {limit} characters", field=f"{where}{key}")
    return value


def req_str(body: dict[str, Any], key: str) -> str:
    value = opt_str(body, key)
    if not value:
        raise Invalid(400, f"{key} is required and must be a non-empty string", field=key)
    return value


def opt_bool(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise Invalid(400, f"{key} must be a boolean")
    return value


def opt_object(body: dict[str, Any], key: str, *, where: str = "") -> dict[str, Any] | None:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise Invalid(400, f"{where}{key} must be an object")
    return value


def opt_str_list(body: dict[str, Any], key: str, *, max_items: int = 100) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(400, f"{key} must be an array of strings")
    if len(value) > max_items:
        raise Invalid(400, f"{key} must not have more than {max_items} items")
    return value


def check_string_fields(value: dict[str, Any], where: str, nested: tuple[str, ...] = ()) -> None:
    """Every property is a string or null, except the ``nested`` ones (objects, checked the same way)."""
    for key in value:
        if key in nested:
            sub = opt_object(value, key, where=where)
            if sub is not None:
                check_string_fields(sub, f"{where}{key}.")
        else:
            opt_str(value, key, where=where)
