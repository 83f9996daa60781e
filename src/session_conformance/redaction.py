"""The one place where secrets and personal data are masked before anything is shown or written.

What is masked:

- bearer tokens (``Authorization`` and similar headers, ``Bearer xyz`` anywhere in text);
- session tokens, results access keys, access tokens, passwords, OTP codes, IdP-intent tokens
  (JSON keys, query parameters, ``key=value`` / ``"key": "value"`` fragments in text);
- launch URLs (``launchUrl``; step ``content`` when it is a URL or deeplink);
- identity data: every leaf value under ``identityData``, ``person``, ``knownIdentityData``,
  ``providerInput``, ``document``, ``address`` and the name / date-of-birth / national-ID keys, but
  for values that are not personal data (media types such as ``digitalCnhFileContentType``, the enum
  ``document.type``: ``is_plain_key``);
- every value registered in the per-run ``SECRETS`` registry (configured tokens, secrets seen in
  responses), wherever it appears later — exception messages included.

Values masked in JSON are registered automatically, so a token that was masked in one response is
also masked when it reappears in a URL, a cURL line or an assertion message.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter registered values would mask ordinary text
# A user agent's IP is personal data and masked where it stands, but a loopback address is nobody's and
# is the embedded target's host: remembered as a secret, it would mask every URL of the run.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@functools.lru_cache(maxsize=4096)
def _norm(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


# Keys whose scalar value is a secret.
SECRET_KEYS = frozenset(
    _norm(k)
    for k in (
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "token",
        "access_token",
        "accessToken",
        "id_token",
        "refresh_token",
        "bearer",
        "sessionToken",
        "session_token",
        "resultsAccessKey",
        "results_access_key",
        "idpIntentToken",
        "idp_intent_token",
        "password",
        "zitadel_password",
        "newPassword",
        "secret",
        "client_secret",
        "launchUrl",
        "launch_url",
        "otp",
        "totp",
        "credentialAssertionData",
        "publicKeyCredentialRequestOptions",
        "primary_token",
        "other_token",
    )
)
# Keys whose string value is an OTP code (an object value, as in a check request, is searched further).
CODE_KEYS = frozenset(_norm(k) for k in ("code", "otpSms", "otpEmail", "otp_sms", "otp_email"))
# Keys under which every leaf is personal data.
IDENTITY_KEYS = frozenset(
    _norm(k)
    for k in (
        "identityData",
        "identity_data",
        "person",
        "knownIdentityData",
        "providerInput",
        "provider_input",
        "document",
        "address",
        "attachmentAccessKeys",
        "givenName",
        "familyName",
        "middleName",
        "fullName",
        "firstName",
        "lastName",
        "suffix",
        "name",
        "displayName",
        "nickName",
        "loginName",
        "login_name",
        "zitadel_login_name",
        "email",
        "phone",
        "phoneNumber",
        "dateOfBirth",
        "date_of_birth",
        "birthDate",
        "nationalIdNumber",
        "nikIdNumber",
        "curp",
        "cpfNumber",
        "qrCodeText",
        "qrCodeImage",
        "photoBase64",
        "digitalCnhFile",
        "facialBiometryPhoto",
        "gender",
        "sex",
        "nationality",
    )
)
# Keys whose string value stays readable inside identity objects (not personal data); a key that names
# personal data (``sex``, ``gender``) is never one of these, whatever its values look like.
PLAIN_KEYS = frozenset(_norm(k) for k in ("type", "documentType", "contentType", "mediaType", "mimeType"))
PLAIN_KEY_ENDINGS = ("contenttype", "mediatype", "mimetype")
# Query parameters masked in URLs.
SECRET_PARAMS = SECRET_KEYS | frozenset(_norm(k) for k in ("code", "key", "sig", "signature"))

_HEADER_LINE = re.compile(r"(?im)^(\s*(?:proxy-)?authorization\s*:\s*)(?:(\w+)\s+)?(\S+)")
_CURL_AUTH = re.compile(r"(?i)(-H\s+['\"]?(?:proxy-)?authorization\s*:\s*)(?:(\w+)\s+)?([^'\"\s]+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=:-]{2,})")
_KEY_NAMES = sorted(
    {
        "sessionToken",
        "session_token",
        "resultsAccessKey",
        "results_access_key",
        "idpIntentToken",
        "idp_intent_token",
        "password",
        "access_token",
        "accessToken",
        "token",
        "launchUrl",
        "launch_url",
        "secret",
        "client_secret",
    },
    key=len,
    reverse=True,
)
_KEY_ALT = "|".join(re.escape(k) for k in _KEY_NAMES)
_JSON_PAIR = re.compile(rf'(?i)(["\']?(?:{_KEY_ALT})["\']?\s*:\s*)("(?:[^"\\]|\\.)*"|\'[^\']*\')')
# Identity leaves quoted in free text (e.g. a response body inside an assertion message); short values
# such as a two-letter given name are not in the registry (MIN_SECRET_LENGTH), so mask them by key.
_IDENTITY_LEAVES = sorted(
    (
        "givenName",
        "familyName",
        "middleName",
        "fullName",
        "firstName",
        "lastName",
        "suffix",
        "displayName",
        "loginName",
        "login_name",
        "email",
        "phoneNumber",
        "dateOfBirth",
        "nationalIdNumber",
        "nikIdNumber",
        "curp",
        "cpfNumber",
        "gender",
        "nationality",
        "line1",
        "line2",
        "line3",
        "city",
        "postalCode",
        "number",
    ),
    key=len,
    reverse=True,
)
_IDENTITY_ALT = "|".join(re.escape(k) for k in _IDENTITY_LEAVES)
_IDENTITY_PAIR = re.compile(rf'(?i)(["\']?\b(?:{_IDENTITY_ALT})["\']?\s*:\s*)("(?:[^"\\]|\\.)*"|\'[^\']*\')')
_QUERY_PAIR = re.compile(rf"(?i)(?<![\w-])((?:{_KEY_ALT})=)([^&\s'\"#]+)")
_URLISH = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


class SecretRegistry:
    """Secret values seen during this run; ``redact_text`` masks each of them wherever it appears.

    ``mask`` replaces every occurrence (leftmost first, the longest secret at a position) with ``MASK``.
    The registry grows all run long (every token, key and identity value seen), so ``mask`` does not
    compile one alternation of all values: it looks up the values whose first ``MIN_SECRET_LENGTH``
    characters occur in the text and substitutes only those (same result: a value can only match where
    its prefix occurs); the small patterns are cached.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._by_prefix: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, value: object) -> None:
        if not isinstance(value, str):
            return
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH or value == MASK or value in self._values:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._by_prefix.setdefault(value[:MIN_SECRET_LENGTH], []).append(value)

    def update(self, values: Iterable[object]) -> None:
        for value in values:
            self.add(value)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._by_prefix.clear()

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)

    def _candidates(self, text: str) -> list[str]:
        size = MIN_SECRET_LENGTH
        with self._lock:
            by_prefix = self._by_prefix
            if len(by_prefix) * 4 < len(text):
                prefixes = [prefix for prefix in by_prefix if prefix in text]
            else:
                grams = {text[i : i + size] for i in range(len(text) - size + 1)}
                prefixes = [prefix for prefix in grams if prefix in by_prefix]
            return [value for prefix in prefixes for value in by_prefix[prefix] if value in text]

    def mask(self, text: str) -> str:
        if not self._values or len(text) < MIN_SECRET_LENGTH:
            return text
        candidates = self._candidates(text)
        if not candidates:
            return text
        return _alternation(tuple(sorted(candidates, key=len, reverse=True))).sub(MASK, text)


@functools.lru_cache(maxsize=2048)
def _alternation(values: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(v) for v in values))


SECRETS = SecretRegistry()


def register_secret(*values: object) -> None:
    """Remember values to be masked anywhere they appear from now on (tokens, keys, passwords)."""
    SECRETS.update(values)


def is_secret_key(key: str) -> bool:
    return _norm(key) in SECRET_KEYS


def is_plain_key(key: str) -> bool:
    """A key whose value is not personal data even inside an identity object: a media type
    (``digitalCnhFileContentType``) or an enum value naming a kind of thing (``document.type``)."""
    norm = _norm(key)
    return norm in PLAIN_KEYS or norm.endswith(PLAIN_KEY_ENDINGS)


def _mask_leaves(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: redact_text(v) if isinstance(v, str) and is_plain_key(str(k)) else _mask_leaves(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mask_leaves(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    if not (isinstance(value, str) and value.strip() in LOOPBACK):
        register_secret(value if isinstance(value, str) else None)
    return MASK


def looks_like_secret(value: str) -> bool:
    """Long and random enough to be a token, key or password: not a word, an enum value or a media type.

    Values under secret keys are masked in place whatever they are; only these are also remembered and
    masked wherever they appear later (generated inputs put words like "with" under ``password``).
    """
    text = value.strip()
    if len(text) < 8 or any(c.isspace() for c in text):
        return False
    classes = sum(
        (
            any(c.islower() for c in text),
            any(c.isupper() for c in text),
            any(c.isdigit() for c in text),
            any(not c.isalnum() for c in text),
        )
    )
    return any(c.isdigit() for c in text) or classes >= 3


def _credential(value: str) -> bool:
    """After "Bearer": a credential, not prose such as "an unknown bearer token"."""
    return looks_like_secret(value) or len(value) >= 20


def _mask_scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (Mapping, list)):
        return _mask_leaves(value)
    if isinstance(value, str) and looks_like_secret(value):
        register_secret(value)
    return MASK


def _masker(key: str, item: Any) -> Callable[[Any], Any] | None:
    """How the value under ``key`` is masked (registering its secrets), or None: not a secret's key."""
    norm = _norm(key)
    if norm in SECRET_KEYS:
        return _mask_scalar
    if norm in IDENTITY_KEYS:
        return _mask_leaves
    if isinstance(item, str) and (norm in CODE_KEYS or (norm == "content" and _URLISH.match(item))):
        return _mask_scalar
    return None


def redact_json(value: Any, *, _key: str | None = None) -> Any:
    """A copy of a JSON value with secrets and identity data masked (structure, nulls and booleans kept)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            masker = _masker(str(key), item)
            out[key] = masker(item) if masker else redact_json(item, _key=str(key))
        return out
    if isinstance(value, list):
        return [redact_json(item, _key=_key) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def remember_secrets(value: Any) -> None:
    """Register the secrets of a JSON value (what ``redact_json`` would mask) without masking anything.

    The client calls this on every response so that later renderings mask what it carried; building the
    masked copy there (and masking every string against the registry) cost a tenth of a run's CPU.
    """
    if isinstance(value, Mapping):
        for key, item in value.items():
            masker = _masker(str(key), item)
            if masker:
                masker(item)  # registers what it masks; the masked value itself is not needed
            else:
                remember_secrets(item)
    elif isinstance(value, list):
        for item in value:
            remember_secrets(item)


def _keep_scheme(m: re.Match[str]) -> str:
    return f"{m.group(1)}{(m.group(2) + ' ') if m.group(2) else ''}{MASK}"


def redact_text(text: str) -> str:
    """Mask registered secrets, bearer tokens and ``key: value`` / ``key=value`` secrets in free text."""
    if not text:
        return text
    # lone surrogates (generated inputs) cannot be written as UTF-8 by report writers
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = SECRETS.mask(text)
    # Most strings (every leaf of a masked body) hold neither ":" nor "=", which all patterns but the
    # bearer one need: skipping them halves the cost of masking a body (docs/decisions/bench.md F12).
    colon = ":" in text
    if colon:
        text = _HEADER_LINE.sub(_keep_scheme, text)
        text = _CURL_AUTH.sub(_keep_scheme, text)
    text = _BEARER.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{MASK}" if _credential(m.group(3)) else m.group(0), text
    )
    if colon:
        text = _JSON_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)[0]}{MASK}{m.group(2)[0]}", text)
        text = _IDENTITY_PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)[0]}{MASK}{m.group(2)[0]}", text)
    if "=" in text:
        text = _QUERY_PAIR.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return text


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers with secret values masked; the scheme of ``Authorization`` is kept (``Bearer ***``)."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        if _norm(name) in SECRET_KEYS:
            scheme, _, credential = str(value).partition(" ")
            if credential and name.lower() in ("authorization", "proxy-authorization"):
                register_secret(credential)
                out[name] = f"{scheme} {MASK}"
            else:
                register_secret(value)
                out[name] = MASK
        else:
            out[name] = redact_text(str(value))
    return out


def redact_url(url: str) -> str:
    """A URL with secret query parameters (``sessionToken=...``) and registered secrets masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if parts.query:
        pairs = []
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            if _norm(key) in SECRET_PARAMS or _norm(key) in IDENTITY_KEYS:
                register_secret(value)
                value = MASK
            pairs.append((key, value))
        query = urlencode(pairs, safe="*")
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
    return redact_text(url)


def redact_body(body: bytes | str | None, content_type: str | None = None) -> str:
    """A request or response body as masked text (JSON re-serialised with masks, other text masked)."""
    if body is None:
        return ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    if not text.strip():
        return text
    try:
        return json.dumps(redact_json(json.loads(text)), ensure_ascii=False)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to walk
        return redact_text(text)


def redact(value: Any) -> Any:
    """Mask anything: text, a JSON-like value, headers (a mapping of strings) or bytes."""
    if isinstance(value, bytes):
        return redact_body(value)
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, (Mapping, list)):
        return redact_json(value)
    return value
